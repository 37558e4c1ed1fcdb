"""The scenario's own expectations over a run's findings: max RTT, intended primary,
whether a failover path is required; `judge_scenario` puts it all together."""

from __future__ import annotations

from typing import Any

from probe.scenario import judge_expectations, judge_scenario, load_builtin
from probe.verdict.findings import CheckId, Finding, Status
from tests.scenario.helpers import load_text, two_endpoints

A = "a.example.net (192.0.2.1:5061/tls)"


def f(check: str, status: Status = Status.PASS, target: str = "trunk", **details: Any) -> Finding:
    return Finding(check, status, target, f"{check} summary", details)


def order(*uris: str) -> Finding:
    return f(
        CheckId.FAILOVER_ORDER, order=[{"rank": i, "endpoint": u} for i, u in enumerate(uris, 1)]
    )


def test_max_rtt_per_target() -> None:
    scenario = load_text(two_endpoints(tail="[options]\nmax_rtt_ms = 100\n"))
    findings = [
        f(CheckId.SIP_OPTIONS, target=A, rtt_ms=42.0),
        f(CheckId.SIP_OPTIONS, target="b", rtt_ms={"min": 10.0, "avg": 80.0, "max": 140.0}),
        f(CheckId.SIP_OPTIONS, Status.FAIL, target="c", rtt_ms=None),
    ]
    out = judge_expectations(scenario, findings)
    assert [(x.check, x.target, x.status) for x in out] == [
        ("scenario.max_rtt", A, Status.PASS),
        ("scenario.max_rtt", "b", Status.FAIL),
        ("scenario.max_rtt", "c", Status.SKIP),
    ]
    assert out[1].summary == "OPTIONS round trip 140.0 ms, over the scenario's 100 ms"
    assert judge_expectations(load_text(two_endpoints()), findings) == []


def test_intended_primary_first_in_provider_order() -> None:
    scenario = load_text(
        two_endpoints(
            first="priority = 20",
            second="priority = 10",
            tail='[failover]\nprimary = "a"\n',
        )
    )
    first, second = (e.uri for e in scenario.endpoints)
    (wrong,) = judge_expectations(scenario, [order(second, first)])
    assert (wrong.check, wrong.status, wrong.target) == ("scenario.primary", Status.FAIL, "trunk")
    assert wrong.summary == (
        "the provider tries b first (priority 10 before 20), not the intended primary a"
    )
    (right,) = judge_expectations(scenario, [order(first, second)])
    assert right.status is Status.PASS
    assert judge_expectations(scenario, []) == []  # no failover run, nothing to compare


def test_role_primary_is_the_intended_primary() -> None:
    scenario = load_text(two_endpoints(second='role = "primary"'))
    first, second = (e.uri for e in scenario.endpoints)
    (finding,) = judge_expectations(scenario, [order(first, second)])
    assert finding.status is Status.FAIL
    assert judge_expectations(load_text(two_endpoints()), [order(first, second)]) == []


def test_builtin_primaries_are_first_in_their_provider_order() -> None:
    for name in ("twilio-secure-trunk", "amazon-chime", "teams-direct-routing", "ibm-voice-agent"):
        scenario = load_builtin(name)
        uris = [scenario.endpoints[i].uri for i in scenario.provider_order()]
        (finding,) = judge_expectations(scenario, [order(*uris)])
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


def test_failover_path_not_required_warns_instead() -> None:
    relaxed = load_text(two_endpoints(tail="[failover]\nrequire_failover_path = false\n"))
    (finding,) = judge_scenario(relaxed, [NO_PATH])
    assert finding.status is Status.WARN
    assert finding.summary.endswith("(the scenario does not require a failover path)")
    assert finding.details["required"] is False
    assert judge_scenario(relaxed, [FAKE]) == [FAKE]  # fake redundancy still fails
    assert judge_scenario(load_text(two_endpoints()), [NO_PATH]) == [NO_PATH]


def test_judge_scenario_keeps_findings_then_expectations_then_policy() -> None:
    scenario = load_builtin("ibm-voice-agent")
    uris = [e.uri for e in scenario.endpoints]
    findings = [f(CheckId.SIP_OPTIONS, target=A, rtt_ms=3.0), order(*uris)]
    out = judge_scenario(scenario, findings)
    assert [x.check for x in out] == [
        "sip.options",
        "failover.order",
        "scenario.primary",
        "policy.ibm-voice-agent.retired",
    ]
