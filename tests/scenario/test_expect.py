"""The scenario's own expectations over a run's findings: max RTT, intended primary,
whether a failover path is required; `judge_scenario` puts it all together."""

from __future__ import annotations

from typing import Any

from probe.evidence.model import PingTally, RttSpread
from probe.report.model import Report
from probe.scenario import JudgedRun, Scenario, judge_expectations, judge_scenario, load_builtin
from probe.verdict.findings import CheckId, Finding, Status, TargetResult
from tests.scenario.helpers import (
    A_TARGET,
    B_TARGET,
    STARTED_AT,
    Target,
    at,
    judged_run,
    load_text,
    two_endpoints,
)

A = A_TARGET.label


def f(check: str, status: Status = Status.PASS, target: str = "trunk", **details: Any) -> Finding:
    return Finding(check, status, target, f"{check} summary", details)


def endpoint_target(scenario: Scenario, index: int) -> Target:
    endpoint = scenario.endpoints[index]
    uri = endpoint.sip_uri
    return Target(endpoint.uri, uri.host, uri.port or 5061, "tls", f"192.0.2.{index + 1}")


def in_order(scenario: Scenario, *positions: int) -> JudgedRun:
    """A failover run over the scenario's endpoints, tried in `positions` order."""
    probes = [at(endpoint_target(scenario, i)) for i in range(len(scenario.endpoints))]
    run = judged_run(*probes, first=positions[0])
    assert run.evidence.failover is not None
    assert [p.uri_index for p in run.evidence.failover.order] == list(positions)
    return run


def test_max_rtt_per_target() -> None:
    scenario = load_text(two_endpoints(tail="[options]\nmax_rtt_ms = 100\n"))
    c = Target("sip:c.example.net;transport=tls", "c.example.net", 5061, "tls", "192.0.2.3")
    pinged = PingTally(
        count=3, sent=3, answered=3, rtt=RttSpread(count=3, mean_ms=80.0, min_ms=10.0, max_ms=140.0)
    )
    run = judged_run(at(rtts=[42.0]), at(B_TARGET, ping=pinged), at(c, handshake=False))
    out = judge_expectations(scenario, [run])
    assert [(x.check, x.target, x.status) for x in out] == [
        ("scenario.max_rtt", A, Status.PASS),
        ("scenario.max_rtt", B_TARGET.label, Status.FAIL),
        ("scenario.max_rtt", c.label, Status.SKIP),
    ]
    assert out[1].summary == "OPTIONS round trip 140.0 ms, over the scenario's 100 ms"
    assert out[0].details == {"rtt_ms": 42.0, "max_rtt_ms": 100}
    assert judge_expectations(load_text(two_endpoints()), [run]) == []
    # The slowest of several exchanges; a test call's run sends no OPTIONS.
    (slow,) = judge_expectations(scenario, [judged_run(at(rtts=[20.0, 120.5, 30.0]))])
    assert (slow.status, slow.details["rtt_ms"]) == (Status.FAIL, 120.5)
    call = judged_run(at(method="INVITE"), command="invite")
    assert judge_expectations(scenario, [call]) == []


def test_intended_primary_first_in_provider_order() -> None:
    scenario = load_text(
        two_endpoints(
            first="priority = 20",
            second="priority = 10",
            tail='[failover]\nprimary = "a"\n',
        )
    )
    (wrong,) = judge_expectations(scenario, [in_order(scenario, 1, 0)])
    assert (wrong.check, wrong.status, wrong.target) == ("scenario.primary", Status.FAIL, "trunk")
    assert wrong.summary == (
        "the provider tries b first (priority 10 before 20), not the intended primary a"
    )
    (right,) = judge_expectations(scenario, [in_order(scenario, 0, 1)])
    assert right.status is Status.PASS
    assert judge_expectations(scenario, []) == []  # no failover run, nothing to compare
    options_only = judged_run(at(endpoint_target(scenario, 0)), command="options")
    assert judge_expectations(scenario, [options_only]) == []


def test_role_primary_is_the_intended_primary() -> None:
    scenario = load_text(two_endpoints(second='role = "primary"'))
    (finding,) = judge_expectations(scenario, [in_order(scenario, 0, 1)])
    assert finding.status is Status.FAIL
    plain = load_text(two_endpoints())
    assert judge_expectations(plain, [in_order(plain, 0, 1)]) == []


def test_builtin_primaries_are_first_in_their_provider_order() -> None:
    for name in ("twilio-secure-trunk", "amazon-chime", "teams-direct-routing", "ibm-voice-agent"):
        scenario = load_builtin(name)
        order = scenario.provider_order()
        (finding,) = judge_expectations(scenario, [in_order(scenario, *order)])
        assert finding.status is Status.PASS, (name, finding.summary)


NO_PATH = f(
    CheckId.FAILOVER_REDUNDANCY,
    Status.FAIL,
    healthy_groups=["a.example.net"],
    shared_addresses={},
)
FAKE = f(
    CheckId.FAILOVER_REDUNDANCY,
    Status.FAIL,
    healthy_groups=["a.example.net", "b.example.net"],
    shared_addresses={"192.0.2.1": ["a.example.net", "b.example.net"]},
)


def report(*trunk: Finding, results: tuple[TargetResult, ...] = ()) -> Report:
    return Report("check", STARTED_AT, 1.0, results, trunk_findings=trunk)


def test_failover_path_not_required_warns_instead() -> None:
    relaxed = load_text(two_endpoints(tail="[failover]\nrequire_failover_path = false\n"))
    (finding,) = judge_scenario(relaxed, report(NO_PATH), []).trunk_findings
    assert finding.status is Status.WARN
    assert finding.summary.endswith("(the scenario does not require a failover path)")
    assert finding.details["required"] is False
    # fake redundancy still fails
    assert judge_scenario(relaxed, report(FAKE), []).trunk_findings == (FAKE,)
    assert judge_scenario(load_text(two_endpoints()), report(NO_PATH), []).trunk_findings == (
        NO_PATH,
    )


def test_judge_scenario_keeps_findings_then_expectations_then_policy() -> None:
    scenario = load_builtin("ibm-voice-agent")
    run = in_order(scenario, *range(len(scenario.endpoints)))
    results = tuple(target.result for target in run.targets)
    order = f(CheckId.FAILOVER_ORDER)
    out = judge_scenario(scenario, report(order, results=results), [run])
    # Each target's findings stay with it; the scenario's come after the trunk's.
    assert out.results == results
    assert [x.check for x in out.trunk_findings] == [
        "failover.order",
        "scenario.primary",
        "policy.ibm-voice-agent.retired",
    ]
