"""Small builders for scenario tests: TOML text in, a Scenario or its problems out."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probe.evidence.model import (
    ConnectEvidence,
    HandshakeAttempt,
    PingTally,
    ProbeEvidence,
    SipExchange,
    Target,
    TlsEnumeration,
    TlsEvidence,
)
from probe.evidence.run import (
    Endpoint,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunCommand,
    RunEvidence,
    RunSettings,
)
from probe.locate.records import LocateResult
from probe.scenario import JudgedRun, Scenario, ScenarioError, pair_results, parse_scenario
from probe.verdict.findings import Finding, Status, TargetResult

BASE = """
[trunk]
name = "t"
{trunk}

[[endpoint]]
uri = "sip:a.example.net:5061;transport=tls"
region = "a"
{first}

[[endpoint]]
uri = "sip:b.example.net:5061;transport=tls"
region = "b"
{second}
"""


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def two_endpoints(trunk: str = "", first: str = "", second: str = "", tail: str = "") -> str:
    """A two-endpoint scenario with extra lines in [trunk], each [[endpoint]], and after."""
    return BASE.format(trunk=trunk, first=first, second=second) + toml(tail)


def load_text(text: str, base_dir: Path | None = None) -> Scenario:
    return parse_scenario(toml(text), source="t.toml", base_dir=base_dir)


def problems(text: str) -> list[str]:
    """Every problem line of a scenario that must not load."""
    with pytest.raises(ScenarioError) as caught:
        load_text(text)
    return str(caught.value).splitlines()


# --- runs to judge: evidence of each target beside its checks' findings ---------------

A_TARGET = Target(
    "sip:sip.example.net:5061;transport=tls", "sip.example.net", 5061, "tls", "192.0.2.10"
)
B_TARGET = Target(
    "sip:sip2.example.net:5061;transport=tls", "sip2.example.net", 5061, "tls", "192.0.2.20"
)
STARTED_AT = "2026-11-27T00:00:00.000+00:00"


@dataclass(frozen=True)
class Probe:
    """One target's evidence and the findings its checks reached (their target set here)."""

    evidence: ProbeEvidence
    findings: tuple[tuple[str, Status, dict[str, Any]], ...] = ()

    def judged(self) -> tuple[ProbedTarget, TargetResult]:
        target = self.evidence.target
        findings = tuple(
            Finding(check, status, target.label, f"{check} summary", details)
            for check, status, details in self.findings
        )
        return ProbedTarget(evidence=self.evidence), TargetResult(target, findings)


def at(
    target: Target = A_TARGET,
    *,
    version: str | None = "TLSv1.2",
    cipher: str = "ECDHE-RSA-AES256-GCM-SHA384",
    handshake: bool = True,
    versions: Sequence[str] = (),
    suites: Mapping[str, bool] | None = None,
    rtts: Sequence[float] = (),
    ping: PingTally | None = None,
    method: str = "OPTIONS",
    **findings: Any,
) -> Probe:
    """A target as the collect layer saw it: its TLS handshake (unless `handshake` is
    false, or the target is not TLS), `--enumerate`'s accepted `versions` and TLS 1.2
    `suites`, an OPTIONS exchange per round trip in `rtts`; and `findings` of its checks,
    as `tls_eku=(Status.PASS, {"ekus": [...]})`."""
    tls = None
    if target.transport == "tls":
        tls = TlsEvidence(
            ok=handshake,
            sni=target.host,
            version=version if handshake else None,
            cipher=cipher if handshake else None,
            error=None if handshake else "handshake failure",
        )
    enumeration = None
    if versions or suites:
        enumeration = TlsEnumeration(
            versions=tuple(HandshakeAttempt(f"TLS {v}", v, None, accepted=True) for v in versions),
            tls12_suites=tuple(
                HandshakeAttempt(label, "1.2", None, accepted=ok)
                for label, ok in (suites or {}).items()
            ),
        )
    exchanges = tuple(
        SipExchange("OPTIONS", b"OPTIONS", 10.0, "answered", final_at_ms=10.0 + rtt) for rtt in rtts
    )
    evidence = ProbeEvidence(
        target=target,
        started_at=STARTED_AT,
        timeout_s=5.0,
        method=method,
        connect=ConnectEvidence(True, 1.0),
        tls=tls,
        exchanges=exchanges,
        enumeration=enumeration,
        ping=ping,
    )
    checks = tuple(
        (name.replace("_", ".", 1), status, details) for name, (status, details) in findings.items()
    )
    return Probe(evidence, checks)


def judged_run(
    *probes: Probe, command: RunCommand = "failover", first: int | None = None
) -> JudgedRun:
    """A run of `probes`, one URI each, judged in their order; with `first`, a failover
    order that tries endpoint `first` first (then the rest as listed)."""
    uris = []
    for position, probe in enumerate(probes):
        probed, _result = probe.judged()
        uri = probed.target.uri
        uris.append(
            ProbedUri(
                uri=uri,
                locate=LocateResult(uri, "explicit port", (), (), ()),
                targets=(probed,),
                endpoint=Endpoint(uri, probed.target.host, position),
            )
        )
    failover = None
    if first is not None:
        ranked = [first, *(i for i in range(len(probes)) if i != first)]
        failover = FailoverEvidence("list", tuple(Placement(i, 0, "g") for i in ranked))
    evidence = RunEvidence(
        command=command,
        started_at=STARTED_AT,
        duration_ms=1.0,
        settings=RunSettings(timeout_s=5.0),
        uris=tuple(uris),
        failover=failover,
    )
    # The report's results, paired back with the evidence by target.
    return pair_results(evidence, [probe.judged()[1] for probe in probes])
