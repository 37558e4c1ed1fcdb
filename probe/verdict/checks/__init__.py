"""Pure checks over evidence. Nothing here opens a socket or reads a clock.

Each check is a unit declared in its module (unit.Check: what it concludes, what it
reads, when it applies, what it owes a target's PASS); registry.CHECKS orders them, and
the two functions below only walk it."""

from __future__ import annotations

from probe.evidence.model import ProbeEvidence
from probe.verdict.checks.memo import CertificateVerdicts
from probe.verdict.checks.policy import OptionsPolicy, TlsPolicy
from probe.verdict.checks.unit import TargetJudging
from probe.verdict.findings import CheckId, Finding

__all__ = [
    "OptionsPolicy",
    "TlsPolicy",
    "judge_options",
    "required_checks",
]


def required_checks(evidence: ProbeEvidence | None) -> tuple[str, ...]:
    """The checks a target must conclude for its verdict to be PASS: what the command
    asked to verify of it, as each check declares it. A target that was never reached
    still owes its SIP check, so an empty result can never read as a pass."""
    if evidence is None:
        return (CheckId.SIP_OPTIONS,)
    from probe.verdict.checks.registry import CHECKS

    return tuple(owed for check in CHECKS for owed in check.owes(evidence))


def judge_options(
    evidence: ProbeEvidence,
    policy: OptionsPolicy,
    *,
    verdicts: CertificateVerdicts | None = None,
) -> list[Finding]:
    """Every finding for one probe, in the order the phases happened (the registry's);
    `verdicts` is the run's table of certificate verdicts, shared by its targets."""
    # Imported here: the registry holds the certificate check, which needs cryptography,
    # and importing this package must stay free of it (tests/test_layers.py).
    from probe.verdict.checks.registry import CHECKS

    judging = TargetJudging(evidence, policy, verdicts)
    findings: list[Finding] = []
    for check in CHECKS:
        if check.applies(evidence):
            findings.extend(found for found in check.judge(judging) if found is not None)
    return findings
