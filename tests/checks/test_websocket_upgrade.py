"""`ws.upgrade` judged from the bytes of an upgrade (RFC 6455 §4.1, RFC 7118 §4.1): pure,
hand-made evidence, and the same verdict after the evidence's round trip through JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from probe.evidence.codec import decode, encode
from probe.evidence.model import ConnectEvidence, ProbeEvidence, Target, WebSocketUpgrade
from probe.verdict.checks import OptionsPolicy, judge_options, required_checks
from probe.verdict.checks.websocket import check_upgrade, expected_accept, read_head
from probe.verdict.findings import CheckId, Status, TargetResult, Verdict

# RFC 6455 §1.3's own example: this key must be answered with this accept value.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

TARGET = Target(
    uri="sip:edge.example.test;transport=wss",
    host="edge.example.test",
    port=443,
    transport="wss",
    address="127.0.0.1",
    sni="edge.example.test",
)


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


REQUEST = head(
    "GET / HTTP/1.1",
    "Host: edge.example.test",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: sip",
)


def answer(*extra: str, protocol: str | None = "sip", accept: str = ACCEPT) -> bytes:
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    lines.append(f"Sec-WebSocket-Accept: {accept}")
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return head(*lines, *extra)


def probed(upgrade: WebSocketUpgrade | None, target: Target = TARGET) -> ProbeEvidence:
    return ProbeEvidence(
        target=target,
        started_at="2026-11-27T00:00:00.000+00:00",
        timeout_s=5.0,
        connect=ConnectEvidence(True, 0.5, "127.0.0.1", 40000),
        websocket=upgrade,
    )


def upgraded(response: bytes, **fields: object) -> WebSocketUpgrade:
    values: dict[str, object] = {"ok": True, "elapsed_ms": 1.25, "subprotocol": "sip"}
    values |= fields
    return WebSocketUpgrade(request=REQUEST, response=response, **values)  # type: ignore[arg-type]


def test_the_accept_value_is_rfc_6455s_example() -> None:
    assert expected_accept(KEY) == ACCEPT


def test_a_101_with_the_sip_subprotocol_passes() -> None:
    finding = check_upgrade(probed(upgraded(answer())))
    assert finding is not None
    assert finding.check == CheckId.WS_UPGRADE
    assert finding.status is Status.PASS, finding.summary
    assert "subprotocol sip" in finding.summary
    assert finding.details["status_code"] == 101
    assert finding.details["request"].startswith("GET / HTTP/1.1\r\n")


def test_unknown_and_broken_header_lines_in_a_101_are_tolerated() -> None:
    """Kamailio's 101 carries a `Sia:` line; a line without a colon says nothing."""
    response = answer("Sia: SIP/2.0/TLS 127.0.0.1:35320", "a line without a colon")
    finding = check_upgrade(probed(upgraded(response)))
    assert finding is not None
    assert finding.status is Status.PASS, finding.summary


def test_a_101_without_the_sip_subprotocol_fails_naming_it() -> None:
    upgrade = upgraded(
        answer(protocol=None),
        ok=False,
        subprotocol=None,
        error_kind="rejected",
        error="the server's 101 answer does not agree to the 'sip' subprotocol",
    )
    finding = check_upgrade(probed(upgrade))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "'sip' subprotocol" in finding.summary
    assert "RFC 7118 §4.1" in finding.summary
    assert "Sec-WebSocket-Protocol" not in finding.details["response"]


def test_a_subprotocol_not_offered_fails() -> None:
    finding = check_upgrade(probed(upgraded(answer(protocol="msrp"), subprotocol="msrp")))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "'msrp' instead of 'sip'" in finding.summary


def test_an_accept_value_that_is_not_the_keys_fails() -> None:
    finding = check_upgrade(probed(upgraded(answer(accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA="))))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "Sec-WebSocket-Accept" in finding.summary
    assert "prove the server read the request" in finding.summary


def test_a_101_without_upgrade_and_connection_fails_for_each() -> None:
    response = head(
        "HTTP/1.1 101 Switching Protocols",
        f"Sec-WebSocket-Accept: {ACCEPT}",
        "Sec-WebSocket-Protocol: sip",
    )
    finding = check_upgrade(probed(upgraded(response)))
    assert finding is not None
    assert finding.status is Status.FAIL
    problems = finding.details["problems"]
    assert "no 'Upgrade: websocket' (RFC 6455 §4.1)" in problems
    assert "no 'Connection: Upgrade' (RFC 6455 §4.1)" in problems


@pytest.mark.parametrize(
    ("status_line", "expected"),
    [
        ("HTTP/1.1 404 Not Found", "404 Not Found (no WebSocket service at this resource)"),
        ("HTTP/1.1 200 OK", "200 OK"),
        ("HTTP/1.1 426 Upgrade Required", "426 Upgrade Required"),
    ],
)
def test_another_answer_than_101_fails_with_the_answer_shown(
    status_line: str, expected: str
) -> None:
    response = head(status_line, "Content-Length: 9") + b"not here\n"
    upgrade = upgraded(response, ok=False, subprotocol=None, error_kind="rejected", error="x")
    finding = check_upgrade(probed(upgrade))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert expected in finding.summary
    assert "not 101 Switching Protocols" in finding.summary
    assert finding.details["response"].startswith(status_line)
    assert finding.details["response"].endswith("not here\n")


def test_no_answer_fails_with_why() -> None:
    upgrade = WebSocketUpgrade(
        ok=False,
        request=REQUEST,
        error_kind="timeout",
        error="no complete answer to the WebSocket upgrade within 2 s (handshake deadline)",
    )
    finding = check_upgrade(probed(upgrade))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert finding.summary.startswith("no answer to the WebSocket upgrade: no complete answer")


def test_an_answer_that_is_not_http_fails() -> None:
    upgrade = upgraded(b"SIP/2.0 200 OK\r\n\r\n", ok=False, error_kind="protocol", error="x")
    finding = check_upgrade(probed(upgrade))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "not an HTTP response: 'SIP/2.0 200 OK'" in finding.summary


def test_what_the_client_refused_beyond_this_reading_still_fails() -> None:
    upgrade = upgraded(answer(), ok=False, error_kind="protocol", error="unrecognized extension x")
    finding = check_upgrade(probed(upgrade))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "unrecognized extension x" in finding.summary


def test_read_head_keeps_fields_in_order_and_folds_names() -> None:
    parsed = read_head(answer("X-Two: 2", "x-two: 3"))
    assert parsed is not None
    assert parsed.status == 101
    assert parsed.values("x-two") == ["2", "3"]
    assert parsed.tokens("connection") == ["upgrade"]
    assert read_head(b"") is None


# --- in a target's judgement ---------------------------------------------------------


def test_a_websocket_target_owes_the_upgrade_and_its_sip() -> None:
    assert required_checks(probed(None)) == (
        CheckId.NET_CONNECT,
        CheckId.TLS_HANDSHAKE,
        CheckId.TLS_CHAIN,
        CheckId.TLS_IDENTITY,
        CheckId.WS_UPGRADE,
        CheckId.SIP_OPTIONS,
    )
    plain = replace(TARGET, transport="ws", port=80, sni=None)
    assert required_checks(probed(None, plain)) == (
        CheckId.NET_CONNECT,
        CheckId.WS_UPGRADE,
        CheckId.SIP_OPTIONS,
    )


def test_a_failed_upgrade_skips_options_and_fails_the_target() -> None:
    target = replace(TARGET, transport="ws", port=80, sni=None)
    evidence = probed(
        upgraded(answer(protocol=None), ok=False, error_kind="rejected", error="no sip"), target
    )
    findings = judge_options(evidence, OptionsPolicy())
    by_check = {finding.check: finding for finding in findings}
    assert by_check[CheckId.WS_UPGRADE].status is Status.FAIL
    assert by_check[CheckId.SIP_OPTIONS].status is Status.SKIP
    assert by_check[CheckId.SIP_OPTIONS].summary == (
        "OPTIONS not sent: the WebSocket upgrade failed"
    )
    result = TargetResult(target, tuple(findings), required_checks(evidence))
    assert result.verdict is Verdict.FAIL


def test_a_probe_stopped_before_the_upgrade_is_incomplete_not_a_pass() -> None:
    target = replace(TARGET, transport="ws", port=80, sni=None)
    evidence = probed(None, target)
    findings = judge_options(evidence, OptionsPolicy())
    result = TargetResult(target, tuple(findings), required_checks(evidence))
    assert CheckId.WS_UPGRADE in result.missing
    assert result.verdict is Verdict.INCOMPLETE


def test_the_upgrade_is_judged_the_same_after_a_round_trip_through_json() -> None:
    evidence = probed(upgraded(answer("Server: edge")))
    loaded = decode(json.loads(json.dumps(encode(evidence))), ProbeEvidence)
    assert loaded == evidence
    assert check_upgrade(loaded) == check_upgrade(evidence)
