"""`sip.keepalive` judged from hand-made evidence (RFC 5626 §4.4.1 CRLF keep-alive; a
WebSocket Ping over WS/WSS): every outcome, what a target owes, and the same verdict
after the evidence's round trip through JSON, as `sipprobe judge` reads it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from probe.evidence.codec import decode, encode
from probe.evidence.model import (
    ConnectEvidence,
    KeepaliveEvidence,
    KeepaliveOutcome,
    ProbeEvidence,
    Received,
)
from probe.evidence.redact import redact_evidence
from probe.verdict.checks import OptionsPolicy, judge_options, required_checks
from probe.verdict.checks.keepalive import check_keepalive
from probe.verdict.findings import CheckId, Status
from tests.checks.evidence_factory import TARGET, evidence, exchange, options_request, response


def probed(keepalive: KeepaliveEvidence | None, transport: str = "tcp") -> ProbeEvidence:
    request = options_request()
    answered = exchange(request, [response(request, 200, "OK")])
    base = evidence(answered, target=replace(TARGET, transport=transport))  # type: ignore[arg-type]
    return replace(base, keepalive=keepalive)


def crlf(outcome: KeepaliveOutcome, **fields: object) -> KeepaliveEvidence:
    return KeepaliveEvidence("crlf", outcome, ping=b"\r\n\r\n", deadline_s=5.0, **fields)  # type: ignore[arg-type]


def judged(keepalive: KeepaliveEvidence | None, transport: str = "tcp") -> tuple[Status, str]:
    finding = check_keepalive(probed(keepalive, transport))
    assert finding is not None
    assert finding.check == CheckId.SIP_KEEPALIVE
    return finding.status, finding.summary


def test_a_single_crlf_pong_passes_with_its_time() -> None:
    status, summary = judged(crlf("pong", sent_at_ms=20.0, pong_at_ms=20.8, pong=b"\r\n"))
    assert status is Status.PASS
    assert "answered with a CRLF pong in 0.8 ms (RFC 5626 §4.4.1)" in summary


def test_a_double_crlf_answer_warns() -> None:
    status, summary = judged(crlf("pong", sent_at_ms=1.0, pong_at_ms=2.0, pong=b"\r\n\r\n"))
    assert status is Status.WARN
    assert "2 CRLFs instead of one" in summary


def test_a_pong_after_ten_seconds_fails() -> None:
    status, summary = judged(crlf("pong", sent_at_ms=0.0, pong_at_ms=10_500.0, pong=b"\r\n"))
    assert status is Status.FAIL
    assert "after 10.5 s" in summary


def test_no_pong_fails_naming_the_deadline() -> None:
    error = "no CRLF pong within 5 s (pong deadline)"
    status, summary = judged(crlf("timeout", sent_at_ms=1.0, error=error))
    assert status is Status.FAIL
    assert summary.startswith(error)
    assert "does not answer RFC 5626 keep-alives" in summary


def test_messages_instead_of_a_pong_are_quoted() -> None:
    message = b"OPTIONS sip:probe SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    finding = check_keepalive(
        probed(crlf("timeout", received=(Received(3.0, message),), error="no pong"))
    )
    assert finding is not None
    assert finding.status is Status.FAIL
    assert finding.details["received"] == [message.decode()]


@pytest.mark.parametrize("outcome", ["closed", "reset", "tls_alert", "malformed", "send_failed"])
def test_a_connection_that_does_not_survive_the_ping_fails(outcome: KeepaliveOutcome) -> None:
    status, summary = judged(crlf(outcome, error="the server closed the connection"))
    assert status is Status.FAIL
    assert "the server closed the connection" in summary


def test_a_websocket_pong_passes() -> None:
    keepalive = KeepaliveEvidence(
        "websocket", "pong", ping=b"a1b2c3d4", sent_at_ms=5.0, pong_at_ms=5.5, pong=b"a1b2c3d4"
    )
    status, summary = judged(keepalive, "wss")
    assert status is Status.PASS
    assert "WebSocket Ping was answered with its Pong in 0.5 ms" in summary


def test_pending_is_incomplete_unless_the_connection_failed_first() -> None:
    status, _summary = judged(crlf("pending"))
    assert status is Status.INCOMPLETE
    refused = replace(
        probed(crlf("pending")), connect=ConnectEvidence(ok=False, error_kind="refused")
    )
    finding = check_keepalive(refused)
    assert finding is not None
    assert finding.status is Status.SKIP


def test_not_sent_says_why_and_skips() -> None:
    status, summary = judged(crlf("not_sent", error="not sent: the connection was lost"))
    assert (status, summary) == (Status.SKIP, "not sent: the connection was lost")


def test_a_target_owes_the_check_only_when_asked_and_not_over_udp() -> None:
    assert CheckId.SIP_KEEPALIVE not in required_checks(probed(None))
    assert CheckId.SIP_KEEPALIVE in required_checks(probed(crlf("pending")))
    udp = KeepaliveEvidence("none", "not_sent", error="UDP has no CRLF keep-alive")
    assert CheckId.SIP_KEEPALIVE not in required_checks(probed(udp, "udp"))
    assert judged(udp, "udp")[0] is Status.SKIP


def test_the_verdict_is_the_same_after_json_and_redaction() -> None:
    secret = b"OPTIONS sip:x SIP/2.0\r\nAuthorization: Digest response=abc\r\n\r\n"
    keepalive = crlf(
        "pong", sent_at_ms=1.0, pong_at_ms=1.4, pong=b"\r\n", received=(Received(1.2, secret),)
    )
    original = redact_evidence(probed(keepalive))
    assert original.keepalive is not None
    assert b"response=abc" not in original.keepalive.received[0].data
    loaded = decode(json.loads(json.dumps(encode(original))), ProbeEvidence)
    assert loaded == original
    policy = OptionsPolicy()
    before = [f for f in judge_options(original, policy) if f.check == CheckId.SIP_KEEPALIVE]
    after = [f for f in judge_options(loaded, policy) if f.check == CheckId.SIP_KEEPALIVE]
    assert before == after
    assert before[0].status is Status.PASS
