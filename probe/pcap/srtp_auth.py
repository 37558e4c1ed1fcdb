"""SRTP authentication of captured packets with keys the user holds, and the key file.

Keys come from two places: SDES `a=crypto` lines seen in cleartext SIP in the same
capture (probe.pcap.media_sdp), and a key file given with `--srtp-keys`. Either way they
live in memory for the audit only: probe.sdp.Crypto hides the key in its repr, errors
name a line number and never its text, and the evidence records suites, never keys.

Authentication is what `media.srtp` does live (probe.net.media): libsrtp, through the
`[srtp]` extra's pylibsrtp, unprotects each packet with the key; a packet that passes
was made by someone holding that key (RFC 3711 §3.4, §4.2). A failure is either another
key or not SRTP made with it; libsrtp's replay refusals (a packet captured twice, or
older than its window) are counted apart, since they say nothing about the key.

The key file is text, one key a line, `#` starting a comment::

    # ADDRESS:PORT  the a=crypto value of the SDP that announced ADDRESS:PORT
    192.0.2.10:40000 1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>
    [2001:db8::7]:50000 a=crypto:1 AEAD_AES_128_GCM inline:<base64 key||salt>

ADDRESS:PORT is the `c=` address and `m=` port of the SDP the crypto line was in: the
key protects the media that party sends (RFC 4568 §6.1), which with symmetric RTP
(RFC 4961) comes from that address and port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.errors import ProbeError
from probe.sdp import Crypto, SdpError, parse_crypto

__all__ = [
    "AUTH_SUITES",
    "KeyFileError",
    "SrtpKey",
    "SrtpLibrary",
    "StreamAuth",
    "load_key_file",
    "parse_key_file",
]

# pylibsrtp's profile for each SDES suite libsrtp implements (as probe.net.media).
_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}
AUTH_SUITES = tuple(_PROFILES)
_MAX_KEYS = 4
"""Keys tried on one stream (a re-INVITE may re-key it; more is not a real call)."""
_REPLAY_WINDOW = 1024
"""Packets libsrtp accepts out of order: a capture can reorder more than its default 128."""
_MAX_KEY_FILE = 1024 * 1024
_MAX_FILE_KEYS = 10_000


class KeyFileError(ProbeError):
    """A key file that cannot be used, said without quoting a key."""


@dataclass(frozen=True, slots=True)
class SrtpKey:
    """A key from the key file: it protects what is sent from `endpoint`."""

    endpoint: tuple[bytes, int]
    crypto: Crypto = field(repr=False)


def _endpoint(text: str) -> tuple[bytes, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) <= 65535:
        return None
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(host).packed, int(port)
    except ValueError:
        return None


def parse_key_file(text: str, name: str) -> tuple[SrtpKey, ...]:
    """The keys of a key file's text; KeyFileError names the line that is wrong."""
    keys: list[SrtpKey] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where, _, value = line.partition(" ")
        endpoint = _endpoint(where)
        if endpoint is None:
            raise KeyFileError(
                f"{name} line {number}: does not start with ADDRESS:PORT (an IP address, "
                "IPv6 in brackets, and a port)"
            )
        value = value.strip()
        if value.lower().startswith("a=crypto:"):
            value = value[len("a=crypto:") :]
        try:
            crypto = parse_crypto(value)
        except SdpError as exc:  # its message never quotes the line
            raise KeyFileError(f"{name} line {number}: {exc}") from None
        keys.append(SrtpKey(endpoint, crypto))
        if len(keys) > _MAX_FILE_KEYS:
            raise KeyFileError(f"{name}: more than {_MAX_FILE_KEYS} keys")
    if not keys:
        raise KeyFileError(f"{name}: no key in it (one `ADDRESS:PORT a=crypto-value` a line)")
    return tuple(keys)


def load_key_file(path: Path) -> tuple[SrtpKey, ...]:
    try:
        with path.open("rb") as source:
            data = source.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path} is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError(f"{path}: larger than {_MAX_KEY_FILE} bytes: not a key file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text") from None
    return parse_key_file(text, str(path))


class SrtpLibrary:
    """pylibsrtp, loaded the first time a key is to be used; `problem` says why not."""

    def __init__(self) -> None:
        self._module: Any = None
        self.problem: str | None = None
        self._tried = False

    def module(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                import pylibsrtp
            except ImportError:
                self.problem = (
                    "SRTP keys were held but the srtp extra is not installed: "
                    "pip install 'sipprobe[srtp]'"
                )
            else:
                self._module = pylibsrtp
        return self._module


def _usable(crypto: Crypto) -> str | None:
    if crypto.suite not in _PROFILES:
        return f"libsrtp cannot do {crypto.suite} (it does {', '.join(AUTH_SUITES)})"
    if crypto.mki is not None or crypto.extra_key_params:
        return "a key with an MKI, which pylibsrtp cannot use"
    params = ("UNENCRYPTED_SRTP", "UNAUTHENTICATED_SRTP", "KDR=")
    if any(param.startswith(params) for param in crypto.session_params):
        return "session parameters pylibsrtp cannot set (RFC 4568 §6.3)"
    return None


class StreamAuth:
    """The keys held for one RTP stream, tried on each of its packets. The key that
    authenticated the last packet is tried first."""

    __slots__ = (
        "_library",
        "_sessions",
        "authenticated",
        "failed",
        "problem",
        "replayed",
        "sources",
        "suite",
    )

    def __init__(self, library: SrtpLibrary) -> None:
        self._library = library
        self._sessions: list[tuple[Crypto, Any]] = []
        self.sources: set[str] = set()
        self.authenticated = 0
        self.failed = 0
        self.replayed = 0
        self.suite: str | None = None
        self.problem: str | None = None
        """Why none of its keys can be used."""

    @property
    def usable(self) -> bool:
        return bool(self._sessions)

    def add(self, keys: Iterable[tuple[str, Crypto]]) -> None:
        """More keys for it (`source`, key); a key already held is not added twice."""
        for source, crypto in keys:
            if len(self._sessions) >= _MAX_KEYS:
                return
            if any(
                held.key_salt == crypto.key_salt and held.suite == crypto.suite
                for held, _ in self._sessions
            ):
                self.sources.add(source)
                continue
            self.sources.add(source)
            self.suite = self.suite or crypto.suite
            why = _usable(crypto)
            if why is not None:
                self.problem = self.problem or why
                continue
            module = self._library.module()
            if module is None:
                self.problem = self._library.problem
                return
            policy = module.Policy(
                key=crypto.key_salt,
                ssrc_type=module.Policy.SSRC_ANY_INBOUND,
                srtp_profile=getattr(module.Policy, _PROFILES[crypto.suite]),
            )
            policy.window_size = _REPLAY_WINDOW
            self._sessions.append((crypto, module.Session(policy=policy)))
            self.problem = None

    def check(self, packet: bytes) -> None:
        """Authenticate one whole SRTP packet with each key until one passes."""
        replayed = False
        for index, (crypto, session) in enumerate(self._sessions):
            try:
                session.unprotect(packet)
            except Exception as exc:  # pylibsrtp.Error, with libsrtp's status text
                replayed = replayed or "replay" in str(exc)
                continue
            self.authenticated += 1
            self.suite = crypto.suite
            if index:
                self._sessions.insert(0, self._sessions.pop(index))
            return
        if replayed:
            self.replayed += 1
        else:
            self.failed += 1
