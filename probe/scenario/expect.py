"""What a scenario expects of its run, judged over the run's findings (pure).

- `scenario.max_rtt` (per target): every OPTIONS round trip within `options.max_rtt_ms`
  (with `count` > 1, the slowest of them).
- `scenario.primary` (trunk): the provider tries the intended primary (`failover.primary`,
  or the endpoint with `role = "primary"`) first — the order `failover.order` reports.
- `failover.require_failover_path = false`: a trunk that is meant to have a single
  endpoint does not fail for lacking a failover path; `failover.redundancy` becomes a
  warning that says so (fake redundancy still fails).

`judge_scenario` returns a run's findings with all of this applied, followed by the
provider profile's (`probe.scenario.profiles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from probe.scenario.model import Scenario
from probe.scenario.profiles import TRUNK, judge_profile
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

MAX_RTT = "scenario.max_rtt"
PRIMARY = "scenario.primary"


def _slowest(value: JsonValue) -> float | None:
    if isinstance(value, dict):
        value = value.get("max")
    return float(value) if isinstance(value, int | float) else None


def _max_rtt(scenario: Scenario, findings: Sequence[Finding]) -> list[Finding]:
    limit = scenario.options.max_rtt_ms
    if limit is None:
        return []
    out = []
    for finding in findings:
        if finding.check != CheckId.SIP_OPTIONS:
            continue
        rtt = _slowest(finding.details.get("rtt_ms"))
        details: dict[str, JsonValue] = {"rtt_ms": rtt, "max_rtt_ms": limit}
        if rtt is None:
            status, summary = Status.SKIP, "no OPTIONS round trip to measure"
        elif rtt <= limit:
            status, summary = Status.PASS, f"OPTIONS round trip {rtt:.1f} ms, within {limit:g} ms"
        else:
            status = Status.FAIL
            summary = f"OPTIONS round trip {rtt:.1f} ms, over the scenario's {limit:g} ms"
        out.append(Finding(MAX_RTT, status, finding.target, summary, details))
    return out


def _primary(scenario: Scenario, findings: Sequence[Finding]) -> list[Finding]:
    position = scenario.intended_primary
    order = next((f for f in findings if f.check == CheckId.FAILOVER_ORDER), None)
    if position is None or order is None:
        return []
    intended = scenario.endpoints[position]
    rows = order.details.get("order")
    first = None
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        value = rows[0].get("endpoint")
        first = value if isinstance(value, str) else None
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


def judge_expectations(scenario: Scenario, findings: Sequence[Finding]) -> list[Finding]:
    """The scenario's own expectations as extra findings (`scenario.*`)."""
    return [*_max_rtt(scenario, findings), *_primary(scenario, findings)]


def judge_scenario(scenario: Scenario, findings: Sequence[Finding]) -> list[Finding]:
    """A run's findings as the scenario sees them: adjusted, then its expectations and
    its provider profile."""
    return [
        *(_relax(scenario, finding) for finding in findings),
        *judge_expectations(scenario, findings),
        *judge_profile(scenario, findings),
    ]
