"""Judging each target as it finishes (`TargetJudge`) reaches the report that judging the
whole evidence at the end reaches, keeps only what it must of the evidence, and shares
what equal findings say."""

from __future__ import annotations

import dataclasses

from probe.evidence.file import RunEvidence
from probe.report.json import render_json
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.findings import Finding, Status, TargetResult
from probe.verdict.judging import TargetJudge, judge_run
from tests.checks.evidence_factory import TARGET
from tests.evidence import sample


def policy() -> OptionsPolicy:
    return OptionsPolicy(anchors=TrustAnchors((sample.lab().root.cert,), "lab root"))


def judged_as_finished(run: RunEvidence, *, keep_evidence: bool) -> tuple[TargetJudge, RunEvidence]:
    """What the runner does: every target through the judge as it finishes, the run's
    evidence then made of what the judge kept."""
    judge = TargetJudge(policy(), keep_evidence=keep_evidence)
    judge.start(run.started_at)
    uris = tuple(
        dataclasses.replace(
            entry,
            targets=tuple(
                judge.finished((index, number), entry.locate, probed)
                if probed.evidence is not None
                else probed
                for number, probed in enumerate(entry.targets)
            ),
        )
        for index, entry in enumerate(run.uris)
    )
    return judge, dataclasses.replace(run, uris=uris)


def test_the_report_is_the_one_judging_the_whole_evidence_gives() -> None:
    run = sample.run()
    whole = judge_run(run, policy())
    judge, kept = judged_as_finished(run, keep_evidence=False)
    early = judge_run(kept, policy(), judged=judge.results)
    assert render_json(early) == render_json(whole)
    assert len(judge.results) == sum(1 for probed in run.probed() if probed.evidence is not None)


def test_without_an_evidence_file_only_the_target_is_kept() -> None:
    run = sample.run()
    _judge, kept = judged_as_finished(run, keep_evidence=False)
    for before, after in zip(run.probed(), kept.probed(), strict=True):
        assert after.target == before.target
        assert after.located == before.located
        if before.evidence is None:
            continue
        assert after.evidence is not None
        assert after.evidence.exchanges == ()
        assert after.evidence.tls is None
        assert after.evidence.connect is None
        assert after.evidence.call is None
        assert after.evidence.method == before.evidence.method


def test_with_an_evidence_file_everything_is_kept() -> None:
    run = sample.run()
    _judge, kept = judged_as_finished(run, keep_evidence=True)
    assert kept == run


def test_targets_not_judged_early_are_judged_at_the_end() -> None:
    run = sample.run()
    judge, _kept = judged_as_finished(run, keep_evidence=True)
    first = next(iter(judge.results))
    partial = {first: judge.results[first]}
    assert render_json(judge_run(run, policy(), judged=partial)) == render_json(
        judge_run(run, policy())
    )


def test_equal_findings_of_different_targets_share_their_details() -> None:
    target = TARGET
    other = dataclasses.replace(target, address="192.0.2.99", sni=target.sni)
    run = sample.run()
    entry = run.uris[0]
    probed = entry.targets[0]
    assert probed.evidence is not None
    twin = dataclasses.replace(probed, evidence=dataclasses.replace(probed.evidence, target=other))
    judge = TargetJudge(policy(), keep_evidence=False)
    judge.start(run.started_at)
    judge.finished((0, 0), entry.locate, probed)
    judge.finished((0, 1), entry.locate, twin)
    first: TargetResult = judge.results[0, 0]
    second: TargetResult = judge.results[0, 1]
    assert [f.check for f in first.findings] == [f.check for f in second.findings]
    shared = {
        a.check
        for a, b in zip(first.findings, second.findings, strict=True)
        if a.details is b.details and a.summary is b.summary
    }
    for finding in second.findings:
        assert finding.target == second.target.label  # each still names its own target
    # Details alike are shared (the version, the client certificate, the answer's form,
    # the DNS answers); the connection's address is not alike.
    assert {"tls.version", "tls.client_cert", "sip.response", "dns.resolve"} <= shared
    assert "net.connect" not in shared


def test_details_equal_only_by_value_are_not_shared() -> None:
    """`1 == True` in Python, not in the report: the same check and summary with a
    value of another type keeps its own details."""
    judge = TargetJudge(policy(), keep_evidence=False)
    first = Finding("x.check", Status.PASS, "a", "same words", {"flag": True, "n": 1})
    retyped = Finding("x.check", Status.PASS, "b", "same words", {"flag": 1, "n": 1})
    alike = Finding("x.check", Status.PASS, "c", "same words", {"flag": True, "n": 1})
    kept = judge._shared(first)
    shared = judge._shared(alike)
    assert shared.details is kept.details
    assert shared.target == "c"
    assert judge._shared(retyped).details is retyped.details


def test_a_run_stopped_by_max_time_without_its_limit_is_judged_with_a_note() -> None:
    # A hand-edited or foreign evidence file may say a run stopped at --max-time without
    # saying the limit: judging it again gives a note, not an internal error.
    run = dataclasses.replace(sample.run(), stopped="max_time", max_time_s=None)
    report = judge_run(run, policy())
    assert any(note.startswith("run stopped at --max-time:") for note in report.notes)
    limited = judge_run(dataclasses.replace(run, max_time_s=2.5), policy())
    assert any(note.startswith("run stopped at --max-time 2.5 s:") for note in limited.notes)
