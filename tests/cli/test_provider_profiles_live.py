"""The SBC-side provider rules on evidence a real run collects: `sipprobe check` with a
Dialogflow CX scenario against Kamailio's mutual-TLS listener, with and without the
client certificate, and `--evidence-out` keeping the certificate mutual TLS offered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probe.cli.commands import cli
from probe.evidence.file import load_evidence
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio

pytestmark = pytest.mark.peer


def check(
    tmp_path: Path, kamailio: Kamailio, lab: LabFiles, *, certificate: bool
) -> dict[str, Any]:
    port = kamailio.mtls_port
    identity = (
        f'client_cert = "{lab.client}"\nclient_key = "{lab.client_key}"\n' if certificate else ""
    )
    spec = tmp_path / "dialogflow.toml"
    spec.write_text(
        f'[trunk]\nname = "lab-gtp"\nprovider = "dialogflow"\n'
        f'[[endpoint]]\nuri = "sip:{LAB_NAME}:{port};transport=tls"\nregion = "lab"\n'
        f'[tls]\ntrust = "{lab.ca}"\n{identity}'
        f"[failover]\nrequire_failover_path = false\n"
        f'[run]\ntimeout = 3.0\nresolve = ["{LAB_NAME}:{port}:127.0.0.1"]\n'
    )
    evidence = tmp_path / "run.json"
    result = CliRunner().invoke(
        cli, ["check", str(spec), "--format", "json", "--evidence-out", str(evidence)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    report["exit_code"] = result.exit_code
    report["evidence"] = evidence
    return report


def rule(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [f for f in report["findings"] if f["check"] == f"policy.dialogflow.{name}"]
    return found


def test_mutual_tls_with_the_sbc_certificate_passes(
    tmp_path: Path, kamailio: Kamailio, lab: LabFiles
) -> None:
    report = check(tmp_path, kamailio, lab, certificate=True)
    assert rule(report, "mutual_tls")["status"] == "pass", rule(report, "mutual_tls")["summary"]
    assert rule(report, "tls_version")["status"] == "pass"
    # The lab's client leaf names no wildcard.
    assert rule(report, "wildcard")["status"] == "pass", rule(report, "wildcard")["summary"]
    assert report["exit_code"] == 0, report["findings"]
    # The run kept the certificate it offered: judging the file again finds the same.
    recorded = load_evidence(report["evidence"]).settings.client_certificate
    offered = x509.load_pem_x509_certificate(lab.client.read_bytes())
    assert recorded == offered.public_bytes(Encoding.DER)


def test_mutual_tls_without_a_certificate_fails(
    tmp_path: Path, kamailio: Kamailio, lab: LabFiles
) -> None:
    report = check(tmp_path, kamailio, lab, certificate=False)
    mutual = rule(report, "mutual_tls")
    assert mutual["status"] == "fail"
    assert "no client certificate offered" in mutual["summary"]
    assert rule(report, "wildcard")["status"] == "skip"
    assert load_evidence(report["evidence"]).settings.client_certificate is None
    assert report["exit_code"] == 1
