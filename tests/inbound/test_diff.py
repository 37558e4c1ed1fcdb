"""`sipprobe diff` of two answer runs: received calls compared by order of arrival (their
caller's port changes between runs), for what drifts on the provider's side."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from probe.evidence.file import RunEvidence, write_evidence
from probe.evidence.inbound import InboundCall
from probe.run.commands import run_diff_command
from probe.tls.sti_lab import StiLab
from probe.verdict.checks import OptionsPolicy
from probe.verdict.diff import Change, diff_runs
from tests.inbound import kit
from tests.inbound.test_evidence_file import answer_run, signed_call, usage


def with_calls(run: RunEvidence, *calls: InboundCall) -> RunEvidence:
    assert run.inbound is not None
    return dataclasses.replace(run, inbound=dataclasses.replace(run.inbound, calls=calls))


def changes_of(before: RunEvidence, after: RunEvidence) -> dict[tuple[str, str], Change]:
    return {(c.target, c.what): c for c in diff_runs(before, after, OptionsPolicy())}


def test_the_same_calls_make_no_change(sti: StiLab) -> None:
    run = answer_run(sti)
    assert diff_runs(run, run, OptionsPolicy()) == []


def test_a_forged_identity_made_good_changes_the_call_and_the_verifier_answer(
    sti: StiLab,
) -> None:
    before = answer_run(sti)  # call 2's PASSporT signature is forged
    after = with_calls(before, signed_call(sti, 1), signed_call(sti, 2))
    changes = changes_of(before, after)
    verifier = changes["inbound call 2", "stir.verifier"]
    assert verifier.before == "438 Invalid Identity Header"
    assert verifier.after == "accepts"
    assert changes["inbound call 2", "verdict"].before == "fail"
    assert not any(target == "inbound call 1" for target, _ in changes)


def test_a_rotated_client_certificate_and_another_tls_version_are_named(sti: StiLab) -> None:
    before = answer_run(sti)
    assert before.inbound is not None
    first, second = before.inbound.calls
    rotated = kit.session(version="TLSv1.2", client_chain=kit.client_chain()[1:])
    after = with_calls(before, dataclasses.replace(first, tls=rotated), second)
    changes = changes_of(before, after)
    certificate = changes["inbound call 1", "client_certificate"]
    assert isinstance(certificate.before, dict)
    assert isinstance(certificate.after, dict)
    assert certificate.before["sha256"] != certificate.after["sha256"]
    assert "the caller's certificate changed" in certificate.summary
    version = changes["inbound call 1", "tls.version"]
    assert (version.before, version.after) == ("TLSv1.3", "TLSv1.2")


def test_a_call_in_one_run_only_is_named(sti: StiLab) -> None:
    before = answer_run(sti)
    after = with_calls(before, signed_call(sti, 1))
    gone = changes_of(before, after)["inbound call 2", "target"]
    assert gone.summary.startswith("inbound call 2: in the first run only")
    new = changes_of(after, before)["inbound call 2", "target"]
    assert new.summary.startswith("inbound call 2: in the second run only")


def test_sipprobe_diff_compares_saved_answer_runs(sti: StiLab, tmp_path: Path) -> None:
    before = answer_run(sti)
    after = with_calls(before, signed_call(sti, 1), signed_call(sti, 2))
    first, second = tmp_path / "before.json", tmp_path / "after.json"
    write_evidence(first, before)
    write_evidence(second, after)
    changes = run_diff_command(first, second, on_usage_error=usage)
    assert {(c.target, c.what) for c in changes} >= {
        ("inbound call 2", "verdict"),
        ("inbound call 2", "stir.verifier"),
    }
