"""`sipprobe pcap` on TLS handshakes: the TLS policy options and --now as `sipprobe judge`
takes them, the trust anchors kept with the saved audit, and probe.audit the same."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import probe
from probe.cli.commands import cli
from probe.evidence.capture_file import load_capture
from probe.settings import Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Verdict
from tests.pcap.frames import write_pcap
from tests.pcap.tls_handshakes import connection, openssl_handshake


def invoke(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.output) if result.output.startswith("{") else {}


def statuses(document: dict[str, object]) -> dict[str, str]:
    findings = document["findings"]
    assert isinstance(findings, list)
    return {f["check"]: f["status"] for f in findings}


@pytest.fixture
def tls12(tmp_path: Path, lab: LabFiles) -> Path:
    """A TLS 1.2 handshake presenting the lab's good chain, captured just now."""
    frames = connection(
        *openssl_handshake(lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_2)
    )
    return write_pcap(tmp_path / "tls12.pcap", frames, start=time.time())


def test_the_chain_is_judged_against_the_anchors_given(tls12: Path, lab: LabFiles) -> None:
    code, document = invoke("pcap", str(tls12), "--ca", str(lab.ca))
    assert code == 0, document
    assert statuses(document) == {
        "pcap.sip_cleartext": "pass",
        "pcap.sdes_exposed": "pass",
        "pcap.tls": "pass",
        "pcap.tls_chain": "pass",
        "pcap.media": "pass",  # no media flow to judge
    }
    # The same chain against an unrelated root: not trusted.
    code, document = invoke("pcap", str(tls12), "--ca", str(lab.other_ca))
    assert code == 1
    assert statuses(document)["pcap.tls_chain"] == "fail"


def test_now_judges_the_certificates_at_another_instant(tls12: Path, lab: LabFiles) -> None:
    code, document = invoke("pcap", str(tls12), "--ca", str(lab.ca), "--now", "2099-01-01")
    assert code == 1
    chain = next(f for f in document["findings"] if f["check"] == "pcap.tls_chain")  # type: ignore[attr-defined]
    assert "expired" in chain["summary"]
    assert chain["details"]["judged_at"] == "2099-01-01T00:00:00+00:00"
    assert any("certificates judged at 2099-01-01" in note for note in document["notes"])  # type: ignore[attr-defined]


def test_a_policy_that_cannot_be_used_is_refused_before_reading(
    tmp_path: Path, tls12: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    result = CliRunner().invoke(cli, ["pcap", str(tls12), "--ca", str(missing)])
    assert result.exit_code == 2
    assert "--ca" in result.output
    result = CliRunner().invoke(cli, ["pcap", str(tls12), "--now", "yesterday"])
    assert result.exit_code == 2
    assert "--now 'yesterday'" in result.output


def test_the_saved_audit_is_judged_again_with_the_anchors_it_was_judged_by(
    tmp_path: Path, tls12: Path, lab: LabFiles
) -> None:
    saved = tmp_path / "audit.json"
    code, _ = invoke("pcap", str(tls12), "--ca", str(lab.ca), "--evidence-out", str(saved))
    assert code == 0
    evidence = load_capture(saved)
    assert evidence.trust is not None
    assert evidence.trust.store == "path"
    code, document = invoke("judge", str(saved))
    assert code == 0, document
    assert statuses(document)["pcap.tls_chain"] == "pass"
    assert any("trust anchors the run used" in note for note in document["notes"])  # type: ignore[attr-defined]
    # Other anchors, or another instant, on the command line win.
    code, document = invoke("judge", str(saved), "--ca", str(lab.other_ca))
    assert (code, statuses(document)["pcap.tls_chain"]) == (1, "fail")
    code, document = invoke("judge", str(saved), "--now", "2099-01-01T00:00:00Z")
    assert (code, statuses(document)["pcap.tls_chain"]) == (1, "fail")
    code, document = invoke("judge", str(saved), "--min-tls", "1.3")
    assert (code, statuses(document)["pcap.tls"]) == (1, "fail")


def test_the_library_takes_the_same_policy(tls12: Path, lab: LabFiles) -> None:
    trusted = probe.audit(tls12, Settings.from_flat(ca=lab.ca))
    assert trusted.verdict is Verdict.PASS
    insecure = probe.audit(tls12, Settings.from_flat(ca=lab.other_ca, insecure=True))
    assert insecure.verdict is Verdict.WARN
    later = probe.audit(
        tls12, Settings.from_flat(ca=lab.ca), now=dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    )
    assert later.verdict is Verdict.FAIL
