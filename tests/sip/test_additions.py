"""What a user may add to OPTIONS (probe.sip.additions) and where the builder puts it:
nothing added can break the framing, the transaction or the way back."""

from __future__ import annotations

import pytest

from probe.sip import SipBuildError, build_options, new_branch, parse_message, parse_uri
from probe.sip.additions import check_text_value, parse_added_header, parse_added_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Test: hello", ("X-Test", "hello")),
        (
            "  P-Asserted-Identity :  <sip:+15550100@example.test>  ",
            ("P-Asserted-Identity", "<sip:+15550100@example.test>"),
        ),
        ("Subject:", ("Subject", "")),
        ("X-Tab: a\tb", ("X-Tab", "a\tb")),
        ("Accept: application/sdp, text/plain", ("Accept", "application/sdp, text/plain")),
    ],
)
def test_a_header_is_name_and_value(text: str, expected: tuple[str, str]) -> None:
    assert parse_added_header(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("X-Test hello", "expected 'Name: value'"),
        ("X Test: hello", "not a header name"),
        (": hello", "not a header name"),
        ("Via: SIP/2.0/TCP 10.0.0.1", "Via cannot be added"),
        ("v: SIP/2.0/TCP 10.0.0.1", "Via cannot be added"),
        ("call-id: x", "Call-ID cannot be added"),
        ("i: x", "Call-ID cannot be added"),
        ("CSeq: 1 OPTIONS", "CSeq cannot be added"),
        ("Content-Length: 10", "Content-Length cannot be added"),
        ("l: 10", "Content-Length cannot be added"),
        ("c: text/plain", "Content-Type cannot be added"),
        ("To: <sip:x@y>", "To cannot be added"),
        ("f: <sip:x@y>", "use --from"),
        ("m: <sip:x@y>", "use --contact"),
        ("Max-Forwards: 0", "Max-Forwards cannot be added"),
        ("User-Agent: x", "use --user-agent"),
        ("Authorization: Digest x", "credentials never come from the command line"),
        ("X-Smuggle: a\r\nVia: SIP/2.0/UDP evil", "control character '\\r'"),
        ("X-Smuggle: a\nb", "control character '\\n'"),
        ("X-Nul: a\x00b", "control character"),
    ],
)
def test_what_would_break_the_request_is_refused(text: str, words: str) -> None:
    with pytest.raises(SipBuildError) as refused:
        parse_added_header(text)
    assert words in str(refused.value)


def test_a_uri_with_a_password_is_refused_without_quoting_it() -> None:
    with pytest.raises(SipBuildError) as refused:
        parse_added_uri("--from", "sip:alice:s3cret@example.test")
    assert "password" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    with pytest.raises(SipBuildError, match="--contact: not a SIP URI"):
        parse_added_uri("--contact", "http://example.test/")


def test_a_user_agent_with_a_line_break_is_refused() -> None:
    check_text_value("--user-agent", "probe (lab) 1.0")
    with pytest.raises(SipBuildError, match="control character"):
        check_text_value("--user-agent", "probe\r\nX-Evil: 1")


def test_the_builder_puts_the_additions_in_place() -> None:
    request = build_options(
        parse_uri("sip:trunk.example.test;transport=tcp"),
        transport="TCP",
        local_host="127.0.0.1",
        local_port=40000,
        branch=new_branch("b1"),
        from_tag="ft",
        call_id="c1",
        user_agent="parity/1",
        from_uri=parse_added_uri("--from", "sip:alice@example.test"),
        contact_uri=parse_added_uri("--contact", "sips:probe@192.0.2.1:5999"),
        extra_headers=[parse_added_header("X-A: 1"), parse_added_header("Accept: text/plain")],
    )
    parsed = parse_message(request.to_bytes())
    assert parsed.headers.get("From") == "<sip:alice@example.test>;tag=ft"
    assert parsed.headers.get("Contact") == "<sips:probe@192.0.2.1:5999>"
    assert parsed.headers.get_all("Accept") == ["text/plain"]  # the user's replaces ours
    assert [name for name, _ in parsed.headers.items()][-4:] == [
        "User-Agent",
        "X-A",
        "Accept",
        "Content-Length",
    ]
