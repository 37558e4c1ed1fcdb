"""What a scenario expects of its run, judged over the run's evidence (pure).

- `scenario.max_rtt` (per target): every OPTIONS round trip within `options.max_rtt_ms`
  (with `count` > 1, the slowest of them).
- `scenario.primary` (trunk): the provider tries the intended primary (`failover.primary`,
  or the endpoint with `role = "primary"`) first — the order `failover.order` reports.
- `failover.require_failover_path = false`: a trunk that is meant to have a single
  endpoint does not fail for lacking a failover path; `failover.redundancy` becomes a
  warning that says so (fake redundancy still fails).

`judge_scenario` returns a run's report with all of this applied, followed by the
provider profile's findings (`probe.scenario.profiles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from probe.evidence.model import ProbeEvidence
from probe.evidence.run import RunEvidence
from probe.report.model import Report
from probe.scenario.judged import JudgedRun
from probe.scenario.model import Scenario
from probe.scenario.profiles import TRUNK, judge_profile
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, rounded_ms

MAX_RTT = "scenario.max_rtt"
PRIMARY = "scenario.primary"


def _slowest_rtt(evidence: ProbeEvidence | None) -> float | None:
    """The slowest OPTIONS round trip at one target, in ms: the `--count` run's maximum,
    or the slowest exchange that got its final response."""
    if evidence is None:
        return None
    if evidence.ping is not None:
        # The figures cover every probe; the exchanges may be only a sample of them.
        return evidence.ping.rtt.max_ms if evidence.ping.rtt.count else None
    rtts = [
        exchange.rtt_ms
        for exchange in evidence.exchanges
        if exchange.method == "OPTIONS" and exchange.rtt_ms is not None
    ]
    return max(rtts) if rtts else None


def _max_rtt(scenario: Scenario, runs: Sequence[JudgedRun]) -> list[Finding]:
    limit = scenario.options.max_rtt_ms
    if limit is None:
        return []
    out = []
    for run in runs:
        if run.evidence.command == "invite":
            continue  # a test call sends no OPTIONS
        for target in run.targets:
            rtt = rounded_ms(_slowest_rtt(target.evidence))
            details: dict[str, JsonValue] = {"rtt_ms": rtt, "max_rtt_ms": limit}
            if rtt is None:
                status, summary = Status.SKIP, "no OPTIONS round trip to measure"
            elif rtt <= limit:
                status = Status.PASS
                summary = f"OPTIONS round trip {rtt:.1f} ms, within {limit:g} ms"
            else:
                status = Status.FAIL
                summary = f"OPTIONS round trip {rtt:.1f} ms, over the scenario's {limit:g} ms"
            out.append(Finding(MAX_RTT, status, target.label, summary, details))
    return out


def _first_tried(run: RunEvidence) -> str | None:
    """The endpoint URI the provider tries first, from the failover run's order."""
    assert run.failover is not None
    if not run.failover.order:
        return None
    endpoint = run.uris[run.failover.order[0].uri_index].endpoint
    return endpoint.uri if endpoint is not None else None


def _primary(scenario: Scenario, runs: Sequence[JudgedRun]) -> list[Finding]:
    position = scenario.intended_primary
    failover = next((run.evidence for run in runs if run.evidence.failover is not None), None)
    if position is None or failover is None:
        return []
    first = _first_tried(failover)
    intended = scenario.endpoints[position]
    name = intended.region or intended.uri
    details: dict[str, JsonValue] = {"intended": intended.uri, "first_tried": first}
    if first is None:
        return [Finding(PRIMARY, Status.SKIP, TRUNK, "the provider's order is empty", details)]
    if first == intended.uri:
        summary = f"the provider tries the intended primary {name} first"
        return [Finding(PRIMARY, Status.PASS, TRUNK, summary, details)]
    firsts = [e for e in scenario.endpoints if e.uri == first]
    why = ""
    if firsts and firsts[0].priority is not None and intended.priority is not None:
        why = f" (priority {firsts[0].priority} before {intended.priority})"
    summary = (
        f"the provider tries {firsts[0].region or first if firsts else first} first{why}, "
        f"not the intended primary {name}"
    )
    return [Finding(PRIMARY, Status.FAIL, TRUNK, summary, details)]


def _relax(scenario: Scenario, finding: Finding) -> Finding:
    """Without a required failover path, lacking one warns instead of failing."""
    if (
        scenario.failover.require_failover_path
        or finding.check != CheckId.FAILOVER_REDUNDANCY
        or finding.status is not Status.FAIL
        or finding.details.get("shared_addresses")
    ):
        return finding
    return replace(
        finding,
        status=Status.WARN,
        summary=f"{finding.summary} (the scenario does not require a failover path)",
        details={**finding.details, "required": False},
    )


def judge_expectations(scenario: Scenario, runs: Sequence[JudgedRun]) -> list[Finding]:
    """The scenario's own expectations as extra findings (`scenario.*`)."""
    return [*_max_rtt(scenario, runs), *_primary(scenario, runs)]


def judge_scenario(scenario: Scenario, report: Report, runs: Sequence[JudgedRun]) -> Report:
    """`report` (the judgement of `runs`) as the scenario sees it: each finding adjusted
    where it stands, then the scenario's expectations and its provider profile after the
    trunk's findings."""
    results = tuple(
        replace(result, findings=tuple(_relax(scenario, f) for f in result.findings))
        for result in report.results
    )
    trunk = (
        *(_relax(scenario, finding) for finding in report.trunk_findings),
        *judge_expectations(scenario, runs),
        *judge_profile(scenario, runs),
    )
    return replace(report, results=results, trunk_findings=trunk)
