"""Test calls against scripted far ends that misbehave: every call must still end, and
the evidence must say honestly how."""

from __future__ import annotations

import asyncio
import datetime as dt

from probe.evidence.model import ProbeEvidence, Target
from probe.net.call import CallSettings
from probe.net.options import ProbeSettings, collect_options
from probe.sip import Request, parse_uri
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import Finding, Status
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


async def run_call(
    script: Script, lab: LabFiles, **call: object
) -> tuple[ProbeEvidence, dict[str, Finding]]:
    async with scripted_server(script, tls_server_context(lab.server, lab.server_key)) as port:
        text = f"sip:{LAB_NAME}:{port};transport=tls"
        target = Target(uri=text, host=LAB_NAME, port=port, transport="tls", address="127.0.0.1")
        settings = ProbeSettings(
            timeout=1.0,
            call=CallSettings(
                to=parse_uri(f"sip:+15550100@{LAB_NAME}"), answer_timeout=1.0, **call
            ),  # type: ignore[arg-type]
        )
        evidence = await collect_options(parse_uri(text), target, settings)
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    return evidence, {f.check: f for f in judge_options(evidence, policy)}


def sent_methods(evidence: ProbeEvidence) -> list[str]:
    assert evidence.call is not None
    return [
        e.data.split(b" ", 1)[0].decode() for e in evidence.call.events if e.direction == "sent"
    ]


async def test_a_challenge_after_cancel_is_not_answered_with_a_new_call(lab: LabFiles) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "INVITE":
            writer.write(response_bytes(request, 100, "Trying"))
        elif request.method == "CANCEL":
            writer.write(response_bytes(request, 200, "OK"))
            invite_like = request  # same branch and CSeq number as the INVITE
            challenge = response_bytes(
                invite_like,
                407,
                "Proxy Authentication Required",
                ("Proxy-Authenticate", 'Digest realm="x", nonce="abc"'),
            ).replace(b"CSeq: 1 CANCEL", b"CSeq: 1 INVITE")
            writer.write(challenge)

    evidence, checks = await run_call(script, lab, hangup="immediately")
    assert sent_methods(evidence) == ["INVITE", "CANCEL", "ACK"]
    assert checks["sip.teardown"].status is Status.PASS, checks["sip.teardown"].summary


async def test_a_challenged_bye_leaves_the_dialog_counted_open(lab: LabFiles) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "INVITE":
            writer.write(response_bytes(request, 200, "OK", ("Contact", "<sip:uas@127.0.0.1>")))
        elif request.method == "BYE":
            writer.write(
                response_bytes(
                    request,
                    401,
                    "Unauthorized",
                    ("WWW-Authenticate", 'Digest realm="x", nonce="n"'),
                )
            )

    _evidence, checks = await run_call(script, lab)
    teardown = checks["sip.teardown"]
    assert teardown.status is Status.FAIL
    assert teardown.details["dialogs_left_open"] == 1


async def test_garbage_instead_of_an_answer_ends_with_a_finding(lab: LabFiles) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "INVITE":
            writer.write(response_bytes(request, 180, "Ringing"))
            writer.write(b"SIP/2.0 999 Nonsense\r\nContent-Length: 0\r\n\r\n")

    evidence, checks = await run_call(script, lab)
    assert evidence.call is not None
    assert evidence.call.teardown == "failed"
    assert "not SIP" in (evidence.call.error or "")
    assert checks["sip.invite"].status is Status.FAIL


async def test_an_answer_in_another_suite_is_a_finding_not_a_crash(lab: LabFiles) -> None:
    """baresip answers an offer it cannot do (AES_256_CM_HMAC_SHA1_80, tag 1) by echoing
    tag 1 with AES_CM_128_HMAC_SHA1_80; here with a loopback media address, so the media
    check would key its own packets with the offered suite."""

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "INVITE":
            writer.write(answer_bytes(request, SDP_ANSWER))
        elif request.method == "BYE":
            writer.write(response_bytes(request, 200, "OK"))

    suites = ("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
    evidence, checks = await run_call(script, lab, suites=suites, verify_media=True)
    assert checks["sdp.srtp"].status is Status.FAIL
    assert "offered as AES_256_CM_HMAC_SHA1_80" in checks["sdp.srtp"].summary
    media = checks["media.srtp"]
    assert media.status is not Status.PASS
    assert "no agreed SRTP suite" in media.summary, media.summary
    assert sent_methods(evidence) == ["INVITE", "ACK", "BYE"]
