"""`sipprobe check SCENARIO`: one file describes a trunk, one command checks it all.

The scenario becomes the same requests the command line makes (a failover check over its
endpoints, and a test call when it has an `[invite]` section); the runs are combined into
one report, then judged once more as the scenario sees them: its own expectations
(`scenario.*`) and its provider's documented rules (`policy.<provider>.*`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from probe.report.exit_codes import signal_name
from probe.report.model import Report, TargetResult, combine_reports
from probe.run.commands import UsageError, run_failover_command
from probe.run.invite import run_invite_command
from probe.verdict.findings import CheckId, Finding, Status


def regroup(report: Report, judged: list[Finding]) -> Report:
    """Put `judged` (the report's findings, possibly adjusted, then new ones) back in shape.

    The first findings line up one to one with `report.findings` (trunk first, then each
    target in order); whatever follows concerns the trunk as a whole.
    """
    position = len(report.trunk_findings)
    trunk = list(judged[:position])
    results: list[TargetResult] = []
    for result in report.results:
        count = len(result.findings)
        results.append(replace(result, findings=tuple(judged[position : position + count])))
        position += count
    trunk.extend(judged[position:])
    return replace(report, results=tuple(results), trunk_findings=tuple(trunk))


def run_check_command(
    spec: str,
    *,
    to: str | None,
    on_usage_error: UsageError,
    overrides: Mapping[str, Any] | None = None,
) -> Report:
    """`overrides`: the command line's options (fields of `OptionsRequest`) that replace
    the scenario's settings for this run; the report names each one it replaced."""
    from probe.scenario import ScenarioError, judge_scenario, load
    from probe.scenario.requests import with_overrides

    try:
        scenario = load(spec)
        if to is not None:
            scenario = scenario.with_invite_to(to)
        requests = with_overrides(scenario.to_requests(), overrides or {})
    except (ScenarioError, ValueError) as exc:
        on_usage_error(str(exc))
    reports = [run_failover_command(requests.failover, on_usage_error=on_usage_error)]
    # The failover run's report already carries the scenario's notes (its extra_notes);
    # only what concerns the test call is added here.
    notes = [requests.invite_skipped] if requests.invite_skipped else []
    if requests.invite is not None and reports[0].interrupted:
        # The scenario asked for a call: not placing it is work undone, not a note.
        first = reports[0]
        unplaced = Finding(
            CheckId.SIP_INVITE,
            Status.INCOMPLETE,
            "trunk",
            f"test call not placed: the run was interrupted by {signal_name(first.stop_signal)}",
        )
        reports[0] = replace(first, trunk_findings=(*first.trunk_findings, unplaced))
    elif requests.invite is not None:
        reports.append(run_invite_command(requests.invite, on_usage_error=on_usage_error))
    combined = combine_reports(tuple(reports), command="check", notes=tuple(notes))
    return regroup(combined, judge_scenario(scenario, combined.findings))
