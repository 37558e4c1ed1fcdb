"""Declarative trunk checks: scenario files in TOML, validated with pydantic v2.

    scenario = load("builtin:teams-direct-routing")   # or load_scenario(Path("acme.toml"))
    requests = scenario.to_requests()                   # requests for probe.run (imported then)
    runs = [pair_results(evidence, report.results)]     # each run's evidence and results
    report = judge_scenario(scenario, report, runs)     # + scenario.* and policy.* findings

The schema, key by key, is in scenarios/README.md.
"""

from probe.scenario.expect import judge_expectations, judge_scenario
from probe.scenario.judged import JudgedRun, JudgedTarget, PairingError, pair_results
from probe.scenario.loader import (
    BUILTIN_PREFIX,
    Problem,
    ScenarioError,
    builtin_source,
    list_builtins,
    load,
    load_builtin,
    load_scenario,
    parse_scenario,
)
from probe.scenario.model import (
    Endpoint,
    Failover,
    Inbound,
    InboundStir,
    Invite,
    Options,
    Order,
    Run,
    Scenario,
    Tls,
    Trunk,
)
from probe.scenario.profiles import judge_profile

__all__ = [
    "BUILTIN_PREFIX",
    "Endpoint",
    "Failover",
    "Inbound",
    "InboundStir",
    "Invite",
    "JudgedRun",
    "JudgedTarget",
    "Options",
    "Order",
    "PairingError",
    "Problem",
    "Run",
    "Scenario",
    "ScenarioError",
    "Tls",
    "Trunk",
    "builtin_source",
    "judge_expectations",
    "judge_profile",
    "judge_scenario",
    "list_builtins",
    "load",
    "load_builtin",
    "load_scenario",
    "pair_results",
    "parse_scenario",
]
