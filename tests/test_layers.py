"""The layers hold (docs/architecture.md): importing a pure package loads no networking,
no event loop, no DNS driver and no layer above it. Each import runs in a fresh
interpreter, so what another test imported cannot hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IO = ("socket", "ssl", "asyncio", "selectors", "dns.resolver", "dns.asyncresolver", "dns.query")
"""What only the collect layer may load: sockets, TLS, the event loop, dnspython's driver."""
ABOVE = ("probe.net", "probe.run", "probe.cli", "probe.serve", "click")
"""The layers above judgement, and the command line's toolkit."""

PURE = [
    "probe.sip",
    "probe.sdp",
    "probe.evidence",
    "probe.evidence.model",
    "probe.evidence.run",
    "probe.evidence.file",
    "probe.evidence.ping",
    "probe.verdict",
    "probe.verdict.findings",
    "probe.verdict.checks",
    "probe.verdict.judging",
    "probe.verdict.diff",
    "probe.report.model",
    "probe.report.json",
    "probe.report.junit",
    "probe.report.output",
    "probe.locate",
    "probe.locate.plan",
    "probe.exporter",
    "probe.exporter.metrics",
    "probe.evidence.capture",
    "probe.evidence.capture_file",
    "probe.verdict.capture",
    "probe.pcap",
    "probe.pcap.packets",
    "probe.pcap.fragments",
    "probe.pcap.flows",
    "probe.pcap.tcp",
    "probe.pcap.analysis",
    "probe.pcap.sip_audit",
    "probe.pcap.tls_records",
    "probe.pcap.tls_audit",
    "probe.tls.wire",
    "probe.pcap.analyses",
    "probe.pcap.audit",
    "probe.stir",
    "probe.stir.model",
    "probe.stir.header",
    "probe.stir.passport",
    "probe.stir.tn",
    "probe.stir.tnauthlist",
    "probe.stir.claims",
    "probe.verdict.checks.stir",
    "probe.evidence.inbound",
    "probe.verdict.checks.inbound",
    "probe.verdict.checks.inbound_session",
    "probe.verdict.checks.inbound_request",
    "probe.verdict.checks.inbound_call",
    "probe.inbound_settings",
]

STIR_CRYPTOGRAPHIC = [
    "probe.stir.es256",
    "probe.stir.credential",
    "probe.stir.verify",
    "probe.stir.sign",
]
"""The STIR modules that need cryptography, which itself loads `socket` (for IP address
names); they are held to the rest: no event loop, no TLS, nothing above them."""


def loaded_by(module: str) -> set[str]:
    code = (
        "import json, sys; before = set(sys.modules); "
        f"import {module}; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def forbidden_in(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in names)
    )


@pytest.mark.parametrize("module", PURE)
def test_a_pure_package_loads_no_io_and_no_layer_above(module: str) -> None:
    loaded = loaded_by(module)
    assert module in loaded or module.rsplit(".", 1)[0] in loaded  # the import did run
    assert forbidden_in(loaded, IO + ABOVE) == []


@pytest.mark.parametrize("module", STIR_CRYPTOGRAPHIC)
def test_stir_verification_and_signing_load_no_event_loop_and_no_layer_above(module: str) -> None:
    loaded = loaded_by(module)
    assert module in loaded
    assert forbidden_in(loaded, ("ssl", "asyncio", "dns.asyncresolver", *ABOVE)) == []


def test_the_scenario_model_loads_no_run_and_no_event_loop() -> None:
    # pydantic loads `socket` on its own (email.utils, for its e-mail type): the scenario
    # layer is held to no event loop, no TLS and nothing of the run it describes.
    loaded = loaded_by("probe.scenario")
    assert forbidden_in(loaded, ("ssl", "asyncio", "dns.asyncresolver", *ABOVE)) == []


def test_the_check_fails_when_a_layer_is_crossed() -> None:
    # The probe of the test itself: the collect layer does load what the others must not.
    assert forbidden_in(loaded_by("probe.net.options"), IO) != []
    assert forbidden_in(loaded_by("probe.run.collect"), ABOVE) != []


@pytest.mark.parametrize(
    "module", ["probe.run.collect", "probe.verdict.judging", "probe.report.output"]
)
def test_a_run_that_only_probes_loads_nothing_of_received_calls(module: str) -> None:
    # The receiving side (the listener, its checks, STIR's model) is loaded by `answer`
    # and `check --inbound` only: an OPTIONS run does not pay for it at start-up.
    loaded = loaded_by(module)
    inbound = ("probe.answer", "probe.evidence.inbound", "probe.stir", "probe.inbound_settings")
    assert forbidden_in(loaded, (*inbound, "probe.verdict.checks.inbound")) == []


def test_a_probe_loads_no_capture_audit() -> None:
    # The capture adapter reads a client's Certificate message with the capture audit's
    # TLS record reader, on a listener only: a probe's start-up never loads it.
    assert forbidden_in(loaded_by("probe.tls.capture"), ("probe.pcap", "probe.tls.wire")) == []
