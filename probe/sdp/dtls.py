"""DTLS-SRTP attributes: ``a=fingerprint`` (RFC 8122 §5) and ``a=setup`` (RFC 4145 §4).

With DTLS-SRTP (RFC 5763, RFC 5764) no key travels in the SDP: the endpoints run a DTLS
handshake on the media path and check the peer's certificate against the fingerprint
the signalling carried.  The SDP side is therefore small: a well-formed fingerprint of
the right length for its hash, and a setup role saying who starts the handshake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._grammar import TOKEN_RE, excerpt
from .errors import SdpBuildError, SdpError

__all__ = ["HASH_DIGEST_BYTES", "SETUP_ROLES", "Fingerprint", "parse_fingerprint", "parse_setup"]

HASH_DIGEST_BYTES: Mapping[str, int] = MappingProxyType(
    {
        # RFC 8122 §5 hash-func names (the IANA "Hash Function Textual Names" registry)
        # and the digest size of each.
        "sha-1": 20,
        "sha-224": 28,
        "sha-256": 32,
        "sha-384": 48,
        "sha-512": 64,
        "md5": 16,
        "md2": 16,
    }
)
"""Digest bytes of each hash function a fingerprint may name."""

# Hashes too weak to bind a certificate (MD2, MD5: RFC 6151 and RFC 6149).
WEAK_HASHES = frozenset({"md2", "md5"})
# RFC 4145 §4: role = "active" / "passive" / "actpass" / "holdconn".
SETUP_ROLES = ("active", "passive", "actpass", "holdconn")
# RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX).  The ABNF says upper-case hex; lower
# case is accepted and normalised because DTLS stacks compare case-insensitively and
# refusing it would fail a negotiation that works.
_FINGERPRINT_RE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*")
# Longest digest in the table is 64 bytes; an unknown hash may not run beyond 128.
_MAX_DIGEST_BYTES = 128


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A certificate fingerprint: ``hash_function`` lower-cased (the ABNF literals are
    case-insensitive), ``value`` upper-case hex pairs joined by colons."""

    hash_function: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.hash_function, str) or not TOKEN_RE.fullmatch(self.hash_function):
            raise SdpBuildError(f"hash function {self.hash_function!r} is not a token")
        if self.hash_function != self.hash_function.lower():
            raise SdpBuildError(f"hash function {self.hash_function!r} must be lower case")
        if not isinstance(self.value, str) or not _FINGERPRINT_RE.fullmatch(self.value):
            raise SdpBuildError("fingerprint must be hex pairs separated by ':' (RFC 8122 §5)")
        if self.value != self.value.upper():
            raise SdpBuildError("fingerprint hex must be upper case (RFC 8122 §5)")
        size = len(self.digest)
        expected = HASH_DIGEST_BYTES.get(self.hash_function)
        if expected is not None and size != expected:
            raise SdpBuildError(
                f"a {self.hash_function} fingerprint has {expected} bytes, got {size}"
            )
        if size > _MAX_DIGEST_BYTES:
            raise SdpBuildError(f"a fingerprint of {size} bytes is longer than any hash")

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.value.replace(":", ""))

    @property
    def known_hash(self) -> bool:
        return self.hash_function in HASH_DIGEST_BYTES

    @property
    def weak_hash(self) -> bool:
        return self.hash_function in WEAK_HASHES

    def to_attribute_value(self) -> str:
        """The value after ``a=fingerprint:``."""
        return f"{self.hash_function} {self.value}"

    @classmethod
    def of(cls, hash_function: str, digest: bytes) -> Fingerprint:
        """The fingerprint of a certificate digest the caller computed."""
        return cls(hash_function.lower(), ":".join(f"{b:02X}" for b in digest))


def parse_fingerprint(value: str) -> Fingerprint:
    """``a=fingerprint:<hash-func> <fingerprint>`` (RFC 8122 §5), checked against the
    digest size of a known hash; an unknown hash parses (``known_hash`` is False)."""
    if not isinstance(value, str):
        raise SdpError("a=fingerprint has no value")
    hash_function, sep, hex_value = value.partition(" ")
    if not sep or not TOKEN_RE.fullmatch(hash_function):
        raise SdpError(f"a=fingerprint {excerpt(value)} is not <hash-func> <fingerprint>")
    if not _FINGERPRINT_RE.fullmatch(hex_value):
        raise SdpError(
            f"a=fingerprint value {excerpt(hex_value)} is not hex pairs separated by ':'"
            " (RFC 8122 §5)"
        )
    try:
        return Fingerprint(hash_function.lower(), hex_value.upper())
    except SdpBuildError as exc:
        raise SdpError(f"a=fingerprint: {exc.detail} (RFC 8122 §5)") from None


def parse_setup(value: str | None) -> str:
    """``a=setup:<role>`` (RFC 4145 §4); the role is returned as written."""
    if value not in SETUP_ROLES:
        raise SdpError(
            f"a=setup value {excerpt(str(value))} is not one of {', '.join(SETUP_ROLES)}"
            " (RFC 4145 §4)"
        )
    return value
