"""Header collection, list splitting and the Via / CSeq / Content-Length values."""

from __future__ import annotations

import pytest

from probe.sip import (
    CSeq,
    Headers,
    SipBuildError,
    SipParseError,
    canonical_name,
    parse_content_length,
    parse_cseq,
    parse_via,
)
from probe.sip.headers import COMPACT_FORMS, split_list


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("call-id", "Call-ID"),
        ("CALL-ID", "Call-ID"),
        ("i", "Call-ID"),
        ("cseq", "CSeq"),
        ("www-authenticate", "WWW-Authenticate"),
        ("v", "Via"),
        ("V", "Via"),
        ("content-length", "Content-Length"),
        ("l", "Content-Length"),
        ("x-my-header", "X-My-Header"),
        ("y", "Identity"),
    ],
)
def test_canonical_name(name, canonical):
    assert canonical_name(name) == canonical


@pytest.mark.parametrize(("compact", "full"), sorted(COMPACT_FORMS.items()))
def test_every_compact_form_finds_the_full_name(compact, full):
    headers = Headers([(compact, "value")])
    assert headers.get(full) == "value"
    assert headers.get(full.upper()) == "value"
    assert headers.get(compact.upper()) == "value"
    assert Headers([(full, "v2")]).get(compact) == "v2"


def test_get_is_first_occurrence_case_insensitive():
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("Via", "v")])
    assert headers.get("X-a") == "1"
    assert headers.get("missing") is None
    assert "x-A" in headers
    assert "missing" not in headers
    assert len(headers) == 3
    assert list(headers) == [("X-A", "1"), ("x-a", "2"), ("Via", "v")]
    assert headers.items() == (("X-A", "1"), ("x-a", "2"), ("Via", "v"))


def test_get_all_splits_list_headers_across_and_within_fields():
    headers = Headers(
        [
            ("Via", "SIP/2.0/TLS a:5061;branch=z9hG4bK1"),
            ("v", "SIP/2.0/TLS b;branch=z9hG4bK2 , SIP/2.0/UDP c;branch=z9hG4bK3"),
            ("Contact", '"Smith, J" <sip:j@a.example;x=1,2>, <sip:k@b.example>'),
        ]
    )
    assert headers.get_all("VIA") == [
        "SIP/2.0/TLS a:5061;branch=z9hG4bK1",
        "SIP/2.0/TLS b;branch=z9hG4bK2",
        "SIP/2.0/UDP c;branch=z9hG4bK3",
    ]
    assert headers.get_all("m") == ['"Smith, J" <sip:j@a.example;x=1,2>', "<sip:k@b.example>"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WWW-Authenticate", 'Digest realm="a", nonce="b", algorithm=MD5'),
        ("Authorization", 'Digest username="u", response="r"'),
        ("Proxy-Authenticate", 'Digest realm="a", qop="auth,auth-int"'),
        ("Proxy-Authorization", 'Digest username="u", uri="sip:a"'),
        ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
        ("Retry-After", "18000;duration=3600 (lunch, back soon)"),
        ("Subject", "lunch, dinner"),
        ("i", "a,b@c"),
        ("CSeq", "1, OPTIONS"),
        ("X-Unknown", "a, b"),
    ],
)
def test_get_all_keeps_commas_of_non_list_headers(name, value):
    assert Headers([(name, value), (name, value)]).get_all(name) == [value, value]


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("", []),
        ("  ", []),
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        (" a ,\tb ", ["a", "b"]),
        ("a,,b", ["a", "", "b"]),
        ('"x,\\"y,z" <sip:a,b>, c', ['"x,\\"y,z" <sip:a,b>', "c"]),
        ('"back\\\\", d', ['"back\\\\"', "d"]),
    ],
)
def test_split_list(value, items):
    assert split_list(value) == items


def test_headers_are_immutable_and_comparable():
    headers = Headers([("A", "1")])
    with pytest.raises(AttributeError):
        headers.x = 1
    assert headers == Headers([("A", "1")])
    assert headers != Headers([("a", "1")])
    assert hash(headers) == hash(Headers([("A", "1")]))
    assert "Headers" in repr(headers)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Bad Name", "x"),
        ("", "x"),
        ("Colon:", "x"),
        ("Subject", "a\r\nVia: injected"),
        ("Subject", "a\nb"),
        ("Subject", "nul\x00"),
    ],
)
def test_headers_refuse_what_cannot_go_on_the_wire(name, value):
    with pytest.raises(SipBuildError):
        Headers([(name, value)])


# --- Via ------------------------------------------------------------------------------

VALID_VIAS = [
    pytest.param(
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK776;rport",
        ("SIP/2.0", "TLS", "192.0.2.1", 5061, "z9hG4bK776", None, True, None),
        id="typical",
    ),
    pytest.param(
        "SIP / 2.0 / TLS  host.example : 05061 ; branch=z9hG4bK1 ;Received=192.0.2.9; rport=12345",
        ("SIP/2.0", "TLS", "host.example", 5061, "z9hG4bK1", "192.0.2.9", True, 12345),
        id="odd-spacing",
    ),
    pytest.param(
        "sip/2.0/udp [2001:DB8::1];branch=z9hG4bKx;received=2001:db8::9",
        ("SIP/2.0", "UDP", "2001:db8::1", None, "z9hG4bKx", "2001:db8::9", False, None),
        id="ipv6-lowercase",
    ),
    pytest.param(
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;received=[2001:db8::9]",
        (
            "SIP/2.0",
            "WSS",
            "df7jal23ls0d.invalid",
            None,
            "z9hG4bKnashds7",
            "[2001:db8::9]",
            False,
            None,
        ),
        id="ws-bracketed-received",
    ),
    pytest.param(
        'SIP/2.0/UDP h.example;x-quoted="a;b,c";maddr=224.2.0.1;ttl=16',
        ("SIP/2.0", "UDP", "h.example", None, None, None, False, None),
        id="quoted-param",
    ),
]


@pytest.mark.parametrize(("value", "expected"), VALID_VIAS)
def test_parse_via(value, expected):
    via = parse_via(value)
    protocol, transport, host, port, branch, received, has_rport, rport = expected
    assert via.protocol == protocol
    assert via.transport == transport
    assert via.host == host
    assert via.port == port
    assert via.branch == branch
    assert via.received == received
    assert via.has_rport is has_rport
    assert via.rport == rport
    assert parse_via(str(via)) == via


def test_via_flag_params_have_no_value():
    via = parse_via("SIP/2.0/UDP host;branch;rport")
    assert via.params == (("branch", None), ("rport", None))
    assert via.branch is None
    assert via.has_rport
    assert via.rport is None


def test_via_str_brackets_ipv6():
    via = parse_via("SIP/2.0/TLS [::1]:5061;branch=z9hG4bK1")
    assert via.host_port == "[::1]:5061"
    assert str(via) == "SIP/2.0/TLS [::1]:5061;branch=z9hG4bK1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("", "expected 'SIP/2.0/<transport>", id="empty"),
        pytest.param("SIP/2.0 host", "expected", id="no-transport"),
        pytest.param("SIP/2.0/UDPhost", "expected", id="no-space"),
        pytest.param("SIP/2.0/UDP", "expected", id="no-host"),
        pytest.param("SIP/2.0/UDP host:99999", "above 65535", id="bad-port"),
        pytest.param("SIP/2.0/UDP 300.1.1.1", "octet above 255", id="bad-ipv4"),
        pytest.param("SIP/2.0/UDP [::g]", "invalid IPv6", id="bad-ipv6"),
        pytest.param("SIP/2.0/UDP host;", "invalid parameter", id="empty-param"),
        pytest.param("SIP/2.0/UDP host;rport=abc", "rport", id="bad-rport"),
        pytest.param("SIP/2.0/UDP host;rport=70000", "rport", id="rport-range"),
        pytest.param("SIP/2.0/UDP host junk", "invalid parameter", id="junk"),
        pytest.param("SIP/2.0/UDP host, SIP/2.0/UDP other", "invalid parameter", id="two-vias"),
    ],
)
def test_parse_invalid_via(value, message):
    with pytest.raises(SipParseError) as info:
        parse_via(value)
    assert message in str(info.value)
    assert "Via" in str(info.value)


# --- CSeq and Content-Length ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 OPTIONS", CSeq(1, "OPTIONS")),
        ("  00042\t  INVITE ", CSeq(42, "INVITE")),
        ("0 foo", CSeq(0, "foo")),
        (f"{2**31 - 1} BYE", CSeq(2**31 - 1, "BYE")),
        ("0000000000000000000007 ACK", CSeq(7, "ACK")),
    ],
)
def test_parse_cseq(value, expected):
    assert parse_cseq(value) == expected
    assert str(expected) == f"{expected.number} {expected.method}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "1",
        "OPTIONS",
        "-1 OPTIONS",
        "1OPTIONS",
        f"{2**31} BYE",
        "1 OPT IONS",
        "9" * 5000 + " X",
    ],
)
def test_parse_invalid_cseq(value):
    with pytest.raises(SipParseError, match="CSeq"):
        parse_cseq(value)


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 0), ("00012", 12), (" 5 ", 5), (str(2**31 - 1), 2**31 - 1)]
)
def test_parse_content_length(value, expected):
    assert parse_content_length(value) == expected


@pytest.mark.parametrize(
    "value", ["", "-1", "+1", "1.0", "abc", "1 2", "0x10", "²", str(2**31), "9" * 5000]
)
def test_parse_invalid_content_length(value):
    with pytest.raises(SipParseError, match="Content-Length"):
        parse_content_length(value)


def test_fields_are_the_values_as_received_compact_names_included() -> None:
    headers = Headers([("Supported", "path, outbound"), ("Via", "SIP/2.0/TLS a"), ("k", "gruu")])
    assert headers.fields("supported") == ("path, outbound", "gruu")
    assert headers.fields("Allow") == ()
    # The elements are what get_all splits them into.
    split = [item for field in headers.fields("Supported") for item in split_list(field)]
    assert split == headers.get_all("Supported")
