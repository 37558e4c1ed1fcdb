"""The §25.1 character classes, checked code point by code point against the ABNF."""

from __future__ import annotations

import re

from probe.sip import _abnf


def _is_qdtext(code: int) -> bool:
    # qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII (scalar values only)
    return (
        code in (0x09, 0x20, 0x21)
        or 0x23 <= code <= 0x5B
        or 0x5D <= code <= 0x7E
        or (code >= 0x80 and not 0xD800 <= code <= 0xDFFF)
    )


def test_qdtext_is_exactly_the_abnf_set() -> None:
    qdtext = re.compile(_abnf.QDTEXT)
    codes = [*range(0x10000), 0x10000, 0x1F600, 0xFFFFF, 0x10FFFF]
    wrong = [hex(c) for c in codes if bool(qdtext.fullmatch(chr(c))) != _is_qdtext(c)]
    assert wrong == []


def test_quoted_string_takes_escapes_and_refuses_bare_quotes_and_controls() -> None:
    quoted = _abnf.QUOTED_STRING_RE
    assert quoted.fullmatch('"Alice \\"A\\" Smith é"')
    assert quoted.fullmatch('"tab\tand \\\\ backslash"')
    assert not quoted.fullmatch('"a"b"')
    assert not quoted.fullmatch('"line\r\nbreak"')
    assert not quoted.fullmatch('"lone \\"')
    assert not quoted.fullmatch('"\udc80"')
