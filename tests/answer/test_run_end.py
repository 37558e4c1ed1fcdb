"""How an answer run ends: when the expected calls have arrived and ended, when
`within_s` runs out (with fewer calls, or with a call still up), or at once when it is
stopped. Whatever ends it, no call is left up and nothing hangs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from probe.answer import answer_calls
from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config, only_call
from tests.peers.sipp import Sipp, start_sipp_uac


async def sipp_reached(sipp: Sipp, text: str, seconds: float = 15.0) -> None:
    """Until SIPp's message trace shows `text` (a message it sent or received)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for trace in sipp.workdir.glob("*_messages.log"):
            if text in trace.read_text(errors="replace"):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"SIPp never reached {text!r}:\n{sipp.errors()}")


async def test_stopping_during_a_call_sends_bye_and_leaves_nothing_open(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with answering(config(lab, "udp", hold_s=60)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        await sipp_reached(sipp, "ACK sip:sipprobe-answer@")
        stopped_at = time.monotonic()
        run.stop.set()
        evidence = await run.evidence()
    assert time.monotonic() - stopped_at < 3  # at once: one BYE and its answer
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()  # it got our BYE
    assert evidence.stopped == "interrupted"
    call = only_call(evidence)
    assert call.teardown == "interrupted"
    assert call.interrupted
    assert call.acked
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0


async def test_stopping_while_a_call_rings_refuses_it_486(tmp_path: Path, lab: LabFiles) -> None:
    async with answering(config(lab, "udp", ring_s=60)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        await sipp_reached(sipp, "SIP/2.0 180 Ringing")
        run.stop.set()
        evidence = await run.evidence(timeout=10)
    sipp.stop()
    call = only_call(evidence)
    assert call.final_status == 486
    assert call.teardown == "interrupted"
    assert call.interrupted
    assert call.dialogs_left_open == 0
    refusal = next(event.data for event in call.events if event.note == "486 Busy Here")
    assert b"Warning: 399 " in refusal


async def test_within_running_out_returns_in_time_with_the_calls_that_arrived(
    tmp_path: Path, lab: LabFiles
) -> None:
    started = time.monotonic()
    async with answering(config(lab, "tcp", calls=2, within_s=3)) as run:
        sipp = start_sipp_uac(
            tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("tcp")), transport="t1"
        )
        evidence = await run.evidence()
    took = time.monotonic() - started
    assert 2.9 < took < 6
    assert 2900 < evidence.waited_ms < 4000
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()
    assert evidence.stopped is None
    assert evidence.expectation.calls == 2
    call = only_call(evidence)
    assert call.teardown == "our_bye"
    assert call.dialogs_left_open == 0


async def test_within_running_out_during_a_call_ends_it_with_bye(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with answering(config(lab, "udp", within_s=2, hold_s=60)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence(timeout=15)
    assert await asyncio.to_thread(sipp.wait, 10) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.teardown == "interrupted"
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0


async def test_a_run_with_no_caller_returns_when_within_runs_out(lab: LabFiles) -> None:
    started = time.monotonic()
    evidence = await asyncio.wait_for(
        answer_calls(config(lab, "tls", "tcp", "udp", within_s=1)), timeout=10
    )
    assert time.monotonic() - started < 4
    assert evidence.calls == ()
    assert evidence.connections == ()
    assert [item.transport for item in evidence.listening] == ["tls", "tcp", "udp"]
    assert all(item.port > 0 for item in evidence.listening)
    assert evidence.stopped is None


async def test_a_stop_set_before_any_call_ends_the_run_at_once(lab: LabFiles) -> None:
    stop = asyncio.Event()
    stop.set()
    evidence = await asyncio.wait_for(
        answer_calls(config(lab, "udp", within_s=60), stop=stop), timeout=5
    )
    assert evidence.stopped == "interrupted"
    assert evidence.calls == ()
