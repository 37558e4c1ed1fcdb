"""What a check is: one unit that declares the findings it concludes, the evidence it
reads, when it applies, what it owes a target's verdict, and its judgement.

Each check module declares its units beside the functions that judge; the registry
(probe.verdict.checks.registry) orders them. A memo of a check's verdicts is keyed by
what `reads` names and nothing else (probe.verdict.checks.memo).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from probe.evidence.model import ProbeEvidence
from probe.verdict.findings import Finding

if TYPE_CHECKING:
    from probe.evidence.capture import CaptureEvidence
    from probe.evidence.inbound import InboundCall, InboundExpectation
    from probe.verdict.checks.inbound_request import ReadInvite
    from probe.verdict.checks.memo import CertificateVerdicts
    from probe.verdict.checks.options import ExchangeReads
    from probe.verdict.checks.policy import InboundPolicy, OptionsPolicy

EvidencePart = Literal[
    "target",
    "connect",
    "tls",
    "chain",
    "enumeration",
    "websocket",
    "exchanges",
    "ping",
    "call",
    "auth",
    "keepalive",
]
"""The parts of a probe's evidence a check may read (probe.evidence.model.ProbeEvidence)."""


@dataclass(slots=True)
class TargetJudging:
    """One target's judgement while it is made: its evidence, the policy, and what the
    run shares between its targets (certificate verdicts) or this target's checks share
    (each exchange read once). Made for one target, dropped with it."""

    evidence: ProbeEvidence
    policy: OptionsPolicy
    verdicts: CertificateVerdicts | None = None
    _reads: ExchangeReads | None = field(default=None, repr=False)

    @property
    def reads(self) -> ExchangeReads:
        if self._reads is None:
            from probe.verdict.checks.options import ExchangeReads

            self._reads = ExchangeReads(self.evidence)
        return self._reads


def _owes_nothing(_evidence: ProbeEvidence) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class Check:
    """One check."""

    ids: tuple[str, ...]
    """The check ids of the findings it concludes."""
    reads: tuple[EvidencePart, ...]
    """The evidence its judgement reads."""
    applies: Callable[[ProbeEvidence], bool]
    """Whether it has anything to say about this probe."""
    judge: Callable[[TargetJudging], Iterable[Finding | None]]
    owes: Callable[[ProbeEvidence], tuple[str, ...]] = _owes_nothing
    """The ids a target's PASS needs from it, for this probe (docs/verdicts.md)."""


CapturePart = Literal["source", "counts", "flows", "sip", "tls", "recording", "media"]
"""The parts of a capture's evidence a check may read (probe.evidence.capture)."""


@dataclass(frozen=True, slots=True)
class CaptureJudging:
    """One capture's judgement: its evidence and the policy (the TLS policy and trust
    anchors are what a certificate seen in a capture is judged by, as a live probe's)."""

    evidence: CaptureEvidence
    policy: OptionsPolicy | None = None


def _always(_evidence: CaptureEvidence) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class CaptureCheck:
    """One check of a capture audit (listed in registry.CAPTURE_CHECKS)."""

    ids: tuple[str, ...]
    reads: tuple[CapturePart, ...]
    judge: Callable[[CaptureJudging], Iterable[Finding | None]]
    applies: Callable[[CaptureEvidence], bool] = _always
    """Whether it has anything to say about this capture (an analysis that did not run
    leaves its part None); when it applies, its ids are required."""
    owes: Callable[[CaptureEvidence], tuple[str, ...]] | None = None
    """The ids it must conclude for this capture, when not all of `ids` (a chain a
    capture cannot show is reported, not owed)."""


CallPart = Literal["tls", "invite", "answer", "events", "media", "teardown", "stir"]
"""The parts of a received call's evidence a check may read (probe.evidence.inbound)."""


@dataclass(slots=True)
class CallJudging:
    """One received call's judgement (`sipprobe answer`): the call, what the run was
    asked to wait for, the policy, and the label its findings carry. The INVITE is read
    once, by the first check that needs it, and shared with the others."""

    call: InboundCall
    expectation: InboundExpectation
    policy: InboundPolicy
    label: str
    _invite: ReadInvite | None = field(default=None, repr=False)

    @property
    def invite(self) -> ReadInvite:
        if self._invite is None:
            from probe.verdict.checks.inbound_request import read_invite

            self._invite = read_invite(self.call.invite)
        return self._invite


@dataclass(frozen=True, slots=True)
class InboundCheck:
    """One check of a received call (listed in registry.INBOUND_CHECKS)."""

    ids: tuple[str, ...]
    reads: tuple[CallPart, ...]
    judge: Callable[[CallJudging], Iterable[Finding | None]]
    owes: Callable[[CallJudging], tuple[str, ...]]
    """The ids a call's PASS needs from it, for this call and this policy."""
