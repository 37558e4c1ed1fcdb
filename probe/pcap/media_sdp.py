"""The SDP seen in cleartext SIP, as media flows need it: where each stream was to go,
with which profile, and with which SDES keys (held in memory for the audit only).

Each body is read leniently, line by line (RFC 8866 §5): a capture holds what real
stacks sent, and a flow is worth tying to its m= line even when the rest of the body
would not pass the project's strict parser. Only `c=`, `m=` and the `a=crypto`,
`a=fingerprint` and `a=rtcp` lines are read.

Offers and answers are paired per Call-ID (RFC 3264 §5, §6): the first body of a call
is an offer, the next one from the other side its answer, m= line by m= line; a body
identical to the one pending (a retransmission, or the same message forwarded by a
proxy on a second leg) is not counted twice. Each m= line is registered under the
address and port it names, and under the next port for RTCP unless `a=rtcp-mux` or
`a=rtcp:` says otherwise (RFC 3605, RFC 5761 §5.1.1). Memory is bounded: calls and
addresses past their limits push out the oldest.

Keys: media sent *to* the answer's address is protected with the offerer's key, and
media sent to the offer's address with the answerer's (RFC 4568 §6.1, §7.1.2: each side
announces the key it sends with). A key never leaves this module but as a parsed
probe.sdp.Crypto handed to the authenticator, whose repr hides it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from probe.evidence.capture_media import SdpMedia
from probe.pcap.packets import endpoint_text
from probe.sdp import Crypto, SdpError, parse_crypto

__all__ = ["Announced", "Endpoint", "MediaLine", "Negotiation", "SdpStore", "scan_sdp"]

Endpoint = tuple[bytes, int]
"""An address (4 or 16 bytes) and a port, as flows name their ends."""

_MAX_MEDIA_LINES = 16
_MAX_CRYPTO = 16
_MAX_FORMATS = 32
_MAX_CALLS = 4096
"""Calls whose pending offer is remembered at once."""
_MAX_ENDPOINTS = 65536
"""Addresses named by SDP remembered at once."""
_PER_ENDPOINT = 4
"""Negotiations remembered for one address (a re-INVITE makes a new one)."""


@dataclass(frozen=True, slots=True)
class MediaLine:
    """One m= section, read leniently."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    address: bytes | None
    """The effective c= address, packed; None when absent, a name, or unusable."""
    address_text: str | None
    crypto: tuple[Crypto, ...] = field(default=(), repr=False)
    crypto_suites: tuple[str, ...] = ()
    unusable_crypto: int = 0
    fingerprint: bool = False
    rtcp_port: int | None = None
    """Where RTCP goes: the next port, the a=rtcp port, or None with rtcp-mux."""

    @property
    def endpoint(self) -> Endpoint | None:
        return (self.address, self.port) if self.address and self.port else None


def _address(text: str) -> bytes | None:
    try:
        address = ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        return None
    if address.is_unspecified:  # 0.0.0.0: on hold (RFC 3264 §8.4), no media address
        return None
    return address.packed


def _connection(value: str) -> tuple[str | None, bytes | None]:
    words = value.split()
    if len(words) != 3 or words[0] != "IN" or words[1] not in ("IP4", "IP6"):
        return None, None
    return words[2].split("/")[0], _address(words[2])


def _port(text: str) -> int | None:
    number = text.split("/")[0]
    if not number.isascii() or not number.isdigit() or len(number) > 5:
        return None
    port = int(number)
    return port if port <= 65535 else None


@dataclass(slots=True)
class _Section:
    """An m= section while its lines are read."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: tuple[str | None, bytes | None] | None = None
    crypto: list[Crypto] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    unusable: int = 0
    fingerprint: bool = False
    mux: bool = False
    rtcp: int | None = None

    def attribute(self, value: str) -> None:
        name, _, rest = value.partition(":")
        name = name.strip().lower()
        if name == "crypto" and len(self.suites) < _MAX_CRYPTO:
            words = rest.split()
            self.suites.append(words[1] if len(words) > 1 else "?")
            try:
                self.crypto.append(parse_crypto(rest.strip()))
            except SdpError:
                self.unusable += 1
        elif name == "fingerprint":
            self.fingerprint = True
        elif name == "rtcp-mux":
            self.mux = True
        elif name == "rtcp" and rest.split():
            self.rtcp = _port(rest.split()[0])

    def line(self, session: tuple[str | None, bytes | None], fingerprint: bool) -> MediaLine:
        text, address = self.connection or session
        rtcp_port = None if self.mux else (self.rtcp if self.rtcp is not None else self.port + 1)
        return MediaLine(
            media=self.media,
            port=self.port,
            proto=self.proto,
            formats=self.formats,
            address=address,
            address_text=text,
            crypto=tuple(self.crypto),
            crypto_suites=tuple(self.suites),
            unusable_crypto=self.unusable,
            fingerprint=fingerprint or self.fingerprint,
            rtcp_port=rtcp_port if rtcp_port is None or 0 < rtcp_port <= 65535 else None,
        )


def scan_sdp(body: bytes) -> list[MediaLine]:
    """The m= sections of an SDP body (at most 16), whatever else it holds."""
    session: tuple[str | None, bytes | None] = (None, None)
    session_fingerprint = False
    sections: list[_Section | None] = []  # None: an m= line that could not be read
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        current = sections[-1] if sections else None
        if kind == "m":
            if len(sections) >= _MAX_MEDIA_LINES:
                break
            words = value.split()
            port = _port(words[1]) if len(words) >= 3 else None
            sections.append(
                None
                if port is None
                else _Section(words[0], port, words[2], tuple(words[3 : 3 + _MAX_FORMATS]))
            )
        elif kind == "c":
            if current is not None:
                current.connection = _connection(value)
            elif not sections:
                session = _connection(value)
        elif kind == "a" and current is not None:
            current.attribute(value)
        elif kind == "a" and not sections and value.startswith("fingerprint:"):
            session_fingerprint = True  # RFC 8122 §5: also at session level
    return [
        section.line(session, session_fingerprint) for section in sections if section is not None
    ]


@dataclass(frozen=True, slots=True)
class Announced:
    """One side of a negotiation: an m= line and the message that carried it."""

    line: MediaLine
    seen: SdpMedia
    """The same, as evidence (no key)."""


class Negotiation:
    """One m= line's offer and, once seen, its answer (RFC 3264 §6: same position)."""

    __slots__ = ("answer", "matched", "offer")

    def __init__(self, offer: Announced | None, answer: Announced | None = None) -> None:
        self.offer = offer
        self.answer = answer
        self.matched = False
        """A flow of it was seen."""

    def sides(self) -> tuple[Announced, ...]:
        return tuple(side for side in (self.offer, self.answer) if side is not None)

    def keys_towards(self, endpoint: Endpoint) -> tuple[Crypto, ...]:
        """The keys that protect media sent to `endpoint`: the other side's, and of the
        offered ones, the one whose tag the answer echoed (RFC 4568 §7.1.2)."""
        offer, answer = self.offer, self.answer
        keys: tuple[Crypto, ...] = ()
        if answer is not None and _names(answer.line, endpoint) and offer is not None:
            keys = offer.line.crypto
            chosen = {crypto.tag for crypto in answer.line.crypto}
            if chosen:
                keys = tuple(crypto for crypto in keys if crypto.tag in chosen) or keys
        elif offer is not None and _names(offer.line, endpoint) and answer is not None:
            keys = answer.line.crypto
        return keys


def _names(line: MediaLine, endpoint: Endpoint) -> bool:
    address, port = endpoint
    return line.address == address and port in (line.port, line.rtcp_port)


@dataclass(slots=True)
class _Call:
    pending: list[Negotiation] | None = None
    pending_digest: bytes = b""
    pending_kind: str = ""
    last_digest: bytes = b""


Role = Literal["offer", "answer"]


class SdpStore:
    """Negotiations of the capture, found by the address and port media goes to."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._endpoints: OrderedDict[Endpoint, list[Negotiation]] = OrderedDict()
        self.generation = 0
        """Bumped whenever a negotiation is added or completed: flows look again."""
        self.media_lines = 0
        self.keys = 0
        self.negotiations: list[Negotiation] = []
        """Every negotiation, for the ones never matched (bounded by the caller)."""

    def seen(
        self,
        body: bytes,
        *,
        frame: int,
        message: str,
        call_id: str | None,
        kind: str,
        max_kept: int,
    ) -> None:
        """One SDP body from cleartext SIP, in a message of `kind` (`request` or
        `response`): an offer in a request is answered in a response, an offer in a
        response (RFC 3261 §13.2.1, the offer in a 2xx) in a request (the ACK)."""
        lines = scan_sdp(body)
        if not lines:
            return
        digest = hashlib.blake2b(body, digest_size=16).digest()
        call = self._call(call_id)
        if digest in (call.pending_digest, call.last_digest):
            return  # retransmitted, or the same message relayed on another leg
        self.generation += 1
        answering = call.pending is not None and call.pending_kind != kind
        role: Role = "answer" if answering else "offer"
        sides = [Announced(line, _evidence(line, frame, message, call_id, role)) for line in lines]
        self.media_lines += len(lines)
        self.keys += sum(len(side.line.crypto) for side in sides)
        if answering:
            assert call.pending is not None
            for index, side in enumerate(sides):
                if index < len(call.pending):
                    negotiation = call.pending[index]
                    negotiation.answer = side
                else:
                    negotiation = self._new(Negotiation(None, side), max_kept)
                self._register(side, negotiation)
            call.pending, call.pending_digest, call.last_digest = None, b"", digest
            return
        negotiations = [self._new(Negotiation(side), max_kept) for side in sides]
        for side, negotiation in zip(sides, negotiations, strict=True):
            self._register(side, negotiation)
        call.pending, call.pending_digest, call.pending_kind = negotiations, digest, kind

    def _new(self, negotiation: Negotiation, max_kept: int) -> Negotiation:
        if len(self.negotiations) < max_kept:
            self.negotiations.append(negotiation)
        return negotiation

    def _call(self, call_id: str | None) -> _Call:
        key = call_id or ""
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = _Call()
            while len(self._calls) > _MAX_CALLS:
                self._calls.popitem(last=False)
        else:
            self._calls.move_to_end(key)
        return call

    def _register(self, side: Announced, negotiation: Negotiation) -> None:
        line = side.line
        if line.address is None or not line.port:
            return
        for port in (line.port, line.rtcp_port):
            if port is None:
                continue
            key = (line.address, port)
            known = self._endpoints.get(key)
            if known is None:
                known = self._endpoints[key] = []
                while len(self._endpoints) > _MAX_ENDPOINTS:
                    self._endpoints.popitem(last=False)
            else:
                self._endpoints.move_to_end(key)
            if negotiation in known:
                continue
            known.append(negotiation)
            del known[:-_PER_ENDPOINT]

    def find(self, *endpoints: Endpoint) -> list[Negotiation]:
        """The negotiations that name any of `endpoints`, newest first; one that names
        two of them (both ends of a flow) before the others."""
        found: list[Negotiation] = []
        for endpoint in endpoints:
            for negotiation in reversed(self._endpoints.get(endpoint, ())):
                if negotiation not in found:
                    found.append(negotiation)
        return sorted(found, key=lambda n: -sum(_named_by(n, e) for e in endpoints))


def _named_by(negotiation: Negotiation, endpoint: Endpoint) -> bool:
    return any(_names(side.line, endpoint) for side in negotiation.sides())


def _evidence(
    line: MediaLine, frame: int, message: str, call_id: str | None, role: Role
) -> SdpMedia:
    where = (
        endpoint_text(line.address, line.port)
        if line.address is not None
        else f"{line.address_text or '?'}:{line.port}"
    )
    return SdpMedia(
        frame=frame,
        message=message,
        call_id=call_id,
        role=role,
        endpoint=where,
        media=line.media[:32],
        proto=line.proto[:64],
        formats=tuple(fmt[:16] for fmt in line.formats),
        crypto_suites=tuple(suite[:64] for suite in line.crypto_suites),
        fingerprint=line.fingerprint,
    )
