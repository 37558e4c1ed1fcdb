"""OPTIONS builder (RFC 3261 §8.1.1, §11) and response matching (§17.1.3)."""

from __future__ import annotations

import dataclasses
import string
from typing import Any

import pytest

from probe.sip import (
    Headers,
    Request,
    Response,
    SipBuildError,
    SipUri,
    build_options,
    match_response,
    new_branch,
    parse_message,
    parse_uri,
    random_token,
)

from .samples import response_to

TARGET = parse_uri("sip:trunk.example.com:5061;transport=tls")


def options(target: SipUri = TARGET, **overrides: Any) -> Request:
    kwargs: dict[str, Any] = {
        "transport": "TLS",
        "local_host": "192.0.2.10",
        "local_port": 40123,
        "branch": new_branch("abc123"),
        "from_tag": "ft1",
        "call_id": "call-1@192.0.2.10",
        "user_agent": "sipprobe/0.1",
    } | overrides
    return build_options(target, **kwargs)


def test_options_has_every_required_header():
    request = options()
    headers = request.headers
    # §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via; §11 adds Accept.
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Accept"):
        assert headers.get(name) is not None, name
    assert request.method == "OPTIONS"
    assert headers.get("Via") == "SIP/2.0/TLS 192.0.2.10:40123;branch=z9hG4bKabc123;rport"
    assert headers.get("Max-Forwards") == "70"
    assert headers.get("From") == "<sip:sipprobe@192.0.2.10>;tag=ft1"
    assert headers.get("To") == "<sip:trunk.example.com>"
    assert headers.get("Call-ID") == "call-1@192.0.2.10"
    assert headers.get("CSeq") == "1 OPTIONS"
    assert headers.get("Contact") == "<sip:sipprobe@192.0.2.10:40123;transport=tls>"
    assert headers.get("Accept") == "application/sdp"
    assert headers.get("User-Agent") == "sipprobe/0.1"
    assert headers.get("Content-Length") == "0"
    assert request.to.tag is None
    assert request.from_.tag == "ft1"
    assert (request.top_via.branch or "").startswith("z9hG4bK")


def test_options_round_trips_through_the_parser():
    request = options()
    data = request.to_bytes()
    assert parse_message(data) == request
    assert parse_message(data, stream=True) == request
    assert data.startswith(b"OPTIONS sip:trunk.example.com:5061;transport=tls SIP/2.0\r\n")
    assert data.endswith(b"Content-Length: 0\r\n\r\n")


def test_request_uri_drops_method_and_headers_but_keeps_transport_and_maddr():
    target = parse_uri(
        "sip:u@trunk.example.com;method=INVITE;transport=tls;maddr=192.0.2.7?Subject=x"
    )
    request = options(target)
    assert str(request.uri) == "sip:u@trunk.example.com;transport=tls;maddr=192.0.2.7"
    # To keeps the user and host but no port, parameters or headers (§19.1.1 table).
    assert request.headers.get("To") == "<sip:u@trunk.example.com>"


def test_to_never_echoes_a_uri_password():
    request = options(parse_uri("sip:u:secret@trunk.example.com"))
    assert "secret" not in (request.headers.get("To") or "")


def test_ipv6_local_host_is_bracketed():
    for local in ("2001:db8::10", "[2001:DB8::10]"):
        request = options(local_host=local)
        assert (
            request.headers.get("Via")
            == "SIP/2.0/TLS [2001:db8::10]:40123;branch=z9hG4bKabc123;rport"
        )
        assert request.headers.get("From") == "<sip:sipprobe@[2001:db8::10]>;tag=ft1"
        assert request.headers.get("Contact") == "<sip:sipprobe@[2001:db8::10]:40123;transport=tls>"
        assert parse_message(request.to_bytes()) == request


def test_sips_target_uses_sips_from_and_contact():
    request = options(parse_uri("sips:trunk.example.com"))
    assert request.headers.get("From") == "<sips:sipprobe@192.0.2.10>;tag=ft1"
    assert request.headers.get("To") == "<sips:trunk.example.com>"
    # §8.1.1.8 needs a SIPS Contact; sips already means TLS (RFC 5630 §3.1.3).
    assert request.headers.get("Contact") == "<sips:sipprobe@192.0.2.10:40123>"


@pytest.mark.parametrize(("transport", "param"), [("UDP", "udp"), ("tcp", "tcp"), ("WSS", "wss")])
def test_transport_appears_in_via_and_contact(transport, param):
    request = options(transport=transport)
    assert request.top_via.transport == transport.upper()
    assert request.headers.get("Contact") == f"<sip:sipprobe@192.0.2.10:40123;transport={param}>"


def test_from_uri_override_cseq_and_extra_headers():
    request = options(
        from_uri=parse_uri("sip:monitor@probe.example"),
        cseq=42,
        extra_headers=[("X-Probe", "run-7"), ("Supported", "path")],
    )
    assert request.headers.get("From") == "<sip:monitor@probe.example>;tag=ft1"
    assert request.cseq.number == 42
    names = [name for name, _ in request.headers]
    assert names[-3:] == ["X-Probe", "Supported", "Content-Length"]
    assert parse_message(request.to_bytes()) == request


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"branch": "abc"}, id="branch-without-cookie"),
        pytest.param({"branch": "z9hG4bK a"}, id="branch-not-token"),
        pytest.param({"from_tag": "a;b"}, id="tag"),
        pytest.param({"from_tag": ""}, id="empty-tag"),
        pytest.param({"call_id": "a b"}, id="call-id"),
        pytest.param({"cseq": 2**31}, id="cseq-too-big"),
        pytest.param({"cseq": -1}, id="cseq-negative"),
        pytest.param({"local_port": 0}, id="port-0"),
        pytest.param({"local_port": 70000}, id="port-big"),
        pytest.param({"local_host": "bad host"}, id="host"),
        pytest.param({"local_host": "[::1"}, id="host-ipv6"),
        pytest.param({"transport": "T LS"}, id="transport"),
        pytest.param({"user_agent": "x\r\nVia: injected"}, id="ua-injection"),
        pytest.param({"extra_headers": [("Bad Name", "x")]}, id="extra-name"),
        pytest.param({"extra_headers": [("X-A", "a\nb")]}, id="extra-value"),
    ],
)
def test_invalid_builder_input_is_a_build_error(overrides):
    with pytest.raises(SipBuildError):
        options(**overrides)


def test_new_branch_and_random_token():
    assert new_branch("xyz") == "z9hG4bKxyz"
    with pytest.raises(SipBuildError):
        new_branch("bad token")
    tokens = {random_token() for _ in range(50)}
    assert len(tokens) == 50
    allowed = set(string.ascii_letters + string.digits + "-_")
    assert all(set(t) <= allowed and len(t) == 16 for t in tokens)
    assert len(random_token(3)) == 4


# --- match_response -------------------------------------------------------------------


def test_match_response_matches_our_own_response():
    request = options()
    result = match_response(request, response_to(request))
    assert result.matched
    assert result.reason is None


def _with_header(response: Response, name: str, value: str) -> Response:
    fields = [(n, value if n.lower() == name.lower() else v) for n, v in response.headers]
    return dataclasses.replace(response, headers=Headers(fields))


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        (
            "Via",
            "SIP/2.0/TLS 192.0.2.10:40123;branch=z9hG4bKxyz;rport=40123",
            "branch z9hG4bKxyz does not match z9hG4bKabc123",
        ),
        ("Via", "SIP/2.0/TLS 192.0.2.10:40123;branch=Z9HG4BKABC123", "branch Z9HG4BKABC123"),
        ("Via", "SIP/2.0/TLS 192.0.2.10:40123", "response top Via has no branch"),
        ("CSeq", "1 INVITE", "CSeq method INVITE does not match OPTIONS"),
        ("CSeq", "2 OPTIONS", "CSeq number 2 does not match 1"),
        (
            "Call-ID",
            "other@192.0.2.10",
            "Call-ID other@192.0.2.10 does not match call-1@192.0.2.10",
        ),
        ("CSeq", "garbage", "cannot match"),
    ],
)
def test_match_response_says_what_differs(name, value, reason):
    request = options()
    result = match_response(request, _with_header(response_to(request), name, value))
    assert not result.matched
    assert reason in (result.reason or "")


def test_match_response_needs_a_branch_in_the_request():
    request = options()
    response = response_to(request)
    no_branch = dataclasses.replace(
        request,
        headers=Headers(
            [(n, "SIP/2.0/TLS 192.0.2.10:40123" if n == "Via" else v) for n, v in request.headers]
        ),
    )
    result = match_response(no_branch, response)
    assert not result.matched
    assert "request top Via has no branch" in (result.reason or "")


def test_no_uri_password_is_put_on_the_wire():
    """§19.1.1 deprecates a password in a URI: whatever URI a caller passes, the
    Request-URI, To and From go out without it."""
    target = parse_uri("sip:alice:s3cret@example.com:5061;transport=tls")
    request = options(target, from_uri=parse_uri("sip:me:s3cret@example.org"))
    wire = request.to_bytes()
    assert b"s3cret" not in wire
    assert request.uri == target.without_password()
    assert wire.startswith(b"OPTIONS sip:alice@example.com:5061;transport=tls SIP/2.0\r\n")
