"""Header fields (RFC 3261 §7.3, §20) and the few header values the codec itself needs.

:class:`Headers` keeps every field as received (name spelling, order, duplicates), in
the way h11's ``Headers`` does, and compares names case-insensitively with compact
forms expanded (§7.3.3).  Only list-valued headers are split on commas by
:meth:`Headers.get_all`; for the rest a comma is part of the value (a Date, a Digest
challenge).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from . import _abnf
from .errors import SipBuildError, SipParseError
from .uri import Params, _excerpt, _find_param, _format_host, parse_host, parse_params, parse_port

__all__ = [
    "CSeq",
    "Headers",
    "Via",
    "canonical_name",
    "parse_content_length",
    "parse_cseq",
    "parse_via",
    "split_list",
]

# §7.3.3 compact forms, plus those registered by later RFCs (IANA "Header Fields"
# registry): o/u RFC 6665, r RFC 3515, b RFC 3892, x RFC 4028, a/j/d RFC 3841,
# y RFC 8224.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Spellings that plain Title-Case would get wrong.
_SPECIAL_SPELLINGS = {
    name.lower(): name
    for name in (
        "Call-ID",
        "CSeq",
        "WWW-Authenticate",
        "MIME-Version",
        "RAck",
        "RSeq",
        "SIP-ETag",
        "SIP-If-Match",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
    )
}

# Headers whose grammar is a comma-separated list (1#element / element *(COMMA
# element)) and so may be split or combined freely (§7.3.1).  Everything else keeps
# its commas: WWW-Authenticate, Authorization, Date, Retry-After, Subject, CSeq...
# Unknown extension headers are not split: we cannot know their grammar.
_LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        # RFC 3261 §20
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Error-Info",
        "In-Reply-To",
        "Proxy-Require",
        "Record-Route",
        "Require",
        "Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
        # later RFCs
        "Accept-Contact",
        "Allow-Events",
        "History-Info",
        "P-Asserted-Identity",
        "P-Associated-URI",
        "P-Preferred-Identity",
        "Path",
        "Reason",
        "Reject-Contact",
        "Request-Disposition",
        "Security-Client",
        "Security-Server",
        "Security-Verify",
        "Service-Route",
    )
)


def _key(name: str) -> str:
    """Lowercased full name: the comparison key for header names."""
    lowered = name.lower()
    compact = COMPACT_FORMS.get(lowered)
    return compact.lower() if compact is not None else lowered


def canonical_name(name: str) -> str:
    """Map any spelling or compact form to the usual one: ``i`` -> ``Call-ID``,
    ``cseq`` -> ``CSeq``; unknown names are Title-Cased per dash-separated part."""
    key = _key(name)
    special = _SPECIAL_SPELLINGS.get(key)
    if special is not None:
        return special
    return "-".join(part[:1].upper() + part[1:] for part in key.split("-"))


def split_list(value: str) -> list[str]:
    """Split a list header value on top-level commas (§7.3.1).

    Commas inside a quoted-string (with backslash escapes) or inside ``<...>`` do not
    split.  Items are stripped of white space; an empty value gives no items, but an
    empty item inside a value is kept as ``""`` so the item's parser reports it.
    """
    if not value.strip(" \t"):
        return []
    if '"' not in value and "<" not in value:
        # Nothing can hide a comma: the common case, split at C speed.
        return [item.strip(" \t") for item in value.split(",")]
    items: list[str] = []
    start = 0
    in_quotes = in_angle = escaped = False
    for i, ch in enumerate(value):
        if in_quotes:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            items.append(value[start:i].strip(" \t"))
            start = i + 1
    items.append(value[start:].strip(" \t"))
    return items


_BREAKS_LINE = re.compile(r"[\r\n\x00]")


def _is_token(name: str) -> bool:
    return _abnf.TOKEN_RE.fullmatch(name) is not None


class Headers:
    """An immutable, ordered collection of ``(name, value)`` header fields.

    Names are stored as received and matched case-insensitively, compact forms
    included.  Values are stored unfolded and stripped (§7.3.1).
    """

    __slots__ = ("_items", "_keys")

    _items: tuple[tuple[str, str], ...]
    _keys: tuple[str, ...]

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        checked = tuple((name, value) for name, value in items)
        for name, value in checked:
            # Guard against header injection from our own callers: a CR or LF in a
            # value would start a new header (or the body) on the wire.
            if not isinstance(name, str) or not _is_token(name):
                raise SipBuildError(f"header name {name!r} is not a token (§25.1)")
            if not isinstance(value, str) or _BREAKS_LINE.search(value):
                raise SipBuildError(f"header {name}: value {value!r} contains CR, LF or NUL")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise SipBuildError(f"header {name}: value is not valid Unicode") from None
        object.__setattr__(self, "_items", checked)
        object.__setattr__(self, "_keys", tuple(_key(name) for name, _ in checked))

    @classmethod
    def parsed(cls, fields: Sequence[tuple[str, str]]) -> Headers:
        """Fields read by the message parser, which admits only token names and values
        without CR, LF or NUL (§7.3.1, §25.1): kept without checking them again."""
        headers = cls.__new__(cls)
        checked = tuple(fields)
        object.__setattr__(headers, "_items", checked)
        object.__setattr__(headers, "_keys", tuple(_key(name) for name, _ in checked))
        return headers

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Headers is immutable")

    def get(self, name: str) -> str | None:
        """Value of the first field called ``name`` (any case or compact form)."""
        try:
            return self._items[self._keys.index(_key(name))][1]
        except ValueError:
            return None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, list headers split into their elements."""
        key = _key(name)
        values = [v for k, (_n, v) in zip(self._keys, self._items, strict=True) if k == key]
        if key not in _LIST_HEADERS:
            return values
        return [item for value in values for item in split_list(value)]

    def fields(self, name: str) -> tuple[str, ...]:
        """The value of each field called ``name``, as received (lists not split)."""
        key = _key(name)
        return tuple(v for k, (_n, v) in zip(self._keys, self._items, strict=True) if k == key)

    def items(self) -> tuple[tuple[str, str], ...]:
        """All fields in order, as ``(name-as-received, value)``."""
        return self._items

    def keys(self) -> tuple[str, ...]:
        """Each field's comparison key, in order: its full name, lowercased (``i`` and
        ``Call-ID`` both give ``call-id``)."""
        return self._keys

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


# --- Via (§20.42) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm: ``SIP/2.0/TLS host:port;branch=...``."""

    protocol: str
    transport: str
    host: str
    port: int | None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (§8.1.1.7), the transaction id."""
        return _find_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter a server adds with our source address (§18.2.1)."""
        return _find_param(self.params, "received")

    @property
    def has_rport(self) -> bool:
        """Whether ``rport`` is present at all, with or without a value (RFC 3581)."""
        return any(name == "rport" for name, _ in self.params)

    @property
    def rport(self) -> int | None:
        """The port the server filled into ``rport`` (RFC 3581 §4), else None."""
        value = _find_param(self.params, "rport")
        if value is None:
            return None
        try:
            return parse_port(value)
        except SipParseError:
            return None

    @property
    def host_port(self) -> str:
        host = _format_host(self.host)
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params)
        return f"{self.protocol}/{self.transport} {self.host_port}{params}"


def parse_via(value: str) -> Via:
    """Parse one via-parm (§25.1); use ``Headers.get_all("Via")`` to get them one each."""
    text = value.strip(" \t")

    def where() -> str:  # only an error needs the excerpt
        return f"Via {_excerpt(text)}"

    match = _abnf.VIA_HEAD_RE.match(text)
    if not match:
        raise SipParseError(f"{where()}: expected 'SIP/2.0/<transport> host[:port]'")
    name, version, transport, host_text, port_text = match.groups()
    try:
        host, _ = parse_host(host_text)
        port = parse_port(port_text) if port_text is not None else None
    except SipParseError as exc:
        raise SipParseError(f"{where()}: {exc.detail}") from None
    params = parse_params(text, match.end(), what=where, pattern=_abnf.VIA_PARAM_RE)
    rport = _find_param(params, "rport")
    if rport is not None:
        # RFC 3581 §4: response-port = "rport" [EQUAL 1*DIGIT]
        try:
            parse_port(rport)
        except SipParseError as exc:
            raise SipParseError(f"{where()}: rport: {exc.detail}") from None
    # Protocol name and transport are tokens compared case-insensitively (§7.3.1);
    # upper case is how every implementation writes them.
    return Via(f"{name.upper()}/{version}", transport.upper(), host, port, params)


# --- CSeq (§20.16) and Content-Length (§20.14) -----------------------------------------

# §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer and
# MUST be less than 2**31.
CSEQ_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: <number> <method>``."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def _bounded_int(digits: str, maximum: int, what: str) -> int:
    # Strip zeros before int() so a long run of digits is refused cheaply and never
    # reaches Python's int-from-string length limit.
    significant = digits.lstrip("0")
    if len(significant) > len(str(maximum)) or (significant and int(significant) > maximum):
        raise SipParseError(f"{what} {_excerpt(digits)} is above {maximum}")
    return int(significant or "0")


def parse_cseq(value: str) -> CSeq:
    """Parse ``1*DIGIT LWS Method`` (§20.16); the number must be below 2**31."""
    text = value.strip(" \t")
    match = _abnf.CSEQ_RE.fullmatch(text)
    if not match:
        raise SipParseError(f"CSeq {_excerpt(text)}: expected '<number> <METHOD>'")
    return CSeq(_bounded_int(match[1], CSEQ_MAX, "CSeq number"), match[2])


# Content-Length is 1*DIGIT with no upper bound in §20.14; anything that does not fit
# a signed 32-bit length is absurd for SIP and is refused before Limits even apply.
CONTENT_LENGTH_MAX = 2**31 - 1


def parse_content_length(value: str) -> int:
    """Parse ``Content-Length: 1*DIGIT`` (§20.14); leading zeros are allowed."""
    text = value.strip(" \t")
    if not _abnf.DIGITS_RE.fullmatch(text):
        raise SipParseError(f"Content-Length {_excerpt(text)}: digits expected")
    return _bounded_int(text, CONTENT_LENGTH_MAX, "Content-Length")
