"""The frozen SDP types (RFC 8866 §5) and their serialisation.

A :class:`SessionDescription` holds what :func:`probe.sdp.parse_sdp` read, or what
:func:`probe.sdp.build_offer` made.  Attributes are kept raw, in order, as
``(name, value-or-None)`` pairs; the properties that matter to the verifier (crypto,
fingerprint, setup, direction) parse them on demand.

An SDP offer or answer may carry SRTP master keys (RFC 4568 ``a=crypto``).  ``repr`` of
every type here is redacted, and :meth:`SessionDescription.to_bytes` redacts unless
``reveal_keys=True`` is asked for explicitly, which only the code putting an offer on
the wire should do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ._grammar import NON_WS_RE, PROTO_RE, TOKEN_RE, check_text
from .crypto import Crypto, parse_crypto
from .dtls import Fingerprint, parse_fingerprint, parse_setup
from .errors import SdpBuildError, SdpError, redact

__all__ = ["DIRECTIONS", "MediaDescription", "Origin", "SessionDescription", "Timing"]

# RFC 8866 §6.7: the media direction attributes; sendrecv is the default (§6.7.3).
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
PORT_MAX = 65535


def _redacted_repr(obj: Any) -> str:
    parts = ", ".join(f"{f.name}={getattr(obj, f.name)!r}" for f in fields(obj))
    return redact(f"{type(obj).__name__}({parts})")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SdpBuildError(message)


def _check_texts(values: object, what: str) -> None:
    _check(isinstance(values, tuple), f"{what} must be a tuple")
    assert isinstance(values, tuple)
    for value in values:
        _check(isinstance(value, str), f"{what} must hold strings")
        try:
            check_text(value, what)
        except SdpError as exc:
            raise SdpBuildError(exc.detail) from None


def _check_optional_text(value: object, what: str) -> None:
    if value is not None:
        _check_texts((value,), what)


def _check_attributes(attributes: object) -> None:
    _check(isinstance(attributes, tuple), "attributes must be a tuple of (name, value) pairs")
    assert isinstance(attributes, tuple)
    for item in attributes:
        _check(isinstance(item, tuple) and len(item) == 2, f"attribute {item!r} is not a pair")
        name, value = item
        _check(
            isinstance(name, str) and TOKEN_RE.fullmatch(name) is not None,
            f"attribute name {name!r} is not a token (RFC 8866 §9)",
        )
        if value is not None:
            _check_texts((value,), f"a={name} value")


def connection_line(address: str) -> str:
    """The ``c=`` value for a connection-address: IP6 for an IPv6 literal, else IP4.

    The address type is derived rather than stored: an IPv6 literal is IP6, anything
    else (IPv4, or a DNS name) is written as IP4.
    """
    host = address.split("/", 1)[0]
    return f"IN {'IP6' if ':' in host else 'IP4'} {address}"


def _check_connection(address: object) -> None:
    if address is None:
        return
    _check(
        isinstance(address, str) and NON_WS_RE.fullmatch(address) is not None,
        f"connection address {address!r} is not a single non-space field",
    )


def _attribute(attributes: tuple[tuple[str, str | None], ...], name: str) -> list[str | None]:
    return [value for key, value in attributes if key == name]


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line (RFC 8866 §5.2)."""

    username: str
    session_id: int
    session_version: int
    nettype: str
    addrtype: str
    address: str

    def __post_init__(self) -> None:
        for name in ("username", "address"):
            value = getattr(self, name)
            _check(
                isinstance(value, str) and NON_WS_RE.fullmatch(value) is not None,
                f"o= {name} {value!r} must be one field without spaces (RFC 8866 §5.2)",
            )
        for name in ("nettype", "addrtype"):
            value = getattr(self, name)
            _check(
                isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None,
                f"o= {name} {value!r} is not a token",
            )
        for name in ("session_id", "session_version"):
            value = getattr(self, name)
            _check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                f"o= {name} must be a non-negative int, got {value!r}",
            )

    def to_value(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Timing:
    """One time description: ``t=`` with its ``r=`` lines and ``z=`` (RFC 8866 §5.9-5.11).

    A SIP offer/answer always uses ``t=0 0`` (RFC 3264 §5); repeats and zone are kept
    raw so whatever a peer sent serialises back unchanged.
    """

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()
    zone: str | None = None

    def __post_init__(self) -> None:
        for value in (self.start, self.stop):
            _check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                f"t= times must be non-negative ints, got {value!r}",
            )
        _check_texts(self.repeats, "r=")
        _check_optional_text(self.zone, "z=")


@dataclass(frozen=True, slots=True, repr=False)
class MediaDescription:
    """One ``m=`` section (RFC 8866 §5.14) with its ``i=``, ``c=``, ``b=`` and ``a=``.

    ``port`` 0 marks a rejected (or disabled) stream, RFC 3264 §6.  ``connection`` is
    the connection-address of this section's ``c=``; see
    :meth:`SessionDescription.effective_connection` for the session fallback.
    """

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: str | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()
    information: str | None = None
    bandwidths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(
            isinstance(self.media, str) and TOKEN_RE.fullmatch(self.media) is not None,
            f"media {self.media!r} is not a token",
        )
        port = self.port
        _check(
            isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= PORT_MAX,
            f"port {port!r} is not in 0..{PORT_MAX}",
        )
        count = self.port_count
        _check(
            count is None
            or (isinstance(count, int) and not isinstance(count, bool) and count >= 1),
            f"port count {count!r} must be a positive int",
        )
        _check(
            isinstance(self.proto, str) and PROTO_RE.fullmatch(self.proto) is not None,
            f"proto {self.proto!r} is not token *(/ token)",
        )
        _check(
            isinstance(self.formats, tuple)
            and len(self.formats) > 0
            and all(isinstance(f, str) and TOKEN_RE.fullmatch(f) for f in self.formats),
            "formats must be a non-empty tuple of tokens (RFC 8866 §5.14)",
        )
        _check_connection(self.connection)
        _check_attributes(self.attributes)
        _check_optional_text(self.information, "i=")
        _check_texts(self.bandwidths, "b=")

    def attribute_values(self, name: str) -> tuple[str | None, ...]:
        """Values of every ``a=<name>`` line of this section, in order."""
        return tuple(_attribute(self.attributes, name))

    def has_attribute(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)

    @property
    def crypto(self) -> tuple[Crypto, ...]:
        """Every ``a=crypto`` of this section, parsed (RFC 4568 §9.1); SdpError if bad."""
        return tuple(parse_crypto(value or "") for value in self.attribute_values("crypto"))

    @property
    def fingerprints(self) -> tuple[Fingerprint, ...]:
        """Every media-level ``a=fingerprint`` (RFC 8122 §5 allows several)."""
        return tuple(parse_fingerprint(v or "") for v in self.attribute_values("fingerprint"))

    @property
    def fingerprint(self) -> Fingerprint | None:
        found = self.fingerprints
        return found[0] if found else None

    @property
    def setup(self) -> str | None:
        """The media-level ``a=setup`` role (RFC 4145 §4), or None."""
        values = self.attribute_values("setup")
        return parse_setup(values[0]) if values else None

    @property
    def direction(self) -> str:
        """The media-level direction attribute, ``sendrecv`` when there is none."""
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                return key
        return "sendrecv"

    @property
    def is_secure_profile(self) -> bool:
        """An SRTP profile (…/SAVP, …/SAVPF, RFC 3711 §12, RFC 5124) or DTLS (RFC 5764 §8)."""
        parts = self.proto.upper().split("/")
        return parts[-1] in ("SAVP", "SAVPF") or "TLS" in parts or "DTLS" in parts

    def to_lines(self, *, reveal_keys: bool = False) -> list[str]:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={connection_line(self.connection)}")
        lines.extend(f"b={value}" for value in self.bandwidths)
        lines.extend(_attribute_lines(self.attributes))
        return lines if reveal_keys else [redact(line) for line in lines]

    def __repr__(self) -> str:
        return _redacted_repr(self)


def _attribute_lines(attributes: tuple[tuple[str, str | None], ...]) -> list[str]:
    return [f"a={name}" if value is None else f"a={name}:{value}" for name, value in attributes]


@dataclass(frozen=True, slots=True, repr=False)
class SessionDescription:
    """A whole SDP description (RFC 8866 §5); the version is always 0."""

    origin: Origin
    session_name: str
    connection: str | None = None
    times: tuple[Timing, ...] = (Timing(),)
    attributes: tuple[tuple[str, str | None], ...] = ()
    media: tuple[MediaDescription, ...] = ()
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    bandwidths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.version == 0, f"SDP version {self.version!r}: only 0 exists (RFC 8866 §5.1)")
        _check(isinstance(self.origin, Origin), "origin must be an Origin")
        _check_texts((self.session_name,), "s=")
        _check_connection(self.connection)
        _check(
            isinstance(self.times, tuple)
            and len(self.times) > 0
            and all(isinstance(t, Timing) for t in self.times),
            "times must be a non-empty tuple of Timing (RFC 8866 §5.9)",
        )
        _check_attributes(self.attributes)
        _check(
            isinstance(self.media, tuple)
            and all(isinstance(m, MediaDescription) for m in self.media),
            "media must be a tuple of MediaDescription",
        )
        for name in ("information", "uri"):
            _check_optional_text(getattr(self, name), name)
        for name in ("emails", "phones", "bandwidths"):
            _check_texts(getattr(self, name), name)
        if self.connection is None:
            for index, media in enumerate(self.media, 1):
                _check(
                    media.connection is not None,
                    f"m= section {index} has no c= and there is no session c= (RFC 8866 §5.7)",
                )

    def effective_connection(self, media: MediaDescription) -> str | None:
        """The connection-address for ``media``: its own ``c=``, else the session's
        (RFC 8866 §5.7: media-level values override the session-level one)."""
        return media.connection if media.connection is not None else self.connection

    def effective_fingerprints(self, media: MediaDescription) -> tuple[Fingerprint, ...]:
        """Media-level fingerprints, else session-level ones (RFC 8122 §5)."""
        found = media.fingerprints
        if found:
            return found
        return tuple(parse_fingerprint(v or "") for v in _attribute(self.attributes, "fingerprint"))

    def effective_setup(self, media: MediaDescription) -> str | None:
        """Media-level ``a=setup``, else the session-level one (RFC 4145 §4)."""
        if media.setup is not None:
            return media.setup
        values = _attribute(self.attributes, "setup")
        return parse_setup(values[0]) if values else None

    def first_media(self, kind: str = "audio") -> MediaDescription | None:
        return next((m for m in self.media if m.media == kind), None)

    def to_bytes(self, reveal_keys: bool = False) -> bytes:
        """The description as CRLF-terminated lines (RFC 8866 §5).

        Keys in ``inline:`` key-params are redacted unless ``reveal_keys`` is True; use
        True only for the body that goes on the wire.
        """
        lines = [f"v={self.version}", f"o={self.origin.to_value()}", f"s={self.session_name}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.extend(f"e={value}" for value in self.emails)
        lines.extend(f"p={value}" for value in self.phones)
        if self.connection is not None:
            lines.append(f"c={connection_line(self.connection)}")
        lines.extend(f"b={value}" for value in self.bandwidths)
        for timing in self.times:
            lines.append(f"t={timing.start} {timing.stop}")
            lines.extend(f"r={value}" for value in timing.repeats)
            if timing.zone is not None:
                lines.append(f"z={timing.zone}")
        lines.extend(_attribute_lines(self.attributes))
        for media in self.media:
            lines.extend(media.to_lines(reveal_keys=True))
        text = "".join(f"{line}\r\n" for line in lines)
        return (text if reveal_keys else redact(text)).encode("utf-8")

    def __repr__(self) -> str:
        return _redacted_repr(self)

    def __str__(self) -> str:
        return self.to_bytes(reveal_keys=False).decode("utf-8")
