"""The TNAuthList certificate extension (RFC 8226 §9): which numbers a STIR certificate
speaks for. SHAKEN certificates carry one service provider code (ATIS-1000080 §6.4.1).

    id-pe-TNAuthList OBJECT IDENTIFIER ::= { id-pe 26 }   -- 1.3.6.1.5.5.7.1.26
    TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
    TNEntry ::= CHOICE {
      spc   [0] ServiceProviderCode,
      range [1] TelephoneNumberRange,
      one   [2] TelephoneNumber }
    ServiceProviderCode ::= IA5String
    TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
    TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))

The ASN.1 module of RFC 8226 (Appendix A) uses EXPLICIT TAGS, so each entry is a
constructed [n] around the universal element. Some issuers write implicit tags instead;
such a list is read, and the reading says so. The reader is a small bounded DER walker:
definite lengths only, a limit on entries and sizes, and a problem in words for anything
else; it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.errors import ProbeError

OID = "1.3.6.1.5.5.7.1.26"
MAX_EXTENSION_BYTES = 4096
MAX_ENTRIES = 64
MAX_SPC_CHARS = 64
MAX_RANGE_COUNT = 10**15

_SEQUENCE, _IA5STRING, _INTEGER = 0x30, 0x16, 0x02
_TN_CHARS = frozenset("0123456789#*")


@dataclass(frozen=True, slots=True)
class TnAuthList:
    spcs: tuple[str, ...] = ()
    tns: tuple[str, ...] = ()
    ranges: tuple[tuple[str, int], ...] = ()
    """(first number, how many): `count` consecutive numbers of the same length."""
    implicit_tags: bool = False
    """Written with implicit tags, unlike RFC 8226's module (EXPLICIT TAGS)."""

    def covers(self, tn: str) -> bool:
        """Whether the list names `tn` itself (as a number or within a range)."""
        if tn in self.tns:
            return True
        if not tn.isdigit():
            return False
        for start, count in self.ranges:
            if start.isdigit() and len(start) == len(tn) and 0 <= int(tn) - int(start) < count:
                return True
        return False

    def described_tns(self) -> tuple[str, ...]:
        return (*self.tns, *(f"{start}+{count}" for start, count in self.ranges))


class _DerError(ProbeError, ValueError):
    pass


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos` (X.690 §8.1)."""
    if pos + 2 > len(data):
        raise _DerError("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _DerError("multi-byte tags are not used by TNAuthList")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    elif first == 0x80:
        raise _DerError("indefinite length is not DER (X.690 §10.1)")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise _DerError("impossible length")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if size < 0x80 or data[pos - count] == 0:
            raise _DerError("length not in its shortest form (X.690 §10.1)")
    if pos + size > len(data):
        raise _DerError("element longer than its container")
    return tag, pos, pos + size


def _only(data: bytes, start: int, end: int, tag: int, what: str) -> bytes:
    found, inner_start, inner_end = _element(data, start)
    if found != tag or inner_end != end:
        raise _DerError(f"{what} is not a single element of tag 0x{tag:02x}")
    return data[inner_start:inner_end]


def _telephone_number(raw: bytes) -> str:
    text = raw.decode("ascii", "replace")
    if not 1 <= len(text) <= 15 or not set(text) <= _TN_CHARS:
        raise _DerError(f"TelephoneNumber {text[:20]!r} is not 1-15 of 0-9 # * (RFC 8226 §9)")
    return text


def _spc(raw: bytes) -> str:
    text = raw.decode("ascii", "replace")
    if not 1 <= len(text) <= MAX_SPC_CHARS or not text.isprintable() or "\ufffd" in text:
        raise _DerError(f"ServiceProviderCode {text[:20]!r} is not printable IA5 text")
    return text


def _range(data: bytes, start: int, end: int) -> tuple[str, int]:
    tag, first_start, first_end = _element(data, start)
    if tag != _IA5STRING:
        raise _DerError("TelephoneNumberRange does not start with a TelephoneNumber")
    number = _telephone_number(data[first_start:first_end])
    tag, count_start, count_end = _element(data, first_end)
    if tag != _INTEGER or not 1 <= count_end - count_start <= 8:
        raise _DerError("TelephoneNumberRange count is not a small INTEGER")
    count = int.from_bytes(data[count_start:count_end], "big", signed=True)
    if not 2 <= count <= MAX_RANGE_COUNT:
        raise _DerError(f"TelephoneNumberRange count {count} is outside 2..MAX (RFC 8226 §9)")
    return number, count  # the extension marker allows more members: ignored


def parse_tn_auth_list(value: bytes) -> tuple[TnAuthList | None, str | None]:
    """The extension's value (the DER inside extnValue), or None and why it is refused."""
    if len(value) > MAX_EXTENSION_BYTES:
        return None, f"the TNAuthList is {len(value)} bytes, more than {MAX_EXTENSION_BYTES}"
    try:
        return _parse(value), None
    except _DerError as exc:
        return None, f"the TNAuthList is not valid DER for RFC 8226 §9: {exc}"


def _parse(value: bytes) -> TnAuthList:
    tag, pos, end = _element(value, 0)
    if tag != _SEQUENCE or end != len(value):
        raise _DerError("not a single SEQUENCE")
    spcs: list[str] = []
    tns: list[str] = []
    ranges: list[tuple[str, int]] = []
    implicit = False
    entries = 0
    while pos < end:
        entries += 1
        if entries > MAX_ENTRIES:
            raise _DerError(f"more than {MAX_ENTRIES} entries")
        tag, start, stop = _element(value, pos)
        if tag == 0xA0:  # [0] EXPLICIT ServiceProviderCode
            spcs.append(_spc(_only(value, start, stop, _IA5STRING, "spc")))
        elif tag == 0x80:  # [0] IMPLICIT
            implicit = True
            spcs.append(_spc(value[start:stop]))
        elif tag == 0xA1:  # [1] TelephoneNumberRange, explicit (a SEQUENCE inside) or not
            inner, inner_start, inner_stop = _element(value, start)
            if inner == _SEQUENCE and inner_stop == stop:
                ranges.append(_range(value, inner_start, inner_stop))
            else:
                implicit = True
                ranges.append(_range(value, start, stop))
        elif tag == 0xA2:  # [2] EXPLICIT TelephoneNumber
            tns.append(_telephone_number(_only(value, start, stop, _IA5STRING, "one")))
        elif tag == 0x82:
            implicit = True
            tns.append(_telephone_number(value[start:stop]))
        else:
            raise _DerError(f"entry with tag 0x{tag:02x} is none of spc, range, one")
        pos = stop
    if entries == 0:
        raise _DerError("the list is empty (SIZE (1..MAX))")
    return TnAuthList(tuple(spcs), tuple(tns), tuple(ranges), implicit)


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def encode_tn_auth_list(
    *,
    spcs: tuple[str, ...] = (),
    tns: tuple[str, ...] = (),
    ranges: tuple[tuple[str, int], ...] = (),
) -> bytes:
    """The DER of a TNAuthList with explicit tags, as RFC 8226's module writes it."""
    entries = [_tlv(0xA0, _tlv(_IA5STRING, spc.encode("ascii"))) for spc in spcs]
    for start, count in ranges:
        size = (count.bit_length() + 8) // 8  # room for the sign bit
        body = _tlv(_IA5STRING, start.encode("ascii")) + _tlv(_INTEGER, count.to_bytes(size, "big"))
        entries.append(_tlv(0xA1, _tlv(_SEQUENCE, body)))
    entries += [_tlv(0xA2, _tlv(_IA5STRING, tn.encode("ascii"))) for tn in tns]
    if not entries:
        raise ValueError("a TNAuthList has at least one entry (RFC 8226 §9)")
    return _tlv(_SEQUENCE, b"".join(entries))
