"""SIP requests and responses (RFC 3261 §7): the frozen message types, their
serialisation, and the strict one-message parser used for datagrams.

The parser validates everything the rest of the verifier relies on while it parses
(start line, the mandatory headers, CSeq, From/To, the top Via, Content-Length), so a
broken response is reported as a parse error naming its line, not as a surprise deep
inside a check.  Stream (TCP/TLS) framing lives in :mod:`probe.sip.framing` and reuses
the pieces here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from . import _abnf
from ._scan import HeadScanner
from .errors import SipBuildError, SipLimitError, SipParseError
from .headers import (
    CSeq,
    Headers,
    Via,
    canonical_name,
    parse_content_length,
    parse_cseq,
    parse_via,
    split_list,
)
from .limits import DEFAULT_LIMITS, Limits
from .uri import NameAddr, SipUri, _excerpt, parse_name_addr, parse_uri

__all__ = ["Message", "Request", "Response", "parse_message"]

SIP_VERSION = "SIP/2.0"

# §8.1.1 and §8.2.6.2: what a request (and, copied from it, a response) must carry.
# Max-Forwards is also mandatory in requests (§8.1.1.6) but is not checked: a
# verifier mostly parses responses, and a request missing it is still understandable.
REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
# Headers that are not lists and so may appear at most once (§7.3.1).
SINGLE_HEADERS = ("From", "To", "Call-ID", "CSeq")

# Bytes never allowed in a head: every C0 control except HTAB, and DEL.  LF only
# appears as part of CRLF, which the line split has already removed.
_BAD_HEAD_BYTE_RE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS_CODE_RE = re.compile("[0-9]{3}")
# A Contact value whose URI (in '<>' after a display name, or bare) is sip: or sips:.
_SIP_CONTACT_RE = re.compile(r'(?:[^<"]*<|"(?:[^"\\]|\\.)*"\s*<)?\s*sips?:', re.IGNORECASE)
# §25.1 rfc1123-date = wkday "," SP date1 SP time SP "GMT"; date1 = 2DIGIT SP month SP 4DIGIT
_RFC1123_DATE_RE = re.compile(
    "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    "[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Validated:
    """What parsing a message already read of its headers to validate it (§8.1.1): kept
    with the message, so that reading them again (matching a response to its request,
    §17.1.3; the checks) parses nothing twice. Valid for `headers` only: a message made
    with other headers (`dataclasses.replace`) parses its own."""

    headers: Headers
    cseq: CSeq
    from_: NameAddr
    to: NameAddr
    top_via: Via


class _MessageMixin:
    """Accessors shared by Request and Response; each parses its header on demand, or
    takes what the parse that made the message validated."""

    __slots__ = ()
    headers: Headers
    validated: Validated | None

    def _validated(self) -> Validated | None:
        validated = self.validated
        return validated if validated is not None and validated.headers is self.headers else None

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name} header")
        return value

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        validated = self._validated()
        return validated.cseq if validated is not None else parse_cseq(self._required("CSeq"))

    @property
    def top_via(self) -> Via:
        validated = self._validated()
        if validated is not None:
            return validated.top_via
        vias = self.headers.get_all("Via")
        if not vias:
            raise SipParseError("missing Via header")
        return parse_via(vias[0])

    @property
    def from_(self) -> NameAddr:
        validated = self._validated()
        return validated.from_ if validated is not None else parse_name_addr(self._required("From"))

    @property
    def to(self) -> NameAddr:
        validated = self._validated()
        return validated.to if validated is not None else parse_name_addr(self._required("To"))


def _serialise(start_line: str, headers: Headers, body: bytes) -> bytes:
    lines = [start_line]
    declared = headers.get_all("Content-Length")
    for value in declared:
        try:
            length = parse_content_length(value)
        except SipParseError as exc:
            raise SipBuildError(f"cannot send {exc}") from None
        if length != len(body):
            raise SipBuildError(
                f"Content-Length header says {length} but the body has {len(body)} bytes"
            )
    lines.extend(f"{name}: {value}" for name, value in headers)
    if not declared:
        # §18.3 requires Content-Length on streams; adding it always is harmless.
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _check_common(headers: object, body: object) -> None:
    if not isinstance(headers, Headers):
        raise SipBuildError(f"headers must be a Headers instance, got {type(headers).__name__}")
    if not isinstance(body, bytes):
        raise SipBuildError(f"body must be bytes, got {type(body).__name__}")


@dataclass(frozen=True, slots=True)
class Request(_MessageMixin):
    """A SIP request (§7.1)."""

    method: str
    uri: SipUri
    headers: Headers
    body: bytes = b""
    validated: Validated | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not _abnf.TOKEN_RE.fullmatch(self.method):
            raise SipBuildError(f"method {self.method!r} is not a token (§25.1)")
        if not isinstance(self.uri, SipUri):
            raise SipBuildError(f"Request-URI must be a SipUri, got {type(self.uri).__name__}")
        _check_common(self.headers, self.body)

    def to_bytes(self) -> bytes:
        """Wire form; adds Content-Length if absent, refuses a wrong one."""
        return _serialise(f"{self.method} {self.uri} {SIP_VERSION}", self.headers, self.body)


@dataclass(frozen=True, slots=True)
class Response(_MessageMixin):
    """A SIP response (§7.2)."""

    status_code: int
    reason: str
    headers: Headers
    body: bytes = b""
    validated: Validated | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        code = self.status_code
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 699:
            raise SipBuildError(f"status code {code!r} is outside 100-699 (§7.2)")
        try:
            reason = self.reason.encode("utf-8")
        except (AttributeError, UnicodeEncodeError):
            raise SipBuildError(f"reason phrase {self.reason!r} is not a valid string") from None
        if _BAD_HEAD_BYTE_RE.search(reason):
            raise SipBuildError(f"reason phrase {self.reason!r} contains control characters")
        _check_common(self.headers, self.body)

    def to_bytes(self) -> bytes:
        """Wire form; adds Content-Length if absent, refuses a wrong one."""
        start = f"{SIP_VERSION} {self.status_code} {self.reason}"
        return _serialise(start, self.headers, self.body)


Message: TypeAlias = Request | Response


# --- parsing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Head:
    """A parsed and validated head, waiting for its body."""

    method: str | None  # None for a response
    uri: SipUri | None
    status_code: int
    reason: str
    headers: Headers
    content_length: int | None
    content_length_line: int | None  # where it was declared, for error messages
    validated: Validated

    def with_body(self, body: bytes) -> Message:
        if self.method is not None and self.uri is not None:
            return Request(self.method, self.uri, self.headers, body, self.validated)
        return Response(self.status_code, self.reason, self.headers, body, self.validated)


def _decode(raw: bytes, what: str, line: int) -> str:
    # §25.1: the reason phrase and header values are TEXT-UTF8 (UTF8-NONASCII and
    # UTF8-CONT): any other non-ASCII byte breaks the grammar, and a receiver cannot
    # guess which charset was meant.  Such a message is malformed, not "tolerated".
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        status_line = what == "start line" and raw[:4].upper() == b"SIP/"
        if status_line and raw.count(b" ", 0, exc.start) >= 2:
            what = "the reason phrase"
        raise SipParseError(
            f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1},"
            " §25.1)",
            line=line,
        ) from None


def _check_version(version: str) -> None:
    if version != SIP_VERSION:
        # §7.1: SIP/2.0 is the only version there is; a peer announcing another one may
        # not mean anything this parser would understand, so the message is not read on.
        hint = " (it must be sent in upper case, §7.1)" if version.upper() == SIP_VERSION else ""
        raise SipParseError(
            f"unsupported SIP version: {_excerpt(version)} is not SIP/2.0{hint}", line=1
        )


def _parse_start_line(raw: bytes) -> tuple[str | None, SipUri | None, int, str]:
    text = _decode(raw, "start line", 1)
    if text[:4].upper() == "SIP/":
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2)
        match = _abnf.STATUS_LINE_RE.fullmatch(text)
        if not match:
            raise SipParseError(
                "status line must be 'SIP/2.0 SP <3 digits> SP <reason>' (SP required even "
                "before an empty reason)",
                line=1,
            )
        version, code, reason = match.groups()
        _check_version(version)
        # §7.2/§21: a status code is three digits whose first names its class, 1 to 6;
        # 199 or 699 are valid codes of their class, 700 or 1000 are no code at all.
        if not _STATUS_CODE_RE.fullmatch(code) or not 100 <= int(code) <= 699:
            raise SipParseError(
                f"invalid status code: {_excerpt(code)} is not in 100-699 (§7.2, §21)", line=1
            )
        return None, None, int(code), reason
    # Request-Line = Method SP Request-URI SP SIP-Version (§7.1)
    match = _abnf.REQUEST_LINE_RE.fullmatch(text)
    if not match:
        raise SipParseError(
            f"request line {_excerpt(text)} must be 'METHOD SP Request-URI SP SIP/2.0'", line=1
        )
    method, uri_text, version = match.groups()
    _check_version(version)
    try:
        uri = parse_uri(uri_text)
    except SipParseError as exc:
        raise SipParseError(f"Request-URI: {exc.detail}", line=1) from None
    if uri.headers:
        # §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
        raise SipParseError(
            "Request-URI carries URI headers ('?...'), not allowed (§19.1.1)", line=1
        )
    return method, uri, 0, ""


# One header field on one line (§7.3.1): its name, the colon with white space around it,
# and the value without the white space at either end.
_FIELD_LINE_RE = re.compile(f"^({_abnf.TOKEN})[ \t]*:[ \t]*((?:.*[^ \t\n])?)[ \t]*$", re.MULTILINE)


def _parse_header_lines(
    lines: list[bytes], limits: Limits
) -> tuple[list[tuple[str, str]], list[int]]:
    """Header lines (the head minus its start line) -> fields and their line numbers."""
    fields = _field_lines(lines, limits)
    if fields is not None:
        return fields, list(range(2, len(fields) + 2))
    return _parse_header_lines_one_by_one(lines, limits)


def _field_lines(lines: list[bytes], limits: Limits) -> list[tuple[str, str]] | None:
    """The common head, read in one pass: every line a whole field, no folding, UTF-8,
    within max_headers. Anything else (None) is read line by line, which says what and
    where the fault is; both readings agree wherever this one answers."""
    if len(lines) > limits.max_headers:
        return None
    try:
        # The head has no LF but in its CRLFs (HeadScanner) and no other control byte
        # (parse_head): joined on LF, one line of text is one line of the head.
        text = b"\n".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        return None
    fields = _FIELD_LINE_RE.findall(text)
    return fields if len(fields) == len(lines) else None


def _parse_header_lines_one_by_one(
    lines: list[bytes], limits: Limits
) -> tuple[list[tuple[str, str]], list[int]]:
    names: list[str] = []
    values: list[list[str]] = []
    numbers: list[int] = []
    for number, raw in enumerate(lines, start=2):
        if raw[:1] in (b" ", b"\t"):
            # §7.3.1: a line starting with white space continues the previous field;
            # the fold and the white space around it are one SP.
            if not names:
                raise SipParseError("continuation line before any header field", line=number)
            part = _decode(raw.strip(b" \t"), f"header {names[-1]}", number)
            values[-1].append(part)
            continue
        colon = raw.find(b":")
        name_bytes = raw[:colon].rstrip(b" \t") if colon != -1 else raw
        name = name_bytes.decode("ascii", "backslashreplace")
        if colon == -1 or not _abnf.TOKEN_RE.fullmatch(name):
            what = "has no ':'" if colon == -1 else f"has invalid field name {_excerpt(name)}"
            raise SipParseError(f"header line {what}", line=number)
        if len(names) == limits.max_headers:
            raise SipLimitError(
                "max_headers",
                limits.max_headers,
                f"header {name} is field number {len(names) + 1}",
                line=number,
            )
        names.append(name)
        values.append([_decode(raw[colon + 1 :].strip(b" \t"), f"header {name}", number)])
        numbers.append(number)
    fields = [(n, " ".join(p for p in parts if p)) for n, parts in zip(names, values, strict=True)]
    return fields, numbers


def _validate(
    method: str | None, headers: Headers, numbers: list[int]
) -> tuple[int | None, int | None, Validated]:
    """Check the headers every message needs; return Content-Length, its line, and the
    headers parsed on the way."""
    first_line: dict[str, int] = {}
    keys = headers.keys()
    for (name, _), key, number in zip(headers, keys, numbers, strict=True):
        if key in first_line and key in _SINGLE_KEYS:
            raise SipParseError(
                f"second {canonical_name(name)} header (it may appear only once)", line=number
            )
        first_line.setdefault(key, number)
    for name, key in _REQUIRED_KEYS:
        if key not in first_line:
            # §17.1.3 matches a response to its transaction by Via branch and CSeq.
            why = (
                "; the response cannot be matched to its transaction (§17.1.3)"
                if method is None and name in ("Via", "CSeq")
                else ""
            )
            raise SipParseError(f"missing mandatory {name} header (RFC 3261 §8.1.1){why}")

    def check(name: str, parse: Callable[[str], _T], value: str | None = None) -> _T:
        try:
            return parse((headers.get(name) or "") if value is None else value)
        except SipParseError as exc:
            raise SipParseError(f"{name}: {exc.detail}", line=first_line[name.lower()]) from None

    cseq = check("CSeq", parse_cseq)
    if method is not None and cseq.method != method:
        raise SipParseError(
            f"CSeq method {cseq.method} does not match request method {method} (§8.1.1.5)",
            line=first_line["cseq"],
        )
    from_, to = check("From", parse_name_addr), check("To", parse_name_addr)
    for value in headers.fields("Contact"):
        # §20.10: a Contact URI with ',' '?' or ';' must be inside '<>' (RFC 4475
        # §3.1.2.13); "*" is the one other value (§10.2.2).
        # Only SIP and SIPS URIs are read: a 3xx may point at tel: or another scheme.
        for item in split_list(value):
            if item != "*" and _SIP_CONTACT_RE.match(item):
                check("Contact", parse_name_addr, item)
    date = headers.get("Date")
    if date is not None and not _RFC1123_DATE_RE.fullmatch(date):
        # §20.17: SIP-date is rfc1123-date and always in GMT (RFC 4475 §3.1.2.12).
        raise SipParseError(
            f"Date {_excerpt(date)} is not 'Wkd, DD Mon YYYY HH:MM:SS GMT' (§20.17)",
            line=first_line["date"],
        )
    if not _abnf.CALLID_RE.fullmatch(headers.get("Call-ID") or ""):
        raise SipParseError("Call-ID is not 'word[@word]' (§25.1)", line=first_line["call-id"])
    # Only the top Via matters to us (response matching, §17.1.3); the entries below
    # it, added by proxies, are parsed on demand.
    top_via = check("Via", parse_via, (split_list(headers.get("Via") or "") or [""])[0])
    validated = Validated(headers, cseq, from_, to, top_via)

    length: int | None = None
    length_line: int | None = None
    for (_name, value), key, number in zip(headers, keys, numbers, strict=True):
        if key != "content-length":
            continue
        try:
            this = parse_content_length(value)
        except SipParseError as exc:
            raise SipParseError(exc.detail, line=number) from None
        if length is not None and this != length:
            raise SipParseError(
                f"Content-Length {this} disagrees with an earlier Content-Length {length}",
                line=number,
            )
        length, length_line = this, number
    return length, length_line, validated


_SINGLE_KEYS = frozenset(name.lower() for name in SINGLE_HEADERS)
_REQUIRED_KEYS = tuple((name, name.lower()) for name in REQUIRED_HEADERS)


def _line_name(raw: bytes, number: int) -> str:
    """`the start line`, `the Via header`, or `a header line`: where a byte was found."""
    if number == 1:
        return "the start line"
    name = raw.split(b":", 1)[0].strip(b" \t") if b":" in raw else b""
    if _abnf.TOKEN_RE.fullmatch(name.decode("ascii", "replace")):
        return f"the {name.decode('ascii')} header"
    return "a header line"


def parse_head(head: bytes, limits: Limits) -> _Head:
    """Parse a complete head (as found by HeadScanner, ending in CRLF CRLF)."""
    lines = head[:-4].split(b"\r\n")
    if _BAD_HEAD_BYTE_RE.search(b"".join(lines)) is not None:
        _refuse_control_bytes(lines)
    method, uri, status_code, reason = _parse_start_line(lines[0])
    fields, numbers = _parse_header_lines(lines[1:], limits)
    # The fields are tokens and text without CR, LF or NUL, checked above: not again.
    headers = Headers.parsed(fields)
    length, length_line, validated = _validate(method, headers, numbers)
    return _Head(method, uri, status_code, reason, headers, length, length_line, validated)


_BACKSLASH, _DQUOTE, _CR_LF = 0x5C, 0x22, (0x0D, 0x0A)
_CONTROL_BYTES = frozenset((*range(0x09), *range(0x0A, 0x20), 0x7F))


def _unescaped_control(raw: bytes) -> int | None:
    """Offset of the first control byte of a header line that no quoted-pair carries.

    §25.1: quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F), so inside a quoted-string a
    backslash may carry NUL, BEL or DEL (RFC 4475 §3.1.1.2 sends all three), but never
    CR or LF; anywhere else no rule admits a control byte but HTAB."""
    in_quotes = False
    i = 0
    while i < len(raw):
        byte = raw[i]
        if in_quotes and byte == _BACKSLASH and i + 1 < len(raw):
            if raw[i + 1] in _CR_LF:
                return i + 1
            i += 2
            continue
        if byte == _DQUOTE:
            in_quotes = not in_quotes
        elif byte in _CONTROL_BYTES:
            return i
        i += 1
    return None


def _refuse_control_bytes(lines: list[bytes]) -> None:
    """Name the first control byte of the head that the grammar does not admit, by line
    and column."""
    for number, raw in enumerate(lines, start=1):
        # The start line has no quoted-string: any control byte there is malformed.
        if number == 1:
            bad = _BAD_HEAD_BYTE_RE.search(raw)
            column = bad.start() if bad else None
        else:
            column = _unescaped_control(raw)
        if column is not None:
            # A NUL truncates C strings in many SIP stacks: a head with one unescaped
            # is malformed, whatever follows.
            byte = raw[column]
            what = {0x00: "NUL byte", 0x0D: "CR without LF"}.get(byte, f"control byte 0x{byte:02x}")
            raise SipParseError(
                f"{what} at column {column + 1} of {_line_name(raw, number)}", line=number
            )


def body_length(head: _Head, available: int, *, stream: bool, limits: Limits) -> int:
    """How many of the ``available`` bytes after the head belong to the body (§18.3)."""
    length = head.content_length
    if length is None:
        if stream:
            # §18.3: on a stream, Content-Length is the only way to find the body's end.
            raise SipParseError("missing Content-Length header, required on TCP/TLS (§18.3)")
        length = available  # §18.3: a datagram's body runs to the end of the datagram
        if length > limits.max_body_bytes:
            raise SipLimitError(
                "max_body_bytes", limits.max_body_bytes, f"the datagram body has {length} bytes"
            )
        return length
    line = head.content_length_line
    if length > limits.max_body_bytes:
        raise SipLimitError(
            "max_body_bytes", limits.max_body_bytes, f"Content-Length is {length}", line=line
        )
    if not stream and length > available:
        raise SipParseError(
            f"Content-Length {length} is larger than the {available} body bytes received (§18.3)",
            line=line,
        )
    return length


def parse_message(data: bytes, *, limits: Limits = DEFAULT_LIMITS, stream: bool = False) -> Message:
    """Parse exactly one message.

    For a datagram (``stream=False``) Content-Length is optional; bytes beyond it are
    discarded (§18.3).  With ``stream=True`` the message came off a TCP/TLS framer:
    Content-Length is mandatory and must equal the body length exactly.
    """
    data = bytes(data)
    scanner = HeadScanner(limits)
    head_length = scanner.scan(data)
    if head_length is None:
        raise SipParseError(
            "no empty line ends the header section (message truncated?)", line=scanner.line_no
        )
    head = parse_head(data[:head_length], limits)
    available = len(data) - head_length
    length = body_length(head, available, stream=stream, limits=limits)
    if stream and length != available:
        raise SipParseError(
            f"Content-Length {length} does not match the {available} bytes after the head",
            line=head.content_length_line,
        )
    return head.with_body(data[head_length : head_length + length])
