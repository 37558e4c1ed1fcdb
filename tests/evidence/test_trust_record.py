"""The trust anchors a run used, recorded in its evidence, and `sipprobe judge` using them
unless --ca/--trust says otherwise; files without them load as before."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding

from probe.cli.commands import cli
from probe.evidence.file import RunEvidence, TrustRecord, dumps_evidence, loads_evidence
from probe.evidence.trust import anchors_from_record, record_trust
from probe.tls.lab import LabFiles
from probe.tls.trust import TrustAnchors, load_trust_anchors
from tests.conftest import LAB_NAME
from tests.evidence import sample


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def report(result: Result) -> dict[str, Any]:
    return json.loads(result.output)  # type: ignore[no-any-return]


def sha256_of(anchors: TrustAnchors) -> list[str]:
    return [hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in anchors.certificates]


def lab_anchors() -> TrustAnchors:
    return TrustAnchors((sample.lab().root.cert,), "file lab/ca.pem (1 certificate)")


def with_trust(run: RunEvidence, record: TrustRecord | None) -> RunEvidence:
    return replace(run, settings=replace(run.settings, trust=record))


def statuses(result: Result, check: str) -> list[str]:
    return [f["status"] for f in report(result)["findings"] if f["check"] == check]


def test_the_record_names_the_anchor_each_chain_reached() -> None:
    record = record_trust(lab_anchors(), "path", sample.run())
    assert record.store == "path"
    assert record.source == "file lab/ca.pem (1 certificate)"
    # Both TLS targets present the same chain: one anchor, named once.
    assert list(record.used_sha256) == sha256_of(lab_anchors())
    assert record.pem == sample.lab().root.cert_pem().decode()
    other = TrustAnchors((sample.lab().variants["good"].leaf.cert,), "unrelated")
    assert record_trust(other, "path", sample.run()).used_sha256 == ()


def test_the_record_travels_through_the_file() -> None:
    record = record_trust(lab_anchors(), "path", sample.run())
    loaded = loads_evidence(dumps_evidence(with_trust(sample.run(), record)))
    assert loaded.settings.trust == record
    rebuilt = anchors_from_record(record)
    assert rebuilt.certificates == lab_anchors().certificates
    assert rebuilt.source == record.source


def test_a_ca_file_that_also_holds_a_key_records_certificates_only(
    lab: LabFiles, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca-and-key.pem"
    key = lab.server_key.read_bytes()
    bundle.write_bytes(lab.ca.read_bytes() + key)
    text = dumps_evidence(
        with_trust(sample.run(), record_trust(load_trust_anchors(bundle), "path", sample.run()))
    )
    assert "PRIVATE KEY" not in text
    body = b"".join(line for line in key.splitlines() if not line.startswith(b"-----"))
    assert body[:40].decode() not in text
    assert lab.ca.read_text().strip() in json.loads(text)["settings"]["trust"]["pem"]


def test_an_old_file_without_anchors_loads_and_judge_says_what_it_used(tmp_path: Path) -> None:
    document = json.loads(dumps_evidence(sample.run()))
    document["settings"].pop("trust")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    assert loads_evidence(path.read_text()).settings.trust is None
    result = invoke("judge", str(path), "--format", "json")
    notes = report(result)["notes"]
    assert any("does not record the trust anchors its run used" in note for note in notes)
    # Today's behaviour: the system store, which has no lab CA.
    assert set(statuses(result, "tls.chain")) == {"fail"}


def test_judge_uses_the_recorded_anchors_unless_told_otherwise(
    lab: LabFiles, tmp_path: Path
) -> None:
    path = tmp_path / "lab.json"
    record = record_trust(lab_anchors(), "path", sample.run())
    path.write_text(dumps_evidence(with_trust(sample.run(), record)))
    recorded = invoke("judge", str(path), "--format", "json")
    assert set(statuses(recorded, "tls.chain")) == {"pass"}
    assert (
        f"trust anchors the run used: {record.source}, kept in {path}" in report(recorded)["notes"]
    )
    told = invoke("judge", str(path), "--ca", str(lab.other_ca), "--format", "json")
    assert set(statuses(told, "tls.chain")) == {"fail"}
    assert any("from the command line, not the run's" in note for note in report(told)["notes"])


def test_a_system_store_record_notes_an_anchor_no_longer_there(tmp_path: Path) -> None:
    gone = "ab" * 32
    record = TrustRecord("system", "system store (elsewhere)", used_sha256=(gone,))
    path = tmp_path / "system.json"
    path.write_text(dumps_evidence(with_trust(sample.run(), record)))
    result = invoke("judge", str(path), "--format", "json")
    notes = report(result)["notes"]
    assert "trust anchors the run used: the system store, as found here" in notes
    assert any(
        note.startswith("1 anchor(s) the run verified chains to are not in this system store")
        and "sha256 abababababababab…" in note
        for note in notes
    )


def test_a_damaged_record_is_exit_2_with_a_sentence(tmp_path: Path) -> None:
    for pem, reason in (
        ("not a certificate", "settings.trust.pem holds no certificate"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "settings.trust.pem certificate #1:",
        ),
    ):
        path = tmp_path / "damaged.json"
        record = TrustRecord("path", "file lab/ca.pem", pem=pem)
        path.write_text(dumps_evidence(with_trust(sample.run(), record)))
        result = invoke("judge", str(path))
        assert result.exit_code == 2, result.output
        assert reason in result.output
        assert "Traceback" not in result.output


def test_a_lab_run_saves_its_anchors(responder_port: int, lab: LabFiles, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    result = invoke(
        "options",
        f"sip:{LAB_NAME}:{responder_port};transport=tls",
        "--resolve", f"{LAB_NAME}:{responder_port}:127.0.0.1",
        "--ca", str(lab.ca),
        "--evidence-out", str(path),
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    trust = json.loads(path.read_text())["settings"]["trust"]
    anchors = load_trust_anchors(lab.ca)
    assert trust["store"] == "path"
    assert trust["source"] == anchors.source
    assert trust["used_sha256"] == sha256_of(anchors)
    again = invoke("judge", str(path), "--format", "json")
    assert again.exit_code == 0, again.output
    assert report(again)["findings"] == report(result)["findings"]
