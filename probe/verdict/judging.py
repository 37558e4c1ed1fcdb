"""From a run's evidence to its report: every finding about every target, then the
trunk as a whole. Pure: no clock, no socket; a fresh run and a saved one (`sipprobe judge`)
go through the same code."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from probe.evidence.model import ProbeEvidence, without_parsed
from probe.evidence.run import ProbedTarget, RunEvidence
from probe.locate import LocateResult
from probe.report.exit_codes import signal_name
from probe.report.model import Report
from probe.verdict.checks import OptionsPolicy, judge_options, required_checks
from probe.verdict.checks.failover import OrderedTarget, judge_failover
from probe.verdict.checks.location import check_location, check_unlocated
from probe.verdict.checks.memo import CertificateVerdicts
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, TargetResult

if TYPE_CHECKING:
    from probe.verdict.checks.policy import InboundPolicy


def _interrupted(stop_signal: int | None) -> str:
    """`interrupted by SIGTERM`, or just `interrupted` when no signal is known (a library
    caller cancelled the run, or evidence saved before signals were recorded)."""
    return "interrupted" if stop_signal is None else f"interrupted by {signal_name(stop_signal)}"


def _stopped_finding(
    probed: ProbedTarget, label: str, max_time: float | None, stop_signal: int | None = None
) -> Finding:
    assert probed.stopped is not None
    invite = probed.evidence is not None and probed.evidence.method == "INVITE"
    check = CheckId.SIP_INVITE if invite else CheckId.SIP_OPTIONS
    if probed.stopped == "interrupted":
        return Finding(
            check,
            Status.INCOMPLETE,
            label,
            f"not finished: the run was {_interrupted(stop_signal)}",
        )
    limit = f" of {max_time:g} s" if max_time is not None else ""
    return Finding(
        check, Status.INCOMPLETE, label, f"not finished within the run's --max-time{limit}"
    )


def _judge_stopped(
    evidence: ProbeEvidence,
    policy: OptionsPolicy,
    stopped: Finding,
    verdicts: CertificateVerdicts | None = None,
) -> list[Finding]:
    """A probe the run cut short: what it collected is judged as usual (its connection,
    its TLS, the answers received, a ping run's figures, a call's answer, SDP and
    teardown), then `stopped` says the rest was not done. It takes the place of a SIP
    request that never went out, and of the verdict on a call that was not answered yet
    (not a failure of the far end: we left)."""
    if evidence.connect is None:
        return [stopped]
    findings = judge_options(evidence, policy, verdicts=verdicts)
    call = evidence.call
    if call is None:
        if evidence.ping is not None:
            return findings  # a ping run's figures say what was never sent, and why
        if any(f.check == stopped.check and f.status is Status.SKIP for f in findings):
            return findings  # not sent behind a failed phase, whose finding says why
        if not evidence.exchanges:
            # Not sent because the run was cut short, not for any reason the probe saw.
            findings = [f for f in findings if f.check != stopped.check]
        return [*findings, stopped]
    if call.final_status is not None and 200 <= call.final_status < 300:
        cut = replace(
            stopped, summary=f"the call was cut short after its answer: {stopped.summary}"
        )
        return [*findings, cut]
    kept: list[Finding] = []
    for finding in findings:
        if finding.check == CheckId.SIP_INVITE:
            ringing = (
                f" (after {', '.join(map(str, call.provisional))})" if call.provisional else ""
            )
            finding = replace(stopped, summary=stopped.summary + ringing, details=finding.details)
        elif finding.check == CheckId.SDP_SRTP and call.answer is None:
            finding = Finding(
                CheckId.SDP_SRTP,
                Status.INCOMPLETE,
                finding.target,
                "not judged: no SDP answer came before the run was stopped",
                finding.details,
            )
        kept.append(finding)
    return kept


def judge_target(
    locate: LocateResult,
    probed: ProbedTarget,
    policy: OptionsPolicy,
    max_time: float | None = None,
    stop_signal: int | None = None,
    verdicts: CertificateVerdicts | None = None,
) -> TargetResult:
    """Every finding about one target: how it was located (`locate`, its URI's plan),
    then its probe. Pure, but for `verdicts`: the run's table of certificate verdicts."""
    target = probed.target
    required = required_checks(probed.evidence)
    if probed.stopped is not None and probed.evidence is None:
        # Cut short before its name was even located: nothing is known about it.
        stopped = _stopped_finding(probed, target.label, max_time, stop_signal)
        return TargetResult(target, (stopped,), required)
    if probed.evidence is None:
        skipped = Finding(
            CheckId.SIP_OPTIONS, Status.SKIP, target.label, "OPTIONS not sent: no target"
        )
        return TargetResult(target, (check_unlocated(locate, target.label), skipped), required)
    if probed.stopped is not None:
        stopped = _stopped_finding(probed, target.label, max_time, stop_signal)
        findings = _judge_stopped(probed.evidence, policy, stopped, verdicts)
    else:
        findings = judge_options(probed.evidence, policy, verdicts=verdicts)
    location = (
        check_location(locate, probed.located, target.label) if probed.located is not None else None
    )
    return TargetResult(target, tuple([location, *findings] if location else findings), required)


_REMEMBERED_FINDINGS = 256


def _alike(kept: Mapping[str, JsonValue], details: Mapping[str, JsonValue]) -> bool:
    """Equal details whose values are of the same types (a `true` is not written `1`)."""
    return kept == details and all(type(kept[name]) is type(v) for name, v in details.items())


class TargetJudge:
    """Judges each target the moment its probe finishes, during the collection.

    A sweep then need not hold every target's evidence until the end: unless the evidence
    is to be kept (`--evidence-out`), only the target itself stays, beside its result, and
    memory follows the concurrency rather than the number of targets. The results are the
    ones `judge_run` would reach from the whole evidence (the same `judge_target`, the same
    instant for certificates); `judge_run(run, policy, judged=judge.results)` uses them.
    """

    def __init__(self, policy: OptionsPolicy, *, keep_evidence: bool) -> None:
        self.policy = policy
        self.keep_evidence = keep_evidence
        self.results: dict[tuple[int, int], TargetResult] = {}
        """By (URI index, target index) in the run's evidence."""
        self._said: dict[tuple[str, str], tuple[str, Mapping[str, JsonValue]]] = {}
        self.verdicts = CertificateVerdicts(policy.anchors)

    def _shared(self, finding: Finding) -> Finding:
        """`finding`, its summary and details shared with an earlier target's equal ones.

        Most of a sweep's findings say the same thing of every target (the TLS version, no
        client certificate asked, a well-formed answer): the results then hold one copy
        of each text and details rather than one per target. A finding is looked up by
        its check and summary, which findings carrying a target's own times or ports never
        repeat; only the last few distinct ones are remembered."""
        key = (finding.check, finding.summary)
        said = self._said.get(key)
        if said is not None:
            summary, details = said
            if details is finding.details:
                # Already shared: the certificate findings of every target behind one
                # chain carry the same details (probe.verdict.checks.certificate).
                return finding
            if _alike(details, finding.details):
                return Finding(finding.check, finding.status, finding.target, summary, details)
        if len(self._said) >= _REMEMBERED_FINDINGS:
            del self._said[next(iter(self._said))]
        self._said[key] = (finding.summary, finding.details)
        return finding

    def start(self, started_at: str) -> None:
        """The run started: certificates are judged at that instant (as `judge_run`)."""
        if self.policy.now is None:
            self.policy = self.policy.at(dt.datetime.fromisoformat(started_at))

    def finished(
        self, key: tuple[int, int], locate: LocateResult, probed: ProbedTarget
    ) -> ProbedTarget:
        """Judge one finished target; what of it the run's evidence keeps."""
        result = judge_target(locate, probed, self.policy, verdicts=self.verdicts)
        self.results[key] = replace(result, findings=tuple(map(self._shared, result.findings)))
        evidence = probed.evidence
        if evidence is None:
            return probed
        if self.keep_evidence:
            return replace(probed, evidence=without_parsed(evidence))
        target_only = ProbeEvidence(
            target=evidence.target,
            started_at=evidence.started_at,
            timeout_s=evidence.timeout_s,
            method=evidence.method,
        )
        return replace(probed, evidence=target_only)


def judge_run(
    run: RunEvidence,
    policy: OptionsPolicy,
    *,
    notes: Sequence[str] = (),
    judged: Mapping[tuple[int, int], TargetResult] | None = None,
    inbound: InboundPolicy | None = None,
) -> Report:
    """The report of a run's evidence, fresh or loaded from a file. Pure.

    Certificates are judged at `policy.now`, by default at the instant the run started.
    `judged` holds targets already judged as they finished (`TargetJudge`), by (URI index,
    target index); every other target is judged here. The calls an answer run received
    (`run.inbound`) are judged under `inbound` (by default the inbound policy's defaults
    with `policy`'s TLS policy), at `policy.now` and against `policy.anchors` unless it
    names its own; their `inbound.calls` finding follows the trunk's, each call after
    the targets.
    """
    if policy.now is None:
        policy = policy.at(dt.datetime.fromisoformat(run.started_at))
    early = judged or {}
    verdicts = CertificateVerdicts(policy.anchors)
    results = [
        [
            early.get((index, number))
            or judge_target(entry.locate, one, policy, run.max_time_s, run.stop_signal, verdicts)
            for number, one in enumerate(entry.targets)
        ]
        for index, entry in enumerate(run.uris)
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
                    Status.INCOMPLETE,
                    f.target,
                    "not judged: the run did not finish every target",
                    f.details,
                )
                for f in trunk
            )
        flat = tuple(target.result for target in ordered)
    if run.inbound is not None:
        received, calls = _judge_received(run, policy, inbound)
        trunk, flat = (*trunk, *received), (*flat, *calls)
    return Report(
        command=run.command,
        started_at=run.started_at,
        duration_ms=run.duration_ms,
        results=flat,
        notes=(*notes, *_redirect_notes(run), *_stop_notes(run)),
        trunk_findings=trunk,
        interrupted=run.stopped == "interrupted",
        stop_signal=run.stop_signal or signal.SIGINT,
    )


def _judge_received(
    run: RunEvidence, policy: OptionsPolicy, inbound: InboundPolicy | None
) -> tuple[tuple[Finding, ...], tuple[TargetResult, ...]]:
    """The calls `run` received, judged at `policy.now` and against `policy.anchors`
    unless `inbound` names its own instant and anchors."""
    # Imported here: only an answer run loads the inbound checks and the SIP and SDP
    # readers they use.
    from probe.verdict.checks.inbound import judge_inbound
    from probe.verdict.checks.policy import InboundPolicy

    assert run.inbound is not None
    if inbound is None:
        inbound = InboundPolicy(tls=policy.tls, anchors=policy.anchors)
    if inbound.now is None:
        inbound = replace(inbound, now=policy.now)
    if inbound.anchors is None:
        inbound = replace(inbound, anchors=policy.anchors)
    return judge_inbound(run.inbound, inbound)


def _redirect_notes(run: RunEvidence) -> tuple[str, ...]:
    return tuple(
        f"--follow-redirects: {entry.uri} probed because {entry.redirected_from} redirected to it"
        for entry in run.uris
        if entry.redirected_from is not None
    )


def _stop_notes(run: RunEvidence) -> tuple[str, ...]:
    if run.stopped is None and run.stop_signal is not None:
        return (
            f"{signal_name(run.stop_signal)} came as the run ended, after its last target "
            "had finished: nothing was cut short",
        )
    if run.stopped is None:
        return ()
    targets = run.probed()
    done = sum(1 for target in targets if target.stopped is None)
    why = (
        _interrupted(run.stop_signal)
        if run.stopped == "interrupted"
        else f"stopped at --max-time {run.max_time_s:g} s"
        if run.max_time_s is not None
        else "stopped at --max-time"
    )
    if not targets and run.inbound is not None:
        received = len(run.inbound.calls)
        return (f"run {why}: {received} call{'' if received == 1 else 's'} received",)
    return (f"run {why}: {done} of {len(targets)} targets finished; the others are marked",)
