"""The strict SDP parser (RFC 8866 §5 and the grammar of §9).

Decisions, each taken for a verifier that must say exactly what is wrong:

- Lines end in CRLF, and a lone LF is accepted too (§5: parsers SHOULD).  A bare CR, a
  NUL or an empty line inside the description is an error; empty lines at the very end
  are tolerated (some SIP stacks add a CRLF after the body) and a missing final line end
  is accepted (the SIP layer already framed the body by Content-Length).
- The text must be UTF-8 (§5).  ``a=charset`` (§6.10) is not honoured.
- Line order is §5's, enforced: each type letter has a slot, slots never go back, and
  required ones (v, o, s, at least one t, m within a media section) cannot be skipped.
  ``r=`` lines follow their ``t=``, and one ``z=`` may close a time description.
- ``s=`` must not be empty (§5.3); a single space is the RFC's "no name".
- For RTP profiles every ``m=`` format must be a payload type 0-127 (RFC 3550 §5.1).
- A type letter other than the fifteen of §5 (v o s i u e p c b t r z k a m) rejects
  the whole description: §5 says a
  parser "MUST completely ignore or reject any session description that contains a
  type letter that it does not understand".  Unknown *attributes* are kept (§5.13).
- ``k=`` is read and discarded, as §5.12 requires.
- ``c=`` must be ``IN IP4`` or ``IN IP6`` (the only address types a SIP trunk can send
  media to), and more than one ``c=`` per media section (layered multicast, §5.7) is
  refused.
- The attributes the verifier judges are validated here, so their errors carry a line
  number: ``a=crypto`` (media level only, RFC 4568 §9.1), ``a=fingerprint``,
  ``a=setup`` (at most one per level) and the direction attributes (at most one per
  level, no value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._fields import (
    check_repeat,
    check_zone,
    read_bandwidth,
    read_connection,
    read_media_line,
    read_origin,
    read_timing,
)
from ._grammar import TOKEN_RE, check_text, excerpt
from .crypto import parse_crypto
from .dtls import parse_fingerprint, parse_setup
from .errors import SdpError, SdpLimitError
from .limits import DEFAULT_SDP_LIMITS, SdpLimits
from .model import DIRECTIONS, MediaDescription, Origin, SessionDescription, Timing

__all__ = ["parse_sdp"]

# §5: every type letter SDP defines.
TYPE_LETTERS = frozenset("vosiuepcbtrzkam")
# (letter, required, repeatable) in §5 order.  r= and z= belong to the t= slot.
_SESSION_SLOTS = (
    ("v", True, False),
    ("o", True, False),
    ("s", True, False),
    ("i", False, False),
    ("u", False, False),
    ("e", False, True),
    ("p", False, True),
    ("c", False, False),
    ("b", False, True),
    ("t", True, True),
    ("k", False, False),
    ("a", False, True),
)
_MEDIA_SLOTS = (
    ("m", True, False),
    ("i", False, False),
    ("c", False, False),
    ("b", False, True),
    ("k", False, False),
    ("a", False, True),
)


class _Order:
    """Enforces one section's §5 line order; errors name the line and what was due."""

    def __init__(self, slots: tuple[tuple[str, bool, bool], ...], where: str) -> None:
        self.slots = slots
        self.where = where
        self.index = {letter: i for i, (letter, _, _) in enumerate(slots)}
        self.pos = -1

    def step(self, letter: str, line: int) -> None:
        j = self.index.get(letter)
        if j is None:
            raise SdpError(f"{letter}= is not allowed {self.where} (RFC 8866 §5)", line=line)
        if j < self.pos:
            raise SdpError(
                f"{letter}= line out of order: it must come before {self.slots[self.pos][0]}="
                f" {self.where} (RFC 8866 §5)",
                line=line,
            )
        if j == self.pos:
            if not self.slots[j][2]:
                raise SdpError(f"more than one {letter}= line {self.where}", line=line)
            return
        self._require(j, line, f" before {letter}=")
        self.pos = j

    def finish(self, line: int, before: str = "") -> None:
        self._require(len(self.slots), line, before)

    def _require(self, upto: int, line: int, before: str) -> None:
        for letter, required, _ in self.slots[self.pos + 1 : upto]:
            if required:
                raise SdpError(
                    f"missing {letter}= line{before} {self.where} (RFC 8866 §5)", line=line
                )


@dataclass
class _Section:
    """Attributes and level-wide facts gathered for one section while reading it."""

    level: str  # "session" or "media"
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)


def _lines(data: bytes | str, limits: SdpLimits) -> list[str]:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SdpError(f"text cannot be encoded as UTF-8: {exc.reason}") from None
    else:
        raw = bytes(data)
    if len(raw) > limits.max_bytes:
        raise SdpLimitError("max_bytes", limits.max_bytes, f"the description has {len(raw)} bytes")
    physical = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    if physical > limits.max_lines:
        raise SdpLimitError(
            "max_lines",
            limits.max_lines,
            f"the description has {physical} lines",
            line=limits.max_lines + 1,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SdpError("invalid UTF-8 (RFC 8866 §5: SDP text is UTF-8)", line=line) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise SdpError("empty description: no v= line (RFC 8866 §5.1)")
    return lines


def _attribute(value: str, section: _Section, line: int) -> None:
    """a=<name>[:<value>] (§5.13), with the attributes the verifier judges validated."""
    name, sep, attr_value = value.partition(":")
    if not TOKEN_RE.fullmatch(name):
        raise SdpError(f"attribute name {excerpt(name)} is not a token (RFC 8866 §9)", line=line)
    if sep:
        check_text(attr_value, f"a={name} value", line=line)
    parsed: str | None = attr_value if sep else None
    count = section.seen.get(name, 0) + 1
    section.seen[name] = count
    try:
        if name == "crypto":
            if section.level == "session":
                raise SdpError("a=crypto is a media-level attribute (RFC 4568 §9.1)")
            parse_crypto(parsed or "")
        elif name == "fingerprint":
            parse_fingerprint(parsed or "")
        elif name == "setup":
            parse_setup(parsed)
            if count > 1:
                raise SdpError(f"more than one a=setup at {section.level} level (RFC 4145 §4)")
        elif name in DIRECTIONS:
            if sep:
                raise SdpError(f"a={name} takes no value (RFC 8866 §6.7)")
            directions = sum(section.seen.get(d, 0) for d in DIRECTIONS)
            if directions > 1:
                raise SdpError(f"more than one direction attribute at {section.level} level")
    except SdpError as exc:
        detail = exc.detail if exc.detail.startswith("a=") else f"a={name}: {exc.detail}"
        raise SdpError(detail, line=line) from None
    section.attributes.append((name, parsed))


def parse_sdp(data: bytes | str, *, limits: SdpLimits = DEFAULT_SDP_LIMITS) -> SessionDescription:
    """Parse one SDP description, strictly; raises only :class:`SdpError` (and its
    subclass :class:`SdpLimitError`), with the 1-based line number where it can."""
    lines = _lines(data, limits)
    session = _Session()
    media: list[MediaDescription] = []
    current: _Media | None = None
    for number, line in enumerate(lines, 1):
        letter, value = _split(line, number)
        if letter == "m":
            if current is not None:
                media.append(current.close(session, number))
            else:
                session.order.finish(number, " before m=")
            if len(media) + 1 > limits.max_media:
                raise SdpLimitError(
                    "max_media",
                    limits.max_media,
                    f"more than {limits.max_media} m= sections",
                    line=number,
                )
            current = _Media(number, *read_media_line(value, number))
        elif current is not None:
            current.read(letter, value, number)
        else:
            session.read(letter, value, number)
    if current is not None:
        media.append(current.close(session, len(lines)))
    else:
        session.order.finish(len(lines))
    return session.build(tuple(media))


def _split(line: str, number: int) -> tuple[str, str]:
    """<type>=<value> (§5): one known type letter, '=', no space around it."""
    if not line:
        raise SdpError("empty line inside the description", line=number)
    if "\r" in line or "\x00" in line:
        raise SdpError("bare CR or NUL in a line (RFC 8866 §5)", line=number)
    letter = line[0]
    if line[1:2] != "=":
        raise SdpError(f"{excerpt(line)} is not a <type>=<value> line (§5)", line=number)
    if letter not in TYPE_LETTERS:
        if letter.isascii() and letter.isalpha():
            raise SdpError(
                f"unknown type letter {letter!r}: RFC 8866 §5 requires rejecting a"
                " description with a type letter the parser does not understand",
                line=number,
            )
        raise SdpError(f"{excerpt(line)} is not a <type>=<value> line (§5)", line=number)
    return letter, line[2:]


@dataclass
class _Media:
    """One m= section while it is being read."""

    line: int
    media: str
    port: int
    port_count: int | None
    proto: str
    formats: tuple[str, ...]
    connection: str | None = None
    information: str | None = None
    bandwidths: list[str] = field(default_factory=list)
    section: _Section = field(default_factory=lambda: _Section("media"))
    order: _Order = field(default_factory=lambda: _Order(_MEDIA_SLOTS, "in a media description"))

    def __post_init__(self) -> None:
        self.order.step("m", self.line)

    def read(self, letter: str, value: str, line: int) -> None:
        self.order.step(letter, line)
        if letter == "i":
            check_text(value, "i=", line=line)
            self.information = value
        elif letter == "c":
            self.connection = read_connection(value, line)
        elif letter == "b":
            self.bandwidths.append(read_bandwidth(value, line))
        elif letter == "k":
            check_text(value, "k=", line=line, empty_ok=True)  # §5.12: read and discarded
        else:
            _attribute(value, self.section, line)

    def close(self, session: _Session, end_line: int) -> MediaDescription:
        self.order.finish(end_line)
        if self.connection is None and session.connection is None:
            raise SdpError(
                "no c= line for this m= and none at session level (RFC 8866 §5.7)",
                line=self.line,
            )
        return MediaDescription(
            media=self.media,
            port=self.port,
            proto=self.proto,
            formats=self.formats,
            port_count=self.port_count,
            connection=self.connection,
            attributes=tuple(self.section.attributes),
            information=self.information,
            bandwidths=tuple(self.bandwidths),
        )


@dataclass
class _Session:
    """The session-level section while it is being read."""

    origin: Origin | None = None
    session_name: str | None = None
    connection: str | None = None
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    bandwidths: list[str] = field(default_factory=list)
    times: list[Timing] = field(default_factory=list)
    section: _Section = field(default_factory=lambda: _Section("session"))
    order: _Order = field(default_factory=lambda: _Order(_SESSION_SLOTS, "at session level"))

    def read(self, letter: str, value: str, line: int) -> None:
        if letter in "rz":
            self._repeat_or_zone(letter, value, line)
            return
        self.order.step(letter, line)
        if letter == "v":
            if value != "0":
                raise SdpError(
                    f"version {excerpt(value)}: only v=0 exists (RFC 8866 §5.1)", line=line
                )
        elif letter == "o":
            self.origin = read_origin(value, line)
        elif letter == "s":
            check_text(value, "s= (RFC 8866 §5.3: MUST NOT be empty)", line=line)
            self.session_name = value
        elif letter in "iuep":
            check_text(value, f"{letter}=", line=line)
            if letter == "i":
                self.information = value
            elif letter == "u":
                self.uri = value
            else:
                (self.emails if letter == "e" else self.phones).append(value)
        elif letter == "c":
            self.connection = read_connection(value, line)
        elif letter == "b":
            self.bandwidths.append(read_bandwidth(value, line))
        elif letter == "t":
            self.times.append(read_timing(value, line))
        elif letter == "k":
            check_text(value, "k=", line=line, empty_ok=True)  # §5.12: read and discarded
        else:
            _attribute(value, self.section, line)

    def _repeat_or_zone(self, letter: str, value: str, line: int) -> None:
        if self.order.pos != self.order.index["t"]:
            raise SdpError(f"{letter}= must follow a t= line (RFC 8866 §5.9)", line=line)
        last = self.times[-1]
        if last.zone is not None:
            raise SdpError(f"{letter}= after the z= of its time description (§5.11)", line=line)
        if letter == "r":
            check_repeat(value, line)
            self.times[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        else:
            check_zone(value, line)
            self.times[-1] = Timing(last.start, last.stop, last.repeats, value)

    def build(self, media: tuple[MediaDescription, ...]) -> SessionDescription:
        # order.finish() has run, so v=, o=, s= and a t= were all present.
        assert self.origin is not None
        assert self.session_name is not None
        return SessionDescription(
            origin=self.origin,
            session_name=self.session_name,
            connection=self.connection,
            times=tuple(self.times),
            attributes=tuple(self.section.attributes),
            media=media,
            information=self.information,
            uri=self.uri,
            emails=tuple(self.emails),
            phones=tuple(self.phones),
            bandwidths=tuple(self.bandwidths),
        )
