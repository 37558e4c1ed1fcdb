"""OPTIONS against a real Kamailio with TLS, TCP and UDP listeners on loopback."""

from __future__ import annotations

import time
from typing import Any

import pytest

from probe.report.model import Report
from probe.run.commands import (
    FailoverRequest,
    OptionsRequest,
    run_failover_command,
    run_options_command,
)
from probe.settings import Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import Kamailio

pytestmark = pytest.mark.peer


def probe(targets: list[str], **options: Any) -> Report:
    return run_options_command(
        OptionsRequest(targets=targets, settings=Settings.from_flat(options)),
        on_usage_error=no_usage_error,
    )


def by_check(report: Report) -> dict[str, Any]:
    return {finding.check: finding for finding in report.findings}


def tls_uri(port: int, name: str = LAB_NAME) -> str:
    return f"sip:{name}:{port};transport=tls"


def test_options_over_tls_passes_with_every_fact(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.tls_port)],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.ca,
    )
    checks = by_check(report)
    assert report.verdict == "pass", [f.summary for f in report.findings]
    for check in (
        "net.connect",
        "tls.handshake",
        "tls.chain",
        "tls.identity",
        "sip.options",
        "sip.response",
    ):
        assert checks[check].status is Status.PASS, checks[check].summary
    options = checks["sip.options"].details
    assert options["status_code"] == 200
    assert options["server"] == "kamailio-sipprobe-test"
    assert "OPTIONS" in options["allow"]
    assert options["rtt_ms"] > 0
    handshake = checks["tls.handshake"].details
    assert handshake["version"] in ("TLSv1.2", "TLSv1.3")
    assert handshake["sni"] == LAB_NAME
    leaf = checks["tls.chain"].details["leaf"]
    assert LAB_NAME in leaf["dns_names"]
    assert leaf["days_left"] > 300
    assert checks["tls.chain"].details["presented_count"] == 2
    assert checks["tls.identity"].details["matched_by"] == "uri"
    assert report.results[0].target.label == f"{LAB_NAME} (127.0.0.1:{kamailio.tls_port}/tls)"


def test_sips_uri_means_tls(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [f"sips:{LAB_NAME}:{kamailio.tls_port}"],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.ca,
    )
    assert report.results[0].target.transport == "tls"
    assert report.verdict == "pass", [f.summary for f in report.findings]


def test_ip_literal_target_matches_the_ip_san(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe([f"sip:127.0.0.1:{kamailio.tls_port};transport=tls"], ca=lab.ca)
    checks = by_check(report)
    # Covered by the IP SAN, but RFC 5922 §7.2 never takes an IP as a SIP domain identity.
    assert checks["tls.identity"].status is Status.WARN
    assert checks["tls.identity"].details["matched_by"] == "ip"
    assert "RFC 5922" in checks["tls.identity"].summary
    assert checks["tls.handshake"].details["sni"] is None


def test_wrong_ca_fails_the_chain(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.tls_port)],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.other_ca,
    )
    checks = by_check(report)
    assert checks["tls.chain"].status is Status.FAIL
    assert checks["tls.identity"].status is Status.PASS
    assert report.verdict == "fail"


def test_wrong_ca_is_a_warning_with_insecure(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.tls_port)],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.other_ca,
        insecure=True,
    )
    checks = by_check(report)
    assert checks["tls.chain"].status is Status.WARN
    assert checks["tls.chain"].summary.startswith("--insecure")
    assert report.verdict == "warn"


def test_name_not_in_certificate_fails_identity(kamailio: Kamailio, lab: LabFiles) -> None:
    name = "wrong.example.test"
    report = probe(
        [tls_uri(kamailio.tls_port, name)],
        pins=[f"{name}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.ca,
    )
    identity = by_check(report)["tls.identity"]
    assert identity.status is Status.FAIL
    assert name in identity.summary
    assert f"DNS:{LAB_NAME}" in identity.details["covered_names"]
    assert by_check(report)["tls.chain"].status is Status.PASS


def test_closed_port_fails_connect_fast(closed_port: int, lab: LabFiles) -> None:
    started = time.monotonic()
    report = probe([f"sip:127.0.0.1:{closed_port};transport=tls"], ca=lab.ca, timeout=5)
    assert time.monotonic() - started < 2
    connect = by_check(report)["net.connect"]
    assert connect.status is Status.FAIL
    assert connect.details["error_kind"] == "refused"
    assert by_check(report)["sip.options"].status is Status.SKIP


def test_silent_listener_fails_handshake_within_deadline(
    silent_listener: int, lab: LabFiles
) -> None:
    started = time.monotonic()
    report = probe([f"sip:127.0.0.1:{silent_listener};transport=tls"], ca=lab.ca, timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3
    checks = by_check(report)
    assert checks["net.connect"].status is Status.PASS
    assert checks["tls.handshake"].status is Status.FAIL
    assert checks["tls.handshake"].details["error_kind"] == "timeout"
    assert "within 1 s" in checks["tls.handshake"].summary


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_options_over_plain_transports(kamailio: Kamailio, transport: str) -> None:
    report = probe([f"sip:127.0.0.1:{kamailio.plain_port};transport={transport}"])
    checks = by_check(report)
    assert report.verdict == "pass", [f.summary for f in report.findings]
    assert "tls.handshake" not in checks
    assert checks["sip.options"].details["status_code"] == 200
    assert report.results[0].target.transport == transport


def test_count_reports_every_rtt(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.tls_port)],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.ca,
        count=5,
        interval=0.01,
    )
    options = by_check(report)["sip.options"]
    assert options.status is Status.PASS, options.summary
    assert options.details["sent"] == 5
    assert options.details["answered"] == 5
    assert options.details["codes"] == {"200": 5}
    assert options.details["never_sent"] == 0
    assert options.details["loss_pct"] == 0
    stats = options.details["rtt_ms"]
    assert stats["min"] <= stats["avg"] <= stats["max"]
    assert "5 sent, 5 answered, 0 lost; 0% loss of 5 asked" in options.summary


def test_several_targets_in_one_report(kamailio: Kamailio, lab: LabFiles, closed_port: int) -> None:
    report = probe(
        [
            tls_uri(kamailio.tls_port),
            f"sip:127.0.0.1:{kamailio.plain_port};transport=tcp",
            f"sip:127.0.0.1:{closed_port};transport=tcp",
        ],
        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"],
        ca=lab.ca,
    )
    verdicts = [result.verdict.value for result in report.results]
    assert verdicts == ["pass", "pass", "fail"]
    assert report.verdict == "fail"


def test_client_certificate_required_and_given(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.mtls_port)],
        pins=[f"{LAB_NAME}:{kamailio.mtls_port}:127.0.0.1"],
        ca=lab.ca,
        cert=lab.client,
        key=lab.client_key,
    )
    checks = by_check(report)
    assert report.verdict == "pass", [f.summary for f in report.findings]
    assert checks["tls.handshake"].details["client_cert_requested"] is True
    assert checks["tls.handshake"].details["client_cert_sent"] is True
    assert "asked for a client certificate" in checks["tls.handshake"].summary


def test_client_certificate_required_and_missing(kamailio: Kamailio, lab: LabFiles) -> None:
    report = probe(
        [tls_uri(kamailio.mtls_port)],
        pins=[f"{LAB_NAME}:{kamailio.mtls_port}:127.0.0.1"],
        ca=lab.ca,
    )
    checks = by_check(report)
    assert report.verdict == "fail"
    # TLS 1.3: the client's handshake completes; the refusal arrives with the first read.
    if checks["tls.handshake"].status is Status.PASS:
        assert checks["tls.handshake"].details["client_cert_requested"] is True
        assert checks["sip.options"].status is Status.FAIL
        assert "certificate required" in checks["sip.options"].summary
    else:
        assert "client certificate" in checks["tls.handshake"].summary


def test_failover_through_a_client_certificate_server_keeps_every_target(
    kamailio: Kamailio, lab: LabFiles
) -> None:
    """The refused mutual-TLS endpoint is a failing target, not the end of the report."""
    common = OptionsRequest(
        targets=[tls_uri(kamailio.mtls_port), tls_uri(kamailio.tls_port)],
        settings=Settings.from_flat(
            pins=[
                f"{LAB_NAME}:{kamailio.mtls_port}:127.0.0.1",
                f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1",
            ],
            ca=lab.ca,
        ),
    )
    report = run_failover_command(FailoverRequest(common), on_usage_error=no_usage_error)
    verdicts = [result.verdict.value for result in report.results]
    assert verdicts == ["fail", "pass"], [f.summary for f in report.findings]
