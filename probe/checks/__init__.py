"""Pure checks over evidence. Nothing here opens a socket or reads a clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from probe.checks.connection import check_connect, check_handshake, check_resolve
from probe.checks.options import AcceptedCodes, check_options, check_response
from probe.evidence import ProbeEvidence
from probe.findings import CheckId, Finding, Status
from probe.tls.trust import TrustAnchors


@dataclass(frozen=True, slots=True)
class OptionsPolicy:
    """What an OPTIONS probe is judged against."""

    accept: AcceptedCodes = field(default_factory=AcceptedCodes)
    anchors: TrustAnchors | None = None
    insecure: bool = False
    now: dt.datetime | None = None
    """The instant certificates are judged at; the runner sets it once per run."""

    def at(self, now: dt.datetime) -> OptionsPolicy:
        return replace(self, now=now)


def judge_options(evidence: ProbeEvidence, policy: OptionsPolicy) -> list[Finding]:
    """Every finding for one OPTIONS probe, in the order the phases happened."""
    findings: list[Finding | None] = [
        check_resolve(evidence),
        check_connect(evidence),
        check_handshake(evidence),
    ]
    if evidence.tls is not None and evidence.tls.ok:
        # Imported here: only TLS targets need cryptography.
        from probe.checks.certificate import check_chain, check_identity

        if policy.now is None:
            raise ValueError("OptionsPolicy.now must be set before judging certificates")
        now = policy.now
        findings.append(check_chain(evidence, policy.anchors, now=now, insecure=policy.insecure))
        findings.append(check_identity(evidence, insecure=policy.insecure))
    if evidence.exchanges:
        findings.append(check_options(evidence, policy.accept))
        findings.append(check_response(evidence))
    else:
        findings.append(not_sent(evidence))
    return [finding for finding in findings if finding is not None]


def not_sent(evidence: ProbeEvidence) -> Finding:
    """`sip.options` skipped, naming the phase that stopped the probe."""
    if evidence.resolve is not None and not evidence.resolve.addresses:
        why = "the name did not resolve"
    elif evidence.connect is not None and not evidence.connect.ok:
        why = "the connection failed"
    elif evidence.tls is not None and not evidence.tls.ok:
        why = "the TLS handshake failed"
    else:
        why = "the probe ended before OPTIONS"
    return Finding(
        CheckId.SIP_OPTIONS, Status.SKIP, evidence.target.label, f"OPTIONS not sent: {why}"
    )
