"""Signals while a command runs (probe.cli.signals): a second signal exits at once, a
signal ignored at start stays ignored, the handlers before the run come back after it,
and a signal that comes as a run ends is kept: the command stops after that run."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace

import pytest

from probe.cli.signals import STOP_SIGNALS, stop_on_signals
from probe.evidence.run import RunEvidence
from probe.run.check import stopped_by as check_command_stopped_by
from probe.run.commands import _collect
from probe.sip import Request
from probe.tls.lab import LabFiles
from probe.verdict.checks import OptionsPolicy
from probe.verdict.judging import judge_run
from tests.conftest import LAB_NAME
from tests.evidence import sample
from tests.net.scripted import response_bytes, scripted_server, tls_server_context
from tests.signal_child import finish, start_sipprobe, wait_until


async def test_a_second_signal_exits_at_once_without_waiting_for_the_clean_up(
    lab: LabFiles,
) -> None:
    invited = asyncio.Event()

    async def ring_and_ignore_cancel(request: Request, writer: asyncio.StreamWriter) -> None:
        # Rings, then never answers the CANCEL: the clean-up would wait its full grace.
        if request.method == "INVITE":
            writer.write(response_bytes(request, 180, "Ringing"))
            invited.set()

    context = tls_server_context(lab.server, lab.server_key)
    async with scripted_server(ring_and_ignore_cancel, context) as port:
        process = await start_sipprobe(
            "invite",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--to",
            f"sip:+15550100@{LAB_NAME}",
            "--resolve",
            f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca",
            str(lab.ca),
            "--timeout",
            "10",
        )
        await wait_until(invited.is_set, "the far end rings")
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        first = await asyncio.wait_for(process.stderr.readline(), 20)
        assert b"interrupted by SIGTERM: ending calls in progress" in first
        sent_again = time.monotonic()
        process.send_signal(signal.SIGHUP)
        code, _out, err = await finish(process)
        took = time.monotonic() - sent_again
    assert code == 128 + signal.SIGHUP  # the second signal's own number
    assert "SIGHUP again: exiting now" in err
    assert took < 1.5  # the clean-up alone would wait 2 s for an answer to its CANCEL


async def test_handlers_are_installed_for_the_run_and_restored_after_it() -> None:
    before = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    task = asyncio.current_task()
    assert task is not None
    with stop_on_signals(say=lambda _text: None) as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(5)  # cancelled by the handler
        task.uncancel()
    assert stop.received == signal.SIGHUP
    assert {number: signal.getsignal(number) for number in STOP_SIGNALS} == before


async def test_a_signal_ignored_at_start_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_on_signals(say=lambda _text: None) as stop:
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.05)  # not cancelled: nothing was installed for it
        assert stop.received is None
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


async def test_a_signal_that_comes_as_the_block_ends_is_recorded() -> None:
    # No await between the signal and the end of the block: handlers of the event loop,
    # removed with the block, would never have seen it; the interpreter's run at once.
    task = asyncio.current_task()
    assert task is not None
    with stop_on_signals(say=lambda _text: None) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.received == signal.SIGTERM
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(5)  # the cancellation still reaches the task
    task.uncancel()


def test_a_run_that_ends_as_a_signal_comes_keeps_its_evidence_and_the_signal() -> None:
    async def ends_as_signalled() -> RunEvidence:
        await asyncio.sleep(0)
        os.kill(os.getpid(), signal.SIGTERM)  # after its last await: nothing to cut short
        return sample.run()

    evidence = _collect(ends_as_signalled())
    assert evidence.stopped is None
    assert evidence.stop_signal == signal.SIGTERM
    report = judge_run(evidence, OptionsPolicy())
    assert not report.interrupted  # every target finished: judged as it stands
    assert (
        "SIGTERM came as the run ended, after its last target had finished: nothing was cut short"
        in report.notes
    )
    assert check_command_stopped_by(evidence) == signal.SIGTERM


def test_what_stops_a_check_after_a_run() -> None:
    whole = sample.run()
    assert check_command_stopped_by(whole) is None
    assert check_command_stopped_by(replace(whole, stopped="interrupted")) == signal.SIGINT
    interrupted = replace(whole, stopped="interrupted", stop_signal=signal.SIGHUP)
    assert check_command_stopped_by(interrupted) == signal.SIGHUP
    assert check_command_stopped_by(replace(whole, stop_signal=signal.SIGTERM)) == signal.SIGTERM
