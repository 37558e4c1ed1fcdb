"""From a run's evidence to its report: every finding about every target, then the
trunk as a whole. Pure: no clock, no socket; a fresh run and a saved one (`sipprobe judge`)
go through the same code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from probe.checks import OptionsPolicy, forget_cached, judge_options
from probe.checks.failover import OrderedTarget, judge_failover
from probe.checks.location import check_location, check_unlocated
from probe.evidence_io.model import ProbedTarget, ProbedUri, RunEvidence
from probe.findings import CheckId, Finding, Status, TargetResult
from probe.report.model import Report


def _stopped_finding(probed: ProbedTarget, label: str, max_time: float | None) -> Finding:
    assert probed.stopped is not None
    invite = probed.evidence is not None and probed.evidence.method == "INVITE"
    check = CheckId.SIP_INVITE if invite else CheckId.SIP_OPTIONS
    if probed.stopped == "interrupted":
        return Finding(check, Status.SKIP, label, "not finished: the run was interrupted")
    limit = f" of {max_time:g} s" if max_time is not None else ""
    return Finding(check, Status.FAIL, label, f"not finished within the run's --max-time{limit}")


def judge_target(
    entry: ProbedUri, probed: ProbedTarget, policy: OptionsPolicy, max_time: float | None = None
) -> TargetResult:
    """Every finding about one target: how it was located, then its probe. Pure."""
    target = probed.target
    if probed.stopped is not None and probed.evidence is None:
        # Cut short before its name was even located: nothing is known about it.
        return TargetResult(target, (_stopped_finding(probed, target.label, max_time),))
    if probed.evidence is None:
        skipped = Finding(
            CheckId.SIP_OPTIONS, Status.SKIP, target.label, "OPTIONS not sent: no target"
        )
        return TargetResult(target, (check_unlocated(entry.locate, target.label), skipped))
    if probed.stopped is not None:
        findings = [_stopped_finding(probed, target.label, max_time)]
    else:
        findings = judge_options(probed.evidence, policy)
    location = (
        check_location(entry.locate, probed.located, target.label)
        if probed.located is not None
        else None
    )
    return TargetResult(target, tuple([location, *findings] if location else findings))


def judge_run(run: RunEvidence, policy: OptionsPolicy, *, notes: Sequence[str] = ()) -> Report:
    """The report of a run's evidence, fresh or loaded from a file. Pure.

    Certificates are judged at `policy.now`, by default at the instant the run started.
    """
    if policy.now is None:
        policy = policy.at(dt.datetime.fromisoformat(run.started_at))
    results = [
        [judge_target(entry, one, policy, run.max_time_s) for one in entry.targets]
        for entry in run.uris
    ]
    flat = tuple(result for group in results for result in group)
    trunk: tuple[Finding, ...] = ()
    if run.failover is not None:
        ordered = []
        for place in run.failover.order:
            endpoint = run.uris[place.uri_index].endpoint
            assert endpoint is not None  # RunEvidence checks it
            ordered.append(
                OrderedTarget(
                    endpoint,
                    results[place.uri_index][place.target_index],
                    group=place.group,
                    share=place.share,
                    priority=place.priority,
                    weight=place.weight,
                )
            )
        trunk = tuple(judge_failover(ordered, mode=run.failover.mode))
        if run.stopped is not None:
            # Unfinished targets would read as down: the trunk cannot be judged.
            trunk = tuple(
                Finding(
                    f.check,
                    Status.SKIP,
                    f.target,
                    "not judged: the run did not finish every target",
                    f.details,
                )
                for f in trunk
            )
        flat = tuple(target.result for target in ordered)
    forget_cached()
    return Report(
        command=run.command,
        started_at=run.started_at,
        duration_ms=run.duration_ms,
        results=flat,
        notes=(*notes, *_redirect_notes(run), *_stop_notes(run)),
        trunk_findings=trunk,
        interrupted=run.stopped == "interrupted",
    )


def _redirect_notes(run: RunEvidence) -> tuple[str, ...]:
    return tuple(
        f"--follow-redirects: {entry.uri} probed because {entry.redirected_from} redirected to it"
        for entry in run.uris
        if entry.redirected_from is not None
    )


def _stop_notes(run: RunEvidence) -> tuple[str, ...]:
    if run.stopped is None:
        return ()
    targets = run.probed()
    done = sum(1 for target in targets if target.stopped is None)
    why = (
        "interrupted (Ctrl-C)"
        if run.stopped == "interrupted"
        else f"stopped at --max-time {run.max_time_s:g} s"
    )
    return (f"run {why}: {done} of {len(targets)} targets finished; the others are marked",)
