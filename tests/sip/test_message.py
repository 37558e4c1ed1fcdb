"""Parsing and serialising whole messages (RFC 3261 §7, §18.3, §20)."""

from __future__ import annotations

import pytest

from probe.sip import (
    CSeq,
    Headers,
    Request,
    Response,
    SipBuildError,
    SipLimitError,
    SipParseError,
    parse_message,
    parse_uri,
)

from .samples import REQUEST_LINES, RESPONSE_LINES, replace_header, wire


def response(
    *changes: tuple[str, str | None], body: bytes = b"", start: str | None = None
) -> bytes:
    lines = list(RESPONSE_LINES)
    if start is not None:
        lines[0] = start
    for name, new in changes:
        lines = replace_header(lines, name, new)
    return wire(lines, body)


def request(*changes: tuple[str, str | None], body: bytes = b"", start: str | None = None) -> bytes:
    lines = list(REQUEST_LINES)
    if start is not None:
        lines[0] = start
    for name, new in changes:
        lines = replace_header(lines, name, new)
    return wire(lines, body)


# --- valid, tortuous messages --------------------------------------------------------

VALID = [
    pytest.param(
        response(("Content-Length", None), ("Subject", None)).replace(
            b"\r\n\r\n", b"\r\nSubject: lunch\r\n   at\r\n\tnoon\r\nContent-Length: 0\r\n\r\n"
        ),
        {"header": ("subject", "lunch at noon")},
        id="folding",
    ),
    pytest.param(
        wire(
            [
                "SIP/2.0 200 OK",
                "v: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc",
                "f: <sip:a@b.example>;tag=1",
                "t: <sip:c@d.example>",
                "i: abc",
                "CSeq: 1 OPTIONS",
                "l: 0",
            ]
        ),
        {"call_id": "abc", "branch": "z9hG4bKabc", "from_tag": "1"},
        id="compact-forms",
    ),
    pytest.param(
        response(
            ("CSeq", "CSeq   :   1 OPTIONS"),
            ("Call-ID", "Call-ID:call-1@192.0.2.10"),
            ("To", "To\t:\t<sip:trunk.example.com>;tag=tt   "),
        ),
        {
            "cseq": CSeq(1, "OPTIONS"),
            "to_tag": "tt",
            "header": ("To", "<sip:trunk.example.com>;tag=tt"),
        },
        id="odd-spacing-around-colons",
    ),
    pytest.param(
        response(("X-Weird_Header!", 'X-Weird_Header!: anything, with, commas; and "quotes')),
        {
            "header": ("x-weird_header!", 'anything, with, commas; and "quotes'),
            "all": ("x-weird_header!", 1),
        },
        id="unknown-header",
    ),
    pytest.param(
        response(
            ("Content-Length", "Content-Length: 0005"),
            ("CSeq", "CSeq: 0000000001 OPTIONS"),
            ("Via", "Via: SIP/2.0/TLS 192.0.2.10:0005061;branch=z9hG4bKabc"),
            body=b"hello",
        ),
        {"cseq": CSeq(1, "OPTIONS"), "via_port": 5061, "body": b"hello"},
        id="leading-zeros",
    ),
    pytest.param(
        response(("From", 'From: "Bob \\"the builder\\" \\\\o/" <sip:bob@b.example>;tag=9')),
        {"from_display": 'Bob "the builder" \\o/', "from_tag": "9"},
        id="escaped-quotes-in-display-name",
    ),
    pytest.param(
        response(
            (
                "Via",
                "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc, SIP/2.0/TLS p1.example;"
                "branch=z9hG4bKp1\r\nv: SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bKp2",
            )
        ),
        {"all": ("Via", 3), "branch": "z9hG4bKabc"},
        id="multiple-via",
    ),
    pytest.param(
        request(
            ("Via", "Via: SIP/2.0/TLS [2001:db8::10]:5061;branch=z9hG4bKabc;rport"),
            ("From", "From: <sip:sipprobe@[2001:db8::10]>;tag=ft"),
            start="OPTIONS sip:[2001:DB8::1]:5061;transport=tls SIP/2.0",
        ),
        {"via_host": "2001:db8::10", "uri": "sip:[2001:db8::1]:5061;transport=tls"},
        id="ipv6-hosts",
    ),
    pytest.param(
        request(start="OPTIONS sips:trunk.example.com SIP/2.0"),
        {"secure": True, "uri": "sips:trunk.example.com"},
        id="sips",
    ),
    pytest.param(
        request(start="OPTIONS sip:trunk.example.com;transport=TLS SIP/2.0"),
        {"secure": True},
        id="transport-tls",
    ),
    pytest.param(
        response(
            ("Content-Length", "Content-Length: 14"),
            ("Content-Type", "Content-Type: application/sdp"),
            body=b"v=0\r\no=- 1 1\r\n",
        ),
        {"body": b"v=0\r\no=- 1 1\r\n"},
        id="body-exact-length",
    ),
    pytest.param(response(start="SIP/2.0 199 Early"), {"status": 199}, id="status-199"),
    pytest.param(response(start="SIP/2.0 299 Fine"), {"status": 299}, id="status-299"),
    pytest.param(response(start="SIP/2.0 699 Nope"), {"status": 699}, id="status-699"),
    pytest.param(response(start="SIP/2.0 100 "), {"status": 100, "reason": ""}, id="empty-reason"),
    pytest.param(
        response(start="SIP/2.0 200 Très bien  \tmerci"),
        {"reason": "Très bien  \tmerci"},
        id="utf8-reason",
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: 3\r\nl: 3"), body=b"abc"),
        {"body": b"abc"},
        id="agreeing-content-lengths",
    ),
    pytest.param(
        request(("CSeq", "CSeq: 5 foo"), start="foo sip:a.example SIP/2.0"),
        {"method": "foo"},
        id="extension-method",
    ),
    pytest.param(
        request(("Max-Forwards", None)), {"method": "OPTIONS"}, id="request-without-max-forwards"
    ),
    pytest.param(
        response(("Subject", "Subject:")), {"header": ("Subject", "")}, id="empty-header-value"
    ),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_parse_valid_message(raw, expected):
    message = parse_message(raw)
    checks = {
        "header": lambda m, v: m.headers.get(v[0]) == v[1],
        "all": lambda m, v: len(m.headers.get_all(v[0])) == v[1],
        "call_id": lambda m, v: m.call_id == v,
        "branch": lambda m, v: m.top_via.branch == v,
        "via_port": lambda m, v: m.top_via.port == v,
        "via_host": lambda m, v: m.top_via.host == v,
        "from_tag": lambda m, v: m.from_.tag == v,
        "from_display": lambda m, v: m.from_.display_name == v,
        "to_tag": lambda m, v: m.to.tag == v,
        "cseq": lambda m, v: m.cseq == v,
        "body": lambda m, v: m.body == v,
        "status": lambda m, v: m.status_code == v,
        "reason": lambda m, v: m.reason == v,
        "method": lambda m, v: m.method == v,
        "uri": lambda m, v: m.uri == parse_uri(v),
        "secure": lambda m, v: m.uri.is_secure is v,
    }
    for key, value in expected.items():
        assert checks[key](message, value), (key, value)
    # Whatever parsed must serialise and parse back to the same message.
    assert parse_message(message.to_bytes()) == message


# --- invalid messages ----------------------------------------------------------------

INVALID = [
    pytest.param(b"", "no empty line", 1, id="empty"),
    pytest.param(b"\r\n\r\n", "empty start line", 1, id="keepalive-datagram"),
    pytest.param(response().replace(b"\r\n\r\n", b"\r\n"), "no empty line", 8, id="no-blank-line"),
    pytest.param(response(start="SIP/2.0 200"), "SP required", 1, id="status-no-sp"),
    pytest.param(response(start="SIP/2.0  200 OK"), "status code", 1, id="status-double-sp"),
    pytest.param(response(start="SIP/2.1 200 OK"), "'SIP/2.1' is not SIP/2.0", 1, id="sip-2.1"),
    pytest.param(response(start="SIP/3.0 200 OK"), "'SIP/3.0' is not SIP/2.0", 1, id="sip-3.0"),
    pytest.param(response(start="sip/2.0 200 OK"), "upper case", 1, id="lowercase-version"),
    pytest.param(response(start="SIP/2.0 099 Low"), "'099' is not in 100-699", 1, id="status-99"),
    pytest.param(response(start="SIP/2.0 99 Low"), "'99'", 1, id="status-2-digits"),
    pytest.param(response(start="SIP/2.0 700 High"), "'700'", 1, id="status-700"),
    pytest.param(response(start="SIP/2.0 1000 High"), "'1000'", 1, id="status-1000"),
    pytest.param(response(start="SIP/2.0 20x OK"), "'20x'", 1, id="status-20x"),
    pytest.param(
        response(start="SIP/2.0 ２００ OK"), "not in 100-699", 1, id="status-unicode-digits"
    ),
    pytest.param(request(start="OPTIONS sip:a.example SIP/2.1"), "'SIP/2.1'", 1, id="req-2.1"),
    pytest.param(request(start="OPTIONS sip:a.example sip/2.0"), "upper case", 1, id="req-lower"),
    pytest.param(request(start="OPTIONS sip:a.example"), "request line", 1, id="req-2-parts"),
    pytest.param(request(start="OPTIONS  sip:a.example SIP/2.0"), "request line", 1, id="req-2sp"),
    pytest.param(
        request(start="OPTIONS sip:a.example SIP/2.0 x"), "request line", 1, id="req-4-parts"
    ),
    pytest.param(
        request(start="OPT@ONS sip:a.example SIP/2.0"), "request line", 1, id="bad-method"
    ),
    pytest.param(request(start="OPTIONS tel:+1234 SIP/2.0"), "Request-URI", 1, id="tel-uri"),
    pytest.param(request(start="HELLO"), "request line", 1, id="garbage"),
    pytest.param(
        response(("Content-Length", "Content-Length: -1")),
        "Content-Length '-1'",
        7,
        id="cl-negative",
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: abc")),
        "Content-Length 'abc'",
        7,
        id="cl-alpha",
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: ")), "Content-Length ''", 7, id="cl-empty"
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: 99999999999999999999")),
        "is above",
        7,
        id="cl-huge",
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: 2\r\nl: 3"), body=b"abc"),
        "disagrees",
        8,
        id="cl-disagree",
    ),
    pytest.param(
        response(("Content-Length", "Content-Length: 10"), body=b"abc"),
        "larger than the 3 body bytes",
        7,
        id="cl-beyond-datagram",
    ),
    pytest.param(
        response().replace(b"Via", b"Vi\x00a"), "NUL byte at column 3", 2, id="nul-in-name"
    ),
    pytest.param(response().replace(b"tag=tt", b"tag=t\x00"), "NUL byte", 4, id="nul-in-value"),
    pytest.param(response().replace(b"200 OK", b"200 O\x00"), "NUL byte", 1, id="nul-in-start"),
    pytest.param(response().replace(b"tag=tt", b"tag=\x1b"), "control byte 0x1b", 4, id="esc"),
    pytest.param(response().replace(b"tag=tt", b"tag=\rt"), "CR without LF", 4, id="bare-cr"),
    pytest.param(
        response(start="SIP/2.0 200 \xff").replace(b"\xc3\xbf", b"\xff"),
        "UTF-8",
        1,
        id="reason-latin1",
    ),
    pytest.param(
        response(("Subject", "Subject: \xe9t\xe9")).replace(b"\xc3\xa9", b"\xe9"),
        "header Subject is not valid UTF-8",
        7,
        id="header-latin1",
    ),
    pytest.param(response().replace(b"\r\n", b"\n"), "bare LF", 1, id="lf-only"),
    pytest.param(response().replace(b"Call-ID", b"\nCall-ID"), "CRLF", 5, id="one-bare-lf"),
    pytest.param(
        response(start="SIP/2.0 200 OK\r\n continued"),
        "continuation line before any header",
        2,
        id="fold-before-header",
    ),
    pytest.param(response(("Subject", "Subject no colon")), "has no ':'", 7, id="no-colon"),
    pytest.param(
        response(("Subject", "Sub ject: x")), "invalid field name 'Sub ject'", 7, id="space-in-name"
    ),
    pytest.param(response(("Subject", ": x")), "invalid field name ''", 7, id="empty-name"),
    pytest.param(
        response(("Subject", "Subj\xe9ct: x")), "invalid field name", 7, id="non-ascii-name"
    ),
    pytest.param(response(("CSeq", "CSeq: abc")), "CSeq: CSeq 'abc'", 6, id="cseq-abc"),
    pytest.param(response(("CSeq", "CSeq: 2147483648 OPTIONS")), "above", 6, id="cseq-2-31"),
    pytest.param(
        response(("CSeq", "CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS")), "second CSeq", 7, id="cseq-twice"
    ),
    pytest.param(
        response(("Call-ID", "Call-ID: a\r\ni: b")), "second Call-ID header", 6, id="call-id-twice"
    ),
    pytest.param(
        request(("CSeq", "CSeq: 1 INVITE")), "does not match request method", 7, id="cseq-method"
    ),
    pytest.param(response(("From", "From: <sip:a@b.example")), "From:", 3, id="bad-from"),
    pytest.param(response(("To", "To: tel:+1234")), "To:", 4, id="bad-to"),
    pytest.param(response(("Via", "Via: SIP/2.0/TLS")), "Via:", 2, id="bad-top-via"),
    pytest.param(response(("Via", "Via: , SIP/2.0/UDP a.example")), "Via:", 2, id="empty-top-via"),
    pytest.param(response(("Call-ID", "Call-ID: a b")), "Call-ID is not", 5, id="call-id-space"),
    pytest.param(response(("Call-ID", "Call-ID:")), "Call-ID is not", 5, id="call-id-empty"),
]


@pytest.mark.parametrize(("raw", "message", "line"), INVALID)
def test_parse_invalid_message(raw, message, line):
    with pytest.raises(SipParseError) as info:
        parse_message(raw)
    assert message in str(info.value)
    assert info.value.line == line
    if line is not None:
        assert str(info.value).startswith(f"line {line}: ")


@pytest.mark.parametrize("name", ["Via", "From", "To", "Call-ID", "CSeq"])
@pytest.mark.parametrize("build", [response, request], ids=["response", "request"])
def test_missing_mandatory_header(build, name):
    with pytest.raises(SipParseError, match=f"missing mandatory {name} header"):
        parse_message(build((name, None)))


# --- Content-Length on datagrams and streams (§18.3) ---------------------------------


def test_datagram_without_content_length_takes_the_rest():
    message = parse_message(response(("Content-Length", None), body=b"rest of datagram"))
    assert message.body == b"rest of datagram"


def test_datagram_discards_bytes_beyond_content_length():
    message = parse_message(response(("Content-Length", "Content-Length: 3"), body=b"abcdef"))
    assert message.body == b"abc"


def test_stream_requires_content_length():
    with pytest.raises(SipParseError, match="missing Content-Length"):
        parse_message(response(("Content-Length", None)), stream=True)


@pytest.mark.parametrize("body", [b"ab", b"abcd"])
def test_stream_content_length_must_match_exactly(body):
    with pytest.raises(SipParseError, match="does not match"):
        parse_message(response(("Content-Length", "Content-Length: 3"), body=body), stream=True)


def test_stream_exact_content_length():
    raw = response(("Content-Length", "Content-Length: 3"), body=b"abc")
    assert parse_message(raw, stream=True).body == b"abc"


def test_accepts_bytearray_and_memoryview():
    raw = response()
    assert parse_message(bytearray(raw)) == parse_message(memoryview(raw)) == parse_message(raw)


# --- accessors and serialisation -----------------------------------------------------


def test_message_accessors():
    message = parse_message(request())
    assert isinstance(message, Request)
    assert message.method == "OPTIONS"
    assert message.call_id == "call-1@192.0.2.10"
    assert message.cseq == CSeq(1, "OPTIONS")
    assert message.top_via.branch == "z9hG4bKabc"
    assert message.top_via.has_rport
    assert message.from_.tag == "ft"
    assert message.to.tag is None


def test_accessors_on_hand_built_message_report_missing_headers():
    bare = Response(200, "OK", Headers())
    for accessor in ("call_id", "cseq", "top_via", "from_", "to"):
        with pytest.raises(SipParseError, match="missing"):
            getattr(bare, accessor)


def test_to_bytes_adds_content_length():
    message = Response(200, "OK", Headers([("Call-ID", "x")]), b"body")
    assert message.to_bytes() == b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody"


def test_to_bytes_keeps_a_correct_content_length():
    message = Response(200, "OK", Headers([("l", "4")]), b"body")
    assert message.to_bytes() == b"SIP/2.0 200 OK\r\nl: 4\r\n\r\nbody"


@pytest.mark.parametrize("value", ["3", "5", "x", "-4"])
def test_to_bytes_refuses_a_wrong_content_length(value):
    message = Response(200, "OK", Headers([("Content-Length", value)]), b"body")
    with pytest.raises(SipBuildError, match="Content-Length"):
        message.to_bytes()


def test_request_to_bytes():
    uri = parse_uri("sip:a@b.example;transport=tls")
    message = Request("OPTIONS", uri, Headers([("CSeq", "1 OPTIONS")]))
    assert message.to_bytes() == (
        b"OPTIONS sip:a@b.example;transport=tls SIP/2.0\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: Request("OPT IONS", parse_uri("sip:a.example"), Headers()), id="method"
        ),
        pytest.param(lambda: Request("OPTIONS", "sip:a.example", Headers()), id="uri-str"),
        pytest.param(
            lambda: Request("OPTIONS", parse_uri("sip:a.example"), [("A", "b")]), id="headers"
        ),
        pytest.param(
            lambda: Request("OPTIONS", parse_uri("sip:a.example"), Headers(), "x"), id="body"
        ),
        pytest.param(lambda: Response(99, "Low", Headers()), id="status-99"),
        pytest.param(lambda: Response(700, "High", Headers()), id="status-700"),
        pytest.param(lambda: Response(True, "Bool", Headers()), id="status-bool"),
        pytest.param(lambda: Response(200, "OK\r\nVia: x", Headers()), id="reason-crlf"),
    ],
)
def test_invalid_messages_cannot_be_built(make):
    with pytest.raises(SipBuildError):
        make()


def test_limit_error_is_a_parse_error():
    # Callers that catch SipParseError also catch limit violations.
    assert issubclass(SipLimitError, SipParseError)


@pytest.mark.parametrize(
    "contact",
    ["<tel:+15550100>", "tel:+15550100", '"Help desk" <mailto:noc@example.test>'],
)
def test_a_redirect_to_another_scheme_parses(contact: str) -> None:
    # A 3xx may point at a tel: or any other URI (RFC 3261 §21.3); the '<>' rule of §20.10
    # is about SIP URIs, so only sip: and sips: Contacts are parsed.
    message = parse_message(response(("Contact", f"Contact: {contact}"), start="SIP/2.0 302 Moved"))
    assert isinstance(message, Response)
    assert message.headers.get("Contact") == contact


def test_a_sip_contact_with_a_question_mark_outside_brackets_is_still_refused() -> None:
    with pytest.raises(SipParseError):
        parse_message(response(("Contact", "Contact: sip:a@example.test?Subject=x")))
