"""probe.api's runs with their evidence (`Probed`), as the exporter calls them: against the
embedded responder on loopback, in the caller's own event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

import probe.api
from probe.errors import SettingsError
from probe.exporter.metrics import exposition, probe_registry, probe_samples
from probe.serve import Responder, ResponderConfig
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Verdict
from tests.conftest import LAB_NAME


@pytest.fixture
async def port(lab: LabFiles) -> AsyncIterator[int]:
    config = ResponderConfig(transports=("tls",), cert_file=lab.server, key_file=lab.server_key)
    running = Responder(config)
    await running.start()
    try:
        yield running.port_of("tls")
    finally:
        await running.stop()


def lab_settings(lab: LabFiles, port: int, **more: object) -> Settings:
    return Settings.from_flat(pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, **more)


def uri(port: int) -> str:
    return f"sip:{LAB_NAME}:{port};transport=tls"


async def test_an_options_probe_keeps_the_whole_evidence(lab: LabFiles, port: int) -> None:
    probed = await probe.api.run("options", [uri(port)], lab_settings(lab, port))
    assert probed.report.verdict is Verdict.PASS
    assert probed.evidence.command == "options"
    (target,) = probed.evidence.probed()
    # Not only the target: the handshake, the chain and the exchange are all there.
    assert target.evidence is not None
    assert target.evidence.tls is not None
    assert target.evidence.tls.presented_chain
    assert target.evidence.exchanges
    samples = {s.name: s.value for s in probe_samples(probed.report, probed.evidence)}
    assert samples["probe_success"] == 1
    assert samples["sipprobe_sip_status_code"] == 200
    assert samples["sipprobe_options_rtt_seconds"] > 0
    text = exposition(probe_registry(probed.report, probed.evidence)).decode()
    assert "probe_ssl_earliest_cert_expiry " in text


async def test_the_report_alone_is_the_same_judgement(lab: LabFiles, port: int) -> None:
    report = await probe.api.options([uri(port)], lab_settings(lab, port))
    probed = await probe.api.options_probed([uri(port)], lab_settings(lab, port))
    assert [f.check for f in report.findings] == [f.check for f in probed.report.findings]
    assert [f.status for f in report.findings] == [f.status for f in probed.report.findings]


async def test_a_failover_probe_and_a_call(lab: LabFiles, port: int) -> None:
    failover = await probe.api.run("failover", [uri(port)], lab_settings(lab, port))
    assert failover.evidence.failover is not None
    names = {s.name for s in probe_samples(failover.report, failover.evidence)}
    assert "sipprobe_failover_landing_position" in names
    call = CallSettings(to=f"sip:+15550100@{LAB_NAME}")
    settings = replace(lab_settings(lab, port), call=call)
    called = await probe.api.run("invite", [uri(port)], settings)
    assert called.evidence.command == "invite"
    samples = {s.name: s.value for s in probe_samples(called.report, called.evidence)}
    assert samples["sipprobe_srtp_negotiated"] == 1
    assert samples["sipprobe_dialogs_left_open"] == 0


async def test_a_call_goes_through_one_target() -> None:
    settings = Settings(call=CallSettings(to="sip:+15550100@sip.example.test"))
    with pytest.raises(SettingsError, match="one target"):
        await probe.api.run("invite", ["sips:a.example.test", "sips:b.example.test"], settings)
    with pytest.raises(SettingsError, match=r"settings\.call"):
        await probe.api.run("invite", ["sips:a.example.test"])
    with pytest.raises(SettingsError, match="options, failover or invite"):
        await probe.api.run("register", ["sips:a.example.test"])  # type: ignore[arg-type]
