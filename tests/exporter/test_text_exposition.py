"""The exporter writes each scrape's exposition itself (`text_exposition`): byte for byte
what prometheus_client renders for the same samples, escapes and numbers included."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

import probe.api
from probe.exporter.metrics import (
    HELP,
    Sample,
    _registry,
    exposition,
    probe_samples,
    reuse_samples,
    text_exposition,
)
from probe.serve import Responder, ResponderConfig
from probe.settings import Settings
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.exporter.expositions import promtool_finds_no_problem


@pytest.fixture
async def port(lab: LabFiles) -> AsyncIterator[int]:
    config = ResponderConfig(transports=("tls",), cert_file=lab.server, key_file=lab.server_key)
    async with Responder(config) as running:
        yield running.port_of("tls")


async def test_a_probes_exposition_is_prometheus_clients_text(lab: LabFiles, port: int) -> None:
    settings = Settings.from_flat(pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca)
    probed = await probe.api.options_probed([f"sip:{LAB_NAME}:{port};transport=tls"], settings)
    samples = [*probe_samples(probed.report, probed.evidence), *reuse_samples(True, 1.7e9)]
    written = text_exposition(samples)
    assert written == exposition(_registry(samples))
    assert b"\nsipprobe_probe_reused_connection 1.0\n" in written
    promtool_finds_no_problem(written.decode())


@pytest.mark.parametrize(
    "value", [0, 1, -1, 0.000123, 12345678.9, 1.7e9, 1e22, math.inf, -math.inf, math.nan]
)
def test_numbers_and_escapes_are_written_as_prometheus_client_writes_them(value: float) -> None:
    name = "sipprobe_certificate_not_after_timestamp_seconds"
    samples = [
        Sample(name, (("subject", 'CN=a "quoted" \\ name'), ("position", "0")), value),
        Sample(name, (("subject", "CN=plain"), ("position", "1")), value),
        Sample("probe_success", (), value),
    ]
    written = text_exposition(samples)
    assert written == exposition(_registry(samples))
    assert f"# HELP {name} {HELP[name]}\n".encode() in written
