"""The responder as a far end for our own UAC (probe.net.call.place_call, through
collect_options): every call it answers is judged by the verifier's own checks."""

from __future__ import annotations

import asyncio

import pytest

from probe.evidence.model import CallEvidence, ProbeEvidence, Transport
from probe.sdp import SUITE_KEY_BYTES, parse_sdp
from probe.sip import Response, parse_message
from probe.verdict.checks.srtp import check_srtp
from probe.verdict.findings import Finding, Status
from tests.serve.conftest import StartResponder, probe


def call_of(evidence: ProbeEvidence) -> CallEvidence:
    assert evidence.call is not None, evidence
    return evidence.call


def srtp_finding(call: CallEvidence) -> Finding:
    return check_srtp(
        label="responder",
        offer=parse_sdp(call.offer),
        offer_kind=call.offer_kind,
        answer=call.answer,
        answer_source=call.answer_source,
        final_status=call.final_status,
        final_reason=call.final_reason,
    )


def received(call: CallEvidence) -> list[Response]:
    messages = [parse_message(e.data) for e in call.events if e.direction == "received"]
    return [m for m in messages if isinstance(m, Response)]


@pytest.mark.parametrize("transport", ["tls", "tcp", "udp"])
async def test_options_is_still_answered_200(
    start_responder: StartResponder, transport: Transport
) -> None:
    responder = await start_responder()
    evidence = await probe(responder, transport)
    (exchange,) = evidence.exchanges
    assert exchange.outcome == "answered"
    response = parse_message(exchange.received[-1].data)
    assert isinstance(response, Response)
    assert response.status_code == 200
    assert "INVITE" in (response.headers.get("Allow") or "")


async def test_sdes_call_is_answered_with_srtp_and_ended_cleanly(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    call = call_of(await probe(responder, call=True))
    assert call.provisional == (100, 180)
    assert (call.final_status, call.answer_source) == (200, "200 OK")
    finding = srtp_finding(call)
    assert finding.status is Status.PASS, finding.summary
    offered = parse_sdp(call.offer).media[0].crypto[0]
    assert call.answer is not None
    answer = parse_sdp(call.answer)
    (chosen,) = answer.media[0].crypto
    assert (chosen.tag, chosen.suite) == (offered.tag, offered.suite)
    assert len(chosen.key_salt) == SUITE_KEY_BYTES[chosen.suite]
    assert chosen.key_salt != offered.key_salt
    assert answer.connection == "127.0.0.1"
    # 180 and 200 carry one To tag and a Contact naming the listener (RFC 3261 §12.1.1).
    ringing, ok = received(call)[1:3]
    assert ringing.to.tag is not None
    assert ringing.to.tag == ok.to.tag
    port = responder.port_of("tls")
    assert ok.headers.get("Contact") == f"<sip:responder@127.0.0.1:{port};transport=tls>"
    # BYE → 200, and neither side holds the call any more.
    assert (call.teardown, call.bye_status, call.dialogs_left_open) == ("bye", 200, 0)
    assert responder.open_dialogs == 0


async def test_rtp_mode_answers_plain_rtp_which_the_check_fails(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder(media="rtp")
    call = call_of(await probe(responder, call=True))
    assert call.final_status == 200
    finding = srtp_finding(call)
    assert finding.status is Status.FAIL
    assert "RTP/AVP" in finding.summary
    assert (call.dialogs_left_open, responder.open_dialogs) == (0, 0)


async def test_reject_mode_refuses_with_488(start_responder: StartResponder) -> None:
    responder = await start_responder(media="reject")
    call = call_of(await probe(responder, call=True))
    assert (call.provisional, call.final_status) == ((100,), 488)
    assert call.final_reason == "Not Acceptable Here"
    assert srtp_finding(call).status is Status.FAIL
    assert responder.open_dialogs == 0


async def test_a_plain_rtp_offer_is_refused_by_an_srtp_trunk(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    call = call_of(await probe(responder, call=True, offer_kind="rtp"))
    assert call.final_status == 488
    assert srtp_finding(call).status is Status.PASS  # refusing plain RTP is right


async def test_cancel_while_ringing_gets_200_and_the_invite_487(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder(answer_delay=5.0)
    call = call_of(await probe(responder, call=True, hangup="immediately"))
    assert call.cancelled
    statuses = [(r.status_code, r.cseq.method) for r in received(call)]
    assert (200, "CANCEL") in statuses
    assert statuses[-1] == (487, "INVITE")
    assert (call.final_status, call.teardown, call.dialogs_left_open) == (487, "cancel", 0)
    assert responder.open_dialogs == 0


async def test_a_call_nobody_answers_in_time_is_cancelled(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder(answer_delay=5.0)
    call = call_of(await probe(responder, call=True, answer_timeout=0.3))
    assert (call.final_status, call.teardown) == (487, "cancel")
    assert responder.open_dialogs == 0


async def test_answer_delay_delays_the_200(start_responder: StartResponder) -> None:
    responder = await start_responder(answer_delay=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    call = call_of(await probe(responder, call=True))
    assert call.final_status == 200
    assert loop.time() - began >= 0.3
    assert responder.open_dialogs == 0
