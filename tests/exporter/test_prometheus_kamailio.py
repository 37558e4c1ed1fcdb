"""`--format prometheus` against real Kamailio listeners: a good one, an expired
certificate, a certificate for another host, and a 503. Each target's figures are the
failure it has, and `promtool check metrics` finds no problem in the file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.exporter.expositions import one, parsed, promtool_finds_no_problem
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def kamailios(
    tmp_path_factory: pytest.TempPathFactory, lab: LabFiles
) -> Iterator[tuple[Kamailio, Kamailio]]:
    """One instance answering 200 on three TLS listeners (good, expired, wrong host),
    one answering 503 Service Unavailable."""
    variants = lab.variants
    profiles = [
        TlsProfile("tls", lab.server, lab.server_key),
        TlsProfile("expired", variants["expired"].chain, variants["expired"].key),
        TlsProfile("wrong-host", variants["wrong-host"].chain, variants["wrong-host"].key),
    ]
    answering = start_kamailio(tmp_path_factory.mktemp("kamailio-200"), profiles)
    try:
        unavailable = start_kamailio(
            tmp_path_factory.mktemp("kamailio-503"),
            [TlsProfile("tls", lab.server, lab.server_key)],
            options_reply=(503, "Service Unavailable"),
        )
    except BaseException:
        answering.stop()
        raise
    yield answering, unavailable
    answering.stop()
    unavailable.stop()


def test_each_failure_is_in_the_figures_of_its_target(
    kamailios: tuple[Kamailio, Kamailio], lab: LabFiles, tmp_path: Path
) -> None:
    answering, unavailable = kamailios
    ports = {
        "good": answering.ports["tls"],
        "expired": answering.ports["expired"],
        "wrong-host": answering.ports["wrong-host"],
        "503": unavailable.tls_port,
    }
    targets = {name: f"sip:{LAB_NAME}:{port};transport=tls" for name, port in ports.items()}
    pins = [a for port in ports.values() for a in ("--resolve", f"{LAB_NAME}:{port}:127.0.0.1")]
    metrics = tmp_path / "kamailio.prom"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "probe",
            "options",
            *targets.values(),
            *pins,
            "--ca",
            str(lab.ca),
            "--timeout",
            "3",
            "--format",
            "prometheus",
            "--output",
            str(metrics),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    text = metrics.read_text()
    promtool_finds_no_problem(text)
    series = parsed(text)

    def at(name: str, metric: str, **labels: str) -> float:
        return one(series, metric, target=targets[name], **labels)

    def status(name: str, check: str) -> str:
        states = [
            dict(labels)["status"]
            for (metric, labels), value in series.items()
            if metric == "sipprobe_check_status"
            and ("target", targets[name]) in labels
            and ("check", check) in labels
            and value == 1
        ]
        assert len(states) == 1, (name, check, states)
        return states[0]

    assert at("good", "probe_success") == 1
    assert at("good", "sipprobe_sip_status_code") == 200
    for name in ("expired", "wrong-host", "503"):
        assert at(name, "probe_success") == 0, name
        assert at(name, "sipprobe_verdict", verdict="fail") == 1, name
    # The expired chain: its own check fails, its expiry is in the past, Kamailio still
    # answered (the failure is the certificate's).
    assert status("expired", "tls.validity") == "fail"
    assert at("expired", "probe_ssl_earliest_cert_expiry") < at(
        "good", "probe_ssl_earliest_cert_expiry"
    )
    assert at("expired", "sipprobe_sip_status_code") == 200
    # A certificate for another host: identity fails, validity does not.
    assert status("wrong-host", "tls.identity") == "fail"
    assert status("wrong-host", "tls.validity") == "pass"
    # The 503: TLS is fine, SIP says the endpoint is unavailable.
    assert status("503", "tls.chain") == "pass"
    assert status("503", "sip.options") == "fail"
    assert at("503", "sipprobe_sip_status_code") == 503
    for name in targets:
        assert at(name, "probe_tls_version_info") == 1, name
        assert at(name, "sipprobe_tls_handshake_seconds") > 0, name
