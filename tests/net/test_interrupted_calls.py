"""A test call stopped midway (a signal, `--max-time`): the call is still ended (CANCEL
before a final response, ACK and BYE after a 2xx), the far end sees it, and what was seen
until then survives the cancellation and is judged: findings for what was done,
incomplete for the rest."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from probe.evidence.codec import decode, encode
from probe.evidence.model import ProbeEvidence, Target
from probe.evidence.run import ProbedTarget
from probe.locate import LocateResult
from probe.net.call import CallSettings
from probe.net.interrupted import ProbeInterrupted
from probe.net.options import ProbeSettings, collect_options
from probe.sip import Request, parse_uri
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.findings import CheckId, Finding, Status, Verdict
from probe.verdict.judging import judge_target
from tests.conftest import LAB_NAME
from tests.net.scripted import (
    Script,
    answer_bytes,
    response_bytes,
    scripted_server,
    tls_server_context,
)

SDP_ANSWER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20000 RTP/SAVP 0\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
)


class FarEnd:
    """A scripted UAS that records the methods it received."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.seen = asyncio.Event()
        self.waiting_for = "INVITE"

    def got(self, method: str) -> None:
        self.received.append(method)
        if method == self.waiting_for:
            self.seen.set()


async def interrupt_call(
    script: Script, far: FarEnd, lab: LabFiles, *, cancel_twice: bool = False, **call: object
) -> ProbeEvidence:
    """Place a call, cancel it once `far` saw `far.waiting_for`, return the partial
    evidence that came with the cancellation."""
    async with scripted_server(script, tls_server_context(lab.server, lab.server_key)) as port:
        text = f"sip:{LAB_NAME}:{port};transport=tls"
        target = Target(uri=text, host=LAB_NAME, port=port, transport="tls", address="127.0.0.1")
        settings = ProbeSettings(
            timeout=1.0,
            call=CallSettings(
                to=parse_uri(f"sip:+15550100@{LAB_NAME}"), answer_timeout=30.0, **call
            ),  # type: ignore[arg-type]
        )
        probe = asyncio.create_task(collect_options(parse_uri(text), target, settings))
        await asyncio.wait_for(far.seen.wait(), 10)
        probe.cancel()
        if cancel_twice:
            await asyncio.sleep(0.05)  # the clean-up is under way
            probe.cancel()
        with pytest.raises(ProbeInterrupted) as stopped:
            await asyncio.wait_for(probe, 15)
    return stopped.value.evidence


def judged(evidence: ProbeEvidence, lab: LabFiles) -> tuple[Verdict, dict[str, Finding]]:
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    locate = LocateResult(evidence.target.uri, LAB_NAME, (), (), ())
    probed = ProbedTarget(evidence=evidence, stopped="interrupted")
    result = judge_target(locate, probed, policy, stop_signal=15)
    return result.verdict, {finding.check: finding for finding in result.findings}


def answering(far: FarEnd) -> Script:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        far.got(request.method)
        if request.method == "INVITE":
            writer.write(answer_bytes(request, SDP_ANSWER))
        elif request.method == "BYE":
            writer.write(response_bytes(request, 200, "OK"))

    return script


def ringing(far: FarEnd, *, after: float = 0.0) -> Script:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        far.got(request.method)
        if request.method == "INVITE":
            await asyncio.sleep(after)
            writer.write(response_bytes(request, 100, "Trying"))
            writer.write(response_bytes(request, 180, "Ringing"))
        elif request.method == "CANCEL":
            writer.write(response_bytes(request, 200, "OK"))
            terminated = response_bytes(request, 487, "Request Terminated")
            writer.write(terminated.replace(b" CANCEL\r\n", b" INVITE\r\n"))

    return script


async def test_an_answered_call_stopped_during_the_media_check_keeps_its_answer(
    lab: LabFiles,
) -> None:
    far = FarEnd()
    far.waiting_for = "ACK"  # answered and confirmed: the media check is running
    evidence = await interrupt_call(answering(far), far, lab, verify_media=True)
    assert far.received == ["INVITE", "ACK", "BYE"]
    call = evidence.call
    assert call is not None
    assert call.interrupted
    assert (call.final_status, call.teardown, call.dialogs_left_open) == (200, "bye", 0)
    assert evidence.tls is not None
    assert evidence.tls.ok
    verdict, checks = judged(evidence, lab)
    assert verdict is Verdict.INCOMPLETE
    assert checks[CheckId.SIP_INVITE].status is Status.INCOMPLETE  # the cut-short note
    assert checks[CheckId.SDP_SRTP].status is Status.PASS, checks[CheckId.SDP_SRTP].summary
    assert checks[CheckId.SIP_TEARDOWN].status is Status.PASS
    assert checks[CheckId.MEDIA_SRTP].status is Status.INCOMPLETE
    assert "not measured" in checks[CheckId.MEDIA_SRTP].summary
    assert checks[CheckId.TLS_CHAIN].status is Status.PASS  # the handshake's findings stay
    # Saved (`--evidence-out`) and read back, the call is still marked interrupted.
    assert decode(encode(evidence), ProbeEvidence) == evidence


async def test_an_answered_call_is_judged_answered_and_cut_short(lab: LabFiles) -> None:
    far = FarEnd()
    far.waiting_for = "ACK"
    evidence = await interrupt_call(answering(far), far, lab, verify_media=True)
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    locate = LocateResult(evidence.target.uri, LAB_NAME, (), (), ())
    result = judge_target(
        locate, ProbedTarget(evidence=evidence, stopped="interrupted"), policy, stop_signal=15
    )
    invites = [f for f in result.findings if f.check == CheckId.SIP_INVITE]
    assert [f.status for f in invites] == [Status.PASS, Status.INCOMPLETE]
    assert invites[0].summary.startswith("answered 200 OK")
    assert invites[1].summary == (
        "the call was cut short after its answer: not finished: the run was interrupted by SIGTERM"
    )


async def test_a_ringing_call_stopped_is_cancelled_and_judged_incomplete(lab: LabFiles) -> None:
    far = FarEnd()
    far.waiting_for = "INVITE"
    evidence = await interrupt_call(ringing(far), far, lab)
    assert far.received[:2] == ["INVITE", "CANCEL"]
    call = evidence.call
    assert call is not None
    assert call.interrupted
    assert call.cancelled
    assert (call.final_status, call.teardown) == (487, "cancel")
    verdict, checks = judged(evidence, lab)
    assert verdict is Verdict.INCOMPLETE
    invite = checks[CheckId.SIP_INVITE]
    assert invite.status is Status.INCOMPLETE
    assert invite.summary.startswith("not finished: the run was interrupted by SIGTERM (after 100")
    assert invite.details["exchange"], "the messages seen stay as evidence"
    srtp = checks[CheckId.SDP_SRTP]
    assert srtp.status is Status.INCOMPLETE, srtp.summary  # never a failure of the far end
    assert checks[CheckId.SIP_TEARDOWN].status is Status.PASS


async def test_a_call_stopped_before_any_response_waits_for_one_to_cancel(
    lab: LabFiles,
) -> None:
    """§9.1: CANCEL only after a provisional response; stopped before the 180 arrives,
    the clean-up waits briefly for it, then cancels."""
    far = FarEnd()
    far.waiting_for = "INVITE"
    evidence = await interrupt_call(ringing(far, after=0.3), far, lab)
    assert far.received[:2] == ["INVITE", "CANCEL"]
    assert evidence.call is not None
    assert evidence.call.cancelled


async def test_a_second_cancellation_does_not_cut_the_clean_up_short(lab: LabFiles) -> None:
    far = FarEnd()
    far.waiting_for = "INVITE"
    evidence = await interrupt_call(ringing(far, after=0.3), far, lab, cancel_twice=True)
    assert far.received[:2] == ["INVITE", "CANCEL"]
    assert evidence.call is not None
    assert evidence.call.teardown == "cancel"
