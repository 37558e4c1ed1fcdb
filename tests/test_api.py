"""The library API (probe.api): a run from Python against the embedded responder on
loopback, with no side effect on the process: no signal handler, the garbage collector
as it was, nothing kept between runs."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

import probe
import probe.api
from probe.errors import SettingsError
from probe.evidence.file import load_evidence
from probe.report.model import exit_code
from probe.serve import Responder, ResponderConfig
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Verdict
from tests.conftest import LAB_NAME
from tests.peers.sipp import start_sipp_uac


@pytest.fixture
async def responder(lab: LabFiles) -> AsyncIterator[Responder]:
    config = ResponderConfig(transports=("tls",), cert_file=lab.server, key_file=lab.server_key)
    running = Responder(config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def lab_settings(lab: LabFiles, port: int, **more: object) -> Settings:
    return Settings.from_flat(pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, **more)


def process_state() -> tuple[object, ...]:
    handlers = tuple(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    return (*handlers, gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())


async def test_options_returns_the_report_and_leaves_the_process_as_it_was(
    responder: Responder, lab: LabFiles, tmp_path: Path
) -> None:
    port = responder.port_of("tls")
    saved = tmp_path / "run.json"
    before = process_state()
    report = await probe.api.options(
        [f"sip:{LAB_NAME}:{port};transport=tls"], lab_settings(lab, port, evidence_out=saved)
    )
    assert process_state() == before
    assert report.verdict is Verdict.PASS, [f.summary for f in report.findings]
    checks = {finding.check for finding in report.findings}
    assert {"net.connect", "tls.handshake", "tls.chain", "tls.identity", "sip.options"} <= checks
    assert exit_code(report) == 0
    # The saved run judged again offline: the same findings, under the same settings.
    again = probe.api.judge(load_evidence(saved), lab_settings(lab, port))
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in report.findings]
    assert probe.api.judge(saved).verdict is Verdict.PASS  # the run's own anchors, kept


async def test_the_package_exposes_the_api() -> None:
    assert probe.options is probe.api.options
    assert probe.judge is probe.api.judge
    assert probe.Settings is Settings


async def test_a_failing_target_is_a_finding_not_an_exception(
    lab: LabFiles, closed_port: int
) -> None:
    report = await probe.api.options(
        [f"sip:{LAB_NAME}:{closed_port};transport=tls"], lab_settings(lab, closed_port)
    )
    assert report.verdict is Verdict.FAIL
    assert exit_code(report) == 1


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (Settings.from_flat(accept="2xx,banana"), "banana"),
        (Settings.from_flat(warn_days=3, critical_days=7), "--critical-days"),
        (Settings.from_flat(pins=["no-colons"]), "no-colons"),
        (Settings.from_flat(loss_warn=50, loss_crit=10), "--loss-warn"),
        # NaN compares false with every bound: each is refused by name, not let through.
        (Settings.from_flat(timeout=float("nan")), "--timeout nan"),
        (Settings.from_flat(rate=float("nan")), "--rate"),
        (Settings.from_flat(max_time=float("inf")), "--max-time"),
        (Settings.from_flat(count=0), "--count 0"),
        (Settings.from_flat(concurrency=0), "--concurrency 0"),
    ],
)
async def test_settings_that_cannot_be_used_raise_before_any_packet(
    settings: Settings, words: str, silent_listener: int
) -> None:
    with pytest.raises(SettingsError, match=words):
        await probe.api.options([f"sip:127.0.0.1:{silent_listener};transport=tcp"], settings)


async def test_a_call_needs_its_settings_and_is_refused_over_udp(lab: LabFiles) -> None:
    with pytest.raises(SettingsError, match=r"settings\.call"):
        await probe.api.call("sip:127.0.0.1:5060;transport=tcp", Settings())
    udp = replace(Settings(), call=CallSettings(to="+15550100"))
    with pytest.raises(SettingsError, match="UDP"):
        await probe.api.call("sip:127.0.0.1:5060;transport=udp", udp)


async def test_a_test_call_through_the_library(responder: Responder, lab: LabFiles) -> None:
    port = responder.port_of("tls")
    settings = replace(lab_settings(lab, port), call=CallSettings(to="+15550100"))
    before = process_state()
    report = await probe.api.call(f"sip:{LAB_NAME}:{port};transport=tls", settings)
    assert process_state() == before
    statuses = {finding.check: finding.status.value for finding in report.findings}
    assert statuses["sip.invite"] == "pass"
    assert statuses["sdp.srtp"] == "pass"
    assert statuses["sip.teardown"] == "pass"
    assert report.verdict is Verdict.PASS


def answering(lab: LabFiles, **more: object) -> Settings:
    """An answer run on a free loopback port, with the lab's server certificate."""
    return Settings.from_flat(
        listen=("tls:127.0.0.1:0",), listen_cert=lab.server, listen_key=lab.server_key, **more
    )


async def test_a_call_received_through_the_library(lab: LabFiles) -> None:
    # Both directions in one event loop: the library answers the call the library places.
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    before = process_state()
    receiving = asyncio.create_task(
        probe.api.answer_probed(
            answering(lab, within=20.0, hold=5.0), ready=lambda ls: bound.set_result(ls[0].port)
        )
    )
    port = await asyncio.wait_for(bound, 20)
    calling = replace(lab_settings(lab, port), call=CallSettings(to="+15550100"))
    placed = await probe.api.call(f"sip:{LAB_NAME}:{port};transport=tls", calling)
    received = await asyncio.wait_for(receiving, 20)
    assert process_state() == before
    assert placed.verdict is Verdict.PASS
    assert received.report.verdict is Verdict.PASS
    statuses = {finding.check: finding.status.value for finding in received.report.findings}
    assert statuses["inbound.calls"] == "pass"
    assert statuses["inbound.offer"] == "pass"
    assert statuses["inbound.teardown"] == "pass"
    assert received.evidence.inbound is not None
    (call,) = received.evidence.inbound.calls
    assert call.teardown == "caller_bye"  # the caller hung up before our 5 s hold ended


async def test_cancelling_an_answer_run_ends_its_call_first(lab: LabFiles, tmp_path: Path) -> None:
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    settings = Settings.from_flat(
        listen=("udp:127.0.0.1:0",), require_tls=False, within=30.0, hold=30.0
    )
    receiving = asyncio.create_task(
        probe.api.answer(settings, ready=lambda ls: bound.set_result(ls[0].port))
    )
    port = await asyncio.wait_for(bound, 20)
    # SIPp answers our 200 with ACK and then waits for our BYE: only the cancellation
    # of the answer run (its 30 s hold far off) can end the call.
    sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", port))
    try:
        await asyncio.sleep(2.0)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(receiving, 10)
        exit_status = await asyncio.to_thread(sipp.wait, 10)
    finally:
        sipp.stop()
    assert exit_status == 0, sipp.errors()  # its scenario completed: our BYE came
