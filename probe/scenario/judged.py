"""What the scenario's rules read: each run's evidence beside the results its checks reached.

A rule reads facts from the evidence (a target's port and transport, the TLS version and
suite negotiated, the provider's order of the targets) and, where a check has already
reached a verdict on that evidence (the certificate's identity and EKU, the SRTP answer),
that check's finding about the same target. Evidence and result are paired by the target
itself (`Target`: URI, host, port, transport, address, SNI), never by position in a list
nor by a report's display label. Pure data; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.evidence.model import InboundTarget, ProbeEvidence, Target
from probe.evidence.run import ProbedTarget, RunEvidence
from probe.verdict.findings import CheckId, Finding, TargetResult


@dataclass(frozen=True, slots=True)
class JudgedTarget:
    """One probed target: what was collected there, and what its checks concluded."""

    probed: ProbedTarget
    result: TargetResult

    @property
    def target(self) -> Target:
        return self.probed.target

    @property
    def label(self) -> str:
        return self.probed.target.label

    @property
    def evidence(self) -> ProbeEvidence | None:
        return self.probed.evidence

    def finding(self, check: CheckId) -> Finding | None:
        """This target's finding of `check`, when that check concluded anything."""
        return next((f for f in self.result.findings if f.check == check), None)


@dataclass(frozen=True, slots=True)
class JudgedRun:
    """One run (a failover check, a test call): its evidence and its judged targets, in
    the order its report lists them (the provider's order for a failover run)."""

    evidence: RunEvidence
    targets: tuple[JudgedTarget, ...]


class PairingError(ProbeError, ValueError):
    """A report that is not the judgement of the evidence it is paired with."""


def pair_results(evidence: RunEvidence, results: Sequence[TargetResult]) -> JudgedRun:
    """Each of `results` (the report of `evidence`) beside the evidence of its target;
    a result whose target has no evidence in the run is a `PairingError`.

    Two entries for one target (a URI given twice) are the same target probed twice;
    they are paired in the order each side lists them, which is all that tells them apart.
    """
    waiting: dict[Target, list[ProbedTarget]] = {}
    for probed in evidence.probed():
        waiting.setdefault(probed.target, []).append(probed)
    targets = []
    for result in results:
        if isinstance(result.target, InboundTarget):
            # A call the run received has no probed target: its checks judged it whole
            # (probe.verdict.checks.inbound), and the scenario's rules read probed ones.
            continue
        same = waiting.get(result.target)
        if not same:
            raise PairingError(f"no evidence of {result.target.label} in the run")
        targets.append(JudgedTarget(same.pop(0), result))
    # Evidence the report left out (a failover order need not place every target) is
    # left out here too: the rules judge what the report reports.
    return JudgedRun(evidence, tuple(targets))
