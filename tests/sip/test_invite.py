"""INVITE, the ACK for a non-2xx response, and CANCEL (RFC 3261 §13.2.1, §17.1.1.3, §9.1)."""

from __future__ import annotations

from typing import Any

import pytest

from probe.sip import (
    Request,
    SipBuildError,
    SipUri,
    build_ack_non2xx,
    build_cancel,
    build_invite,
    build_options,
    build_response,
    new_branch,
    parse_message,
    parse_uri,
)

TARGET = parse_uri("sip:+15551230000@trunk.example.com:5061;transport=tls")
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
ROUTES = ("<sip:edge1.example.com;lr>", "<sip:core.example.com;lr;transport=tls>")


def invite(target: SipUri = TARGET, **overrides: Any) -> Request:
    kwargs: dict[str, Any] = {
        "transport": "TLS",
        "local_host": "192.0.2.10",
        "local_port": 40123,
        "branch": new_branch("inv1"),
        "from_tag": "ft1",
        "call_id": "call-1@192.0.2.10",
        "user_agent": "sipprobe/0.1",
        "body": SDP,
    } | overrides
    return build_invite(target, **kwargs)


def test_invite_headers_follow_8_1_1():
    request = invite()
    h = request.headers
    assert request.method == "INVITE"
    assert str(request.uri) == "sip:+15551230000@trunk.example.com:5061;transport=tls"
    assert h.get("Via") == "SIP/2.0/TLS 192.0.2.10:40123;branch=z9hG4bKinv1;rport"
    assert h.get("Max-Forwards") == "70"
    assert h.get("From") == "<sip:sipprobe@192.0.2.10>;tag=ft1"
    assert h.get("To") == "<sip:+15551230000@trunk.example.com>"
    assert request.to.tag is None
    assert h.get("Call-ID") == "call-1@192.0.2.10"
    assert h.get("CSeq") == "1 INVITE"
    assert h.get("Contact") == "<sip:sipprobe@192.0.2.10:40123;transport=tls>"
    assert h.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"
    assert h.get("User-Agent") == "sipprobe/0.1"
    assert h.get("Supported") is None
    assert h.get("Route") is None


def test_invite_carries_its_body_with_type_and_length():
    request = invite()
    assert request.body == SDP
    assert request.headers.get("Content-Type") == "application/sdp"
    assert request.headers.get("Content-Length") == str(len(SDP))
    names = [name for name, _ in request.headers]
    assert names[-2:] == ["Content-Type", "Content-Length"]
    data = request.to_bytes()
    assert data.endswith(b"\r\n\r\n" + SDP)
    assert parse_message(data) == request
    assert parse_message(data, stream=True) == request


def test_invite_without_offer_has_no_content_type():
    request = invite(body=b"")
    assert request.headers.get("Content-Type") is None
    assert request.headers.get("Content-Length") == "0"


def test_invite_shares_the_8_1_1_block_with_options():
    common = {
        "transport": "TLS",
        "local_host": "192.0.2.10",
        "local_port": 40123,
        "branch": new_branch("x"),
        "from_tag": "ft1",
        "call_id": "c@h",
        "user_agent": "ua",
    }
    inv = build_invite(TARGET, body=b"", **common)
    opt = build_options(TARGET, **common)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID", "Contact"):
        assert inv.headers.get(name) == opt.headers.get(name), name
    assert inv.uri == opt.uri


def test_invite_options_to_uri_route_content_type_and_sips():
    request = invite(
        parse_uri("sips:trunk.example.com"),
        to_uri=parse_uri("sip:+15551230000@example.com;user=phone"),
        from_uri=parse_uri("sips:monitor@probe.example"),
        route=ROUTES,
        content_type="application/sdp; charset=utf-8",
        extra_headers=[("X-Run", "7")],
        cseq=5,
    )
    h = request.headers
    assert h.get("To") == "<sip:+15551230000@example.com;user=phone>"
    assert h.get("From") == "<sips:monitor@probe.example>;tag=ft1"
    assert h.get("Contact") == "<sips:sipprobe@192.0.2.10:40123>"
    assert h.get_all("Route") == list(ROUTES)
    names = [name for name, _ in h]
    # Route follows Max-Forwards, in the order given.
    assert names[:4] == ["Via", "Max-Forwards", "Route", "Route"]
    assert h.get("Content-Type") == "application/sdp; charset=utf-8"
    assert h.get("X-Run") == "7"
    assert request.cseq.number == 5
    assert parse_message(request.to_bytes()) == request


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"route": ["not a uri"]}, id="route"),
        pytest.param({"body": "v=0"}, id="body-str"),
        pytest.param({"branch": "nocookie"}, id="branch"),
        pytest.param({"cseq": 2**31}, id="cseq"),
        pytest.param({"content_type": "a\r\nb"}, id="content-type-injection"),
    ],
)
def test_invalid_invite_input_is_a_build_error(overrides):
    with pytest.raises(SipBuildError):
        invite(**overrides)


# --- ACK for a non-2xx final response (§17.1.1.3) ---------------------------------------


def busy(request: Request) -> Any:
    return build_response(
        request,
        486,
        "Busy Here",
        to_tag="uas-tag",
        source=("198.51.100.7", 40123),
        extra_headers=[("Contact", "<sip:uas@198.51.100.1>")],
    )


def test_ack_for_486_has_exactly_the_headers_17_1_1_3_requires():
    request = invite(route=ROUTES)
    response = busy(request)
    ack = build_ack_non2xx(request, response)
    h = ack.headers
    assert ack.method == "ACK"
    assert ack.uri == request.uri
    # One Via, equal to the INVITE's top Via: same branch, so same transaction.
    assert h.get_all("Via") == [request.headers.get("Via")]
    assert ack.top_via.branch == request.top_via.branch == "z9hG4bKinv1"
    assert h.get("From") == request.headers.get("From")
    assert h.get("Call-ID") == request.headers.get("Call-ID")
    # To from the response, carrying the UAS's tag.
    assert h.get("To") == response.headers.get("To")
    assert ack.to.tag == "uas-tag"
    assert h.get("CSeq") == "1 ACK"
    assert h.get_all("Route") == list(ROUTES)
    assert h.get("Max-Forwards") == "70"
    assert h.get("Content-Length") == "0"
    assert [name for name, _ in h] == [
        "Via",
        "Max-Forwards",
        "Route",
        "Route",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Content-Length",
    ]
    assert ack.body == b""
    assert parse_message(ack.to_bytes()) == ack


def test_ack_keeps_the_invite_cseq_number():
    request = invite(cseq=17)
    ack = build_ack_non2xx(request, busy(request))
    assert ack.cseq.number == 17
    assert ack.cseq.method == "ACK"


@pytest.mark.parametrize("code", [100, 180, 200, 299])
def test_ack_non2xx_refuses_other_responses(code):
    request = invite()
    with pytest.raises(SipBuildError):
        build_ack_non2xx(request, build_response(request, code, "X", to_tag="t"))


def test_ack_non2xx_needs_an_invite():
    options = build_options(
        TARGET,
        transport="TLS",
        local_host="192.0.2.10",
        local_port=40123,
        branch=new_branch("o"),
        from_tag="f",
        call_id="c",
        user_agent="ua",
    )
    with pytest.raises(SipBuildError, match="INVITE"):
        build_ack_non2xx(options, busy(options))
    with pytest.raises(SipBuildError, match="INVITE"):
        build_cancel(options)


# --- CANCEL (§9.1) ------------------------------------------------------------------------


def test_cancel_has_exactly_the_headers_9_1_requires():
    request = invite(route=ROUTES, cseq=3)
    cancel = build_cancel(request)
    h = cancel.headers
    assert cancel.method == "CANCEL"
    assert cancel.uri == request.uri
    assert h.get_all("Via") == [request.headers.get("Via")]
    assert cancel.top_via.branch == request.top_via.branch
    for name in ("From", "To", "Call-ID"):
        assert h.get(name) == request.headers.get(name), name
    assert cancel.to.tag is None
    assert h.get("CSeq") == "3 CANCEL"
    assert h.get_all("Route") == list(ROUTES)
    assert h.get("Max-Forwards") == "70"
    assert h.get("Content-Length") == "0"
    assert h.get("Contact") is None
    assert h.get("Content-Type") is None
    assert cancel.body == b""
    assert parse_message(cancel.to_bytes()) == cancel
    assert parse_message(cancel.to_bytes(), stream=True) == cancel


def test_cancel_copies_only_the_top_via_of_a_forwarded_invite():
    request = invite()
    proxied = parse_message(
        request.to_bytes().replace(
            b"Max-Forwards: 70",
            b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKlower\r\nMax-Forwards: 70",
        )
    )
    assert isinstance(proxied, Request)
    assert len(proxied.headers.get_all("Via")) == 2
    assert build_cancel(proxied).headers.get_all("Via") == [request.headers.get("Via")]
