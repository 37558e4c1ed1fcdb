"""The identity check of each INVITE (STIR/SHAKEN, RFC 8224 §6.2): awaited before our
final answer, its evidence kept on the call; one that fails or never ends is recorded
on the call, which is answered all the same."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from probe.answer import call as call_module
from probe.run.stir import StirVerifier
from probe.settings import StirSettings
from probe.sip import Request
from probe.stir.model import StirEvidence
from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config, only_call
from tests.peers.sipp import start_sipp_uac


async def test_the_verifier_judges_each_invite_before_our_answer(
    tmp_path: Path, lab: LabFiles
) -> None:
    verifier = StirVerifier(StirSettings())
    seen: list[str] = []

    async def identity(invite: Request) -> StirEvidence:
        seen.append(invite.call_id)
        outcome = await verifier.verify(invite.headers, request_uri=str(invite.uri))
        return outcome.evidence

    async with answering(config(lab, "udp"), identity=identity) as run:
        sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()
    call = only_call(evidence)
    assert len(seen) == 1
    assert call.stir is not None
    # SIPp's INVITE carries no Identity header: a verifier would answer 428 (§6.2.2).
    assert call.stir.checks == ()
    assert call.stir.chosen is None
    assert call.stir.sip.from_tn == "15551230001"  # canonical form (RFC 8224 §8.3)
    assert call.error is None
    assert call.final_status == 200


async def test_an_identity_check_that_fails_or_hangs_is_recorded_and_the_call_answered(
    tmp_path: Path, lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_module, "IDENTITY_SECONDS", 0.5)

    async def hangs(invite: Request) -> StirEvidence:
        await asyncio.sleep(3600)
        raise AssertionError("never reached")

    async with answering(config(lab, "udp"), identity=hangs) as run:
        sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.stir is None
    assert call.error == "the identity check did not finish within 0.5 s"
    ok = next(event for event in call.events if event.note == "200 OK")
    assert ok.at_ms - call.at_ms >= 500  # the answer waited for the check's deadline
    assert call.teardown == "our_bye"

    async def fails(invite: Request) -> StirEvidence:
        raise RuntimeError("no trust list")

    async with answering(config(lab, "udp"), identity=fails) as run:
        sipp = start_sipp_uac(tmp_path / "2", "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.error == "the identity check failed: RuntimeError: no trust list"
    assert call.final_status == 200
