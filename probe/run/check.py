"""`sipprobe check SCENARIO`: one file describes a trunk, one command checks it all; and
`sipprobe judge EVIDENCE --scenario SCENARIO`: the same judgement of a saved check, offline.

The scenario becomes the same requests the command line makes (a failover check over its
endpoints, and a test call when it has an `[invite]` section); the runs are combined into
one report, then judged once more as the scenario sees them: its own expectations
(`scenario.*`) and its provider's documented rules (`policy.<provider>.*`), over each
run's evidence beside its results (probe.scenario.judged). Judging the evidence a check
saved (`--evidence-out`, and the test call's file beside it) under the same scenario gives
the findings the check gave.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from probe.report.exit_codes import signal_name
from probe.report.model import Report, combine_reports
from probe.run.commands import (
    JudgeRequest,
    UsageError,
    failover_run,
    judge_saved,
    load_run,
)
from probe.run.invite import invite_run
from probe.verdict.findings import CheckId, Finding, Status

if TYPE_CHECKING:
    from probe.evidence.run import RunEvidence
    from probe.scenario import Scenario
    from probe.scenario.requests import ScenarioRequests
    from probe.settings import Settings


def judged_by_scenario(
    scenario: Scenario,
    runs: Sequence[tuple[RunEvidence, Report]],
    *,
    command: str,
    notes: Sequence[str] = (),
) -> Report:
    """The runs' reports combined into one, judged as `scenario` sees them."""
    from probe.scenario import judge_scenario, pair_results

    combined = combine_reports(
        tuple(report for _, report in runs), command=command, notes=tuple(notes)
    )
    paired = [pair_results(evidence, report.results) for evidence, report in runs]
    return judge_scenario(scenario, combined, paired)


def _load_scenario(spec: str, usage: UsageError) -> Scenario:
    from probe.scenario import ScenarioError, load

    try:
        return load(spec)
    except ScenarioError as exc:
        usage(str(exc))


def run_check_command(
    spec: str,
    *,
    to: str | None,
    on_usage_error: UsageError,
    overrides: Mapping[str, Any] | None = None,
) -> Report:
    """`overrides`: the command line's options (fields of `OptionsRequest`) that replace
    the scenario's settings for this run; the report names each one it replaced."""
    return check_runs(spec, to=to, on_usage_error=on_usage_error, overrides=overrides)[1]


def check_runs(
    spec: str,
    *,
    to: str | None,
    on_usage_error: UsageError,
    overrides: Mapping[str, Any] | None = None,
    inbound: bool = False,
    say: Callable[[str], None] | None = None,
) -> tuple[tuple[RunEvidence, ...], Report]:
    """`run_check_command`, with the evidence of its runs: the failover run's, then the
    test call's when one was placed, then (with `inbound`) the calls received.

    With `inbound` both directions are checked at once: the scenario's [inbound] listener
    is started first (so the provider's test calls can come while the endpoints are probed
    and called), and the check ends once the expected calls have ended or its `within`
    has run out; a signal ends both directions."""
    from probe.scenario.requests import with_overrides

    scenario = _load_scenario(spec, on_usage_error)
    try:
        if to is not None:
            scenario = scenario.with_invite_to(to)
        requests = with_overrides(scenario.to_requests(), overrides or {})
    except ValueError as exc:
        on_usage_error(str(exc))
    if not inbound:
        runs, notes = _outbound_runs(requests, on_usage_error)
    else:
        runs, notes = _both_directions(scenario, requests, on_usage_error, say)
    report = judged_by_scenario(scenario, runs, command="check", notes=notes)
    return tuple(evidence for evidence, _ in runs), report


Runs = list[tuple["RunEvidence", Report]]


def _both_directions(
    scenario: Scenario,
    requests: ScenarioRequests,
    usage: UsageError,
    say: Callable[[str], None] | None,
) -> tuple[Runs, list[str]]:
    """The outbound runs with the scenario's [inbound] listener running beside them."""
    from probe.run.answer import InboundBeside, finish_answer, prepare_answer
    from probe.scenario.requests import inbound_evidence_path

    settings = requests.options.settings
    if settings.inbound is None:
        usage(
            f"--inbound: scenario {scenario.trunk.name} has no [inbound] section (or give "
            "--listen and --listen-cert)"
        )
    out = settings.run.evidence_out
    inbound_settings = settings.with_flat(
        {"evidence_out": None if out is None else inbound_evidence_path(out)}
    )
    prepared = prepare_answer(inbound_settings, usage)
    beside = InboundBeside(prepared, say or (lambda _text: None))
    from probe.cli.signals import StoppedBySignal

    with beside.signals_stop_listener():
        try:
            beside.start()
        except OSError as exc:
            usage(f"--listen: {exc.strerror or exc}")
        try:
            runs, notes = _outbound_runs(requests, usage)
        except StoppedBySignal as exc:
            # Stopped before the outbound runs had anything to report: the listener's
            # calls are ended all the same.
            beside.finish(interrupted_by=exc.number)
            raise
        except BaseException:
            beside.stop()
            beside.finish(interrupted_by=None)
            raise
        interrupted = next((number for run, _ in runs if (number := stopped_by(run))), None)
        received = beside.finish(interrupted_by=interrupted)
    if out is not None:
        notes.append(f"--evidence-out: the calls received saved to {inbound_evidence_path(out)}")
    runs.append((received, finish_answer(received, prepared, usage, ())))
    return runs, notes


def _outbound_runs(
    requests: ScenarioRequests, on_usage_error: UsageError
) -> tuple[Runs, list[str]]:
    """The failover check, then the test call when the scenario has one."""
    # The scenario's rules read every target's evidence, so the runs keep all of it (a
    # scenario's endpoints are few: this is no sweep of thousands).
    runs = [failover_run(requests.failover, on_usage_error=on_usage_error, keep_evidence=True)]
    # The failover run's report already carries the scenario's notes (its extra_notes);
    # only what concerns the test call is added here.
    notes = [requests.invite_skipped] if requests.invite_skipped else []
    evidence, first = runs[0]
    signalled = stopped_by(evidence)
    if requests.invite is not None and signalled is not None:
        # The scenario asked for a call: not placing it is work undone, not a note. A
        # signal that came as the failover run ended stops the check as well: the report
        # then says it was interrupted, as the command exits.
        unplaced = Finding(
            CheckId.SIP_INVITE,
            Status.INCOMPLETE,
            "trunk",
            f"test call not placed: the run was interrupted by {signal_name(signalled)}",
        )
        runs[0] = (
            evidence,
            replace(
                first,
                trunk_findings=(*first.trunk_findings, unplaced),
                interrupted=True,
                stop_signal=signalled,
            ),
        )
    elif requests.invite is not None:
        runs.append(invite_run(requests.invite, on_usage_error=on_usage_error, keep_evidence=True))
    return runs, notes


def stopped_by(run: RunEvidence) -> int | None:
    """The signal that stopped the command during `run`: one that interrupted it, or one
    that came as it ended (probe.run.commands._collect); SIGINT when a run was interrupted
    without a signal being known."""
    if run.stop_signal is not None:
        return run.stop_signal
    return signal.SIGINT if run.stopped == "interrupted" else None


def judging_settings(scenario: Scenario, run: RunEvidence, request: JudgeRequest) -> Settings:
    """The policy a saved run is judged with under `scenario`: the scenario's ([tls],
    [options]), with each option given on the command line (`request.given`) in its place.

    The trust anchors are the ones the run recorded, as `sipprobe judge` always does
    (the scenario's `tls.trust` is what that run used, or what its `--ca` replaced); the
    scenario's own anchors only for a file that records none.
    """
    from probe.scenario.requests import scenario_settings

    settings = scenario_settings(scenario)
    if run.settings.trust is not None:
        settings = settings.with_flat({"trust": None, "ca": None})
    given = {name: request.settings.flat(name) for name in request.given}
    if "ca" in given or "trust" in given:
        given = {"ca": None, "trust": None, **given}
    return settings.with_flat(given)


def run_judge_scenario_command(request: JudgeRequest, *, on_usage_error: UsageError) -> Report:
    """Judge a saved check again under a scenario, offline: the failover run's evidence
    (`request.evidence`) and, when it is there, the test call's beside it."""
    return judge_scenario_runs(request, on_usage_error=on_usage_error)[1]


def judge_scenario_runs(
    request: JudgeRequest, *, on_usage_error: UsageError
) -> tuple[tuple[RunEvidence, ...], Report]:
    """`run_judge_scenario_command`, with the saved runs it judged."""
    from probe.scenario.requests import build_requests, call_evidence_path, inbound_evidence_path

    assert request.scenario is not None
    scenario = _load_scenario(request.scenario, on_usage_error)
    requests = build_requests(scenario)
    run = load_run(request.evidence, on_usage_error)
    settings = judging_settings(scenario, run, request)
    runs = [(run, judge_saved(run, request.evidence, settings, request.now, on_usage_error))]
    notes = list(requests.failover.extra_notes)
    call_path = call_evidence_path(request.evidence)
    if run.command != "invite" and call_path.is_file():
        call = load_run(call_path, on_usage_error)
        judged = judge_saved(
            call, call_path, judging_settings(scenario, call, request), request.now, on_usage_error
        )
        runs.append((call, judged))
    elif requests.invite_skipped:
        notes.append(requests.invite_skipped)
    elif scenario.invite is not None and run.command != "invite":
        # The scenario asks for a test call and nothing says how it went: work not judged.
        missing = Finding(
            CheckId.SIP_INVITE,
            Status.INCOMPLETE,
            "trunk",
            f"the scenario's test call is not judged: no evidence of it ({call_path} "
            "does not exist; `sipprobe check --evidence-out` writes it there)",
        )
        first = runs[0][1]
        runs[0] = (run, replace(first, trunk_findings=(*first.trunk_findings, missing)))
    inbound_path = inbound_evidence_path(request.evidence)
    if run.inbound is None and inbound_path.is_file():
        received = load_run(inbound_path, on_usage_error)
        judged = judge_saved(
            received,
            inbound_path,
            judging_settings(scenario, received, request),
            request.now,
            on_usage_error,
        )
        runs.append((received, judged))
    report = judged_by_scenario(scenario, runs, command=run.command, notes=notes)
    return tuple(evidence for evidence, _ in runs), report


__all__ = [
    "check_runs",
    "judge_scenario_runs",
    "judged_by_scenario",
    "judging_settings",
    "run_check_command",
    "run_judge_scenario_command",
]
