"""The library API (probe.api): a run from Python against the embedded responder on
loopback, with no side effect on the process: no signal handler, the garbage collector
as it was, nothing kept between runs."""

from __future__ import annotations

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
