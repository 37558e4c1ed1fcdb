"""Pure checks over evidence. Nothing here opens a socket or reads a clock."""

from __future__ import annotations

from probe.evidence.model import ProbeEvidence
from probe.verdict.checks.connection import check_connect, check_handshake
from probe.verdict.checks.memo import CertificateVerdicts
from probe.verdict.checks.options import (
    ExchangeReads,
    check_answer_sdp,
    check_options,
    check_response,
)
from probe.verdict.checks.policy import OptionsPolicy, TlsPolicy
from probe.verdict.checks.tls_session import (
    check_ciphers,
    check_client_cert,
    check_version,
    check_versions,
)
from probe.verdict.findings import CheckId, Finding, Status

__all__ = [
    "OptionsPolicy",
    "TlsPolicy",
    "judge_options",
    "not_sent",
    "required_checks",
]


def required_checks(evidence: ProbeEvidence | None) -> tuple[str, ...]:
    """The checks a target must conclude for its verdict to be PASS: what the command
    asked to verify of it. A target that was never reached still owes its SIP check, so
    an empty result can never read as a pass."""
    if evidence is None:
        return (CheckId.SIP_OPTIONS,)
    required: list[str] = [CheckId.NET_CONNECT]
    if evidence.target.transport == "tls":
        required += [CheckId.TLS_HANDSHAKE, CheckId.TLS_CHAIN, CheckId.TLS_IDENTITY]
    if evidence.enumeration is not None:
        required += [CheckId.TLS_VERSIONS, CheckId.TLS_CIPHERS]
    if evidence.method == "INVITE":
        required += [CheckId.SIP_INVITE, CheckId.SDP_SRTP, CheckId.SIP_TEARDOWN]
        call = evidence.call
        if call is not None and (call.media is not None or call.media_skipped is not None):
            required.append(CheckId.MEDIA_SRTP)
    else:
        required.append(CheckId.SIP_OPTIONS)
    return tuple(required)


def judge_options(
    evidence: ProbeEvidence,
    policy: OptionsPolicy,
    *,
    verdicts: CertificateVerdicts | None = None,
) -> list[Finding]:
    """Every finding for one OPTIONS probe, in the order the phases happened; `verdicts`
    is the run's table of certificate verdicts, shared by its targets."""
    findings: list[Finding | None] = [
        check_connect(evidence),
        check_handshake(evidence),
    ]
    if evidence.tls is not None:
        findings.append(check_version(evidence, policy.tls.min_version))
    if evidence.tls is not None and evidence.tls.ok:
        # Imported here: only TLS targets need cryptography.
        from probe.verdict.checks.certificate import judge_certificates

        if policy.now is None:
            raise ValueError("OptionsPolicy.now must be set before judging certificates")
        findings.extend(
            judge_certificates(
                evidence, policy.anchors, policy.tls, now=policy.now, verdicts=verdicts
            )
        )
    if evidence.tls is not None:
        findings.append(check_client_cert(evidence))
        findings.append(check_versions(evidence, policy.tls.min_version))
        findings.append(check_ciphers(evidence))
    if evidence.call is not None:
        findings.extend(judge_call(evidence))
    elif evidence.exchanges or evidence.ping is not None:
        # Each exchange is parsed once for the three checks that read it.
        reads = ExchangeReads(evidence)
        findings.append(check_options(evidence, policy.accept, policy.ping, reads))
        findings.append(check_response(evidence, reads))
        findings.append(check_answer_sdp(evidence, reads))
    else:
        findings.append(not_sent(evidence))
    return [finding for finding in findings if finding is not None]


def judge_call(evidence: ProbeEvidence) -> list[Finding]:
    """The findings of a test call: how it was answered, the SRTP verdict, how it ended."""
    from probe.sdp import parse_sdp
    from probe.verdict.checks.call import check_invite, check_media, check_teardown
    from probe.verdict.checks.srtp import check_sdes_transport, check_srtp

    call = evidence.call
    assert call is not None
    label = evidence.target.label
    findings: list[Finding | None] = [check_invite(call, label)]
    if call.teardown != "not_sent":
        findings.append(
            check_srtp(
                label=label,
                offer=parse_sdp(call.offer),
                offer_kind=call.offer_kind,
                answer=call.answer,
                answer_source=call.answer_source,
                final_status=call.final_status,
                final_reason=call.final_reason,
            )
        )
    findings.append(
        check_sdes_transport(
            label=label,
            transport=evidence.target.transport,
            offer_kind=call.offer_kind,
            keys_sent=call.keys_sent and call.teardown != "not_sent",
        )
    )
    findings.append(check_media(call, label))
    findings.append(check_teardown(call, label))
    return [finding for finding in findings if finding is not None]


def not_sent(evidence: ProbeEvidence) -> Finding:
    """`sip.options` (or `sip.invite`) not sent, naming the phase that stopped the probe:
    skipped behind a failed phase (whose finding already fails the target), incomplete
    when nothing failed and the request still never went out."""
    check = CheckId.SIP_INVITE if evidence.method == "INVITE" else CheckId.SIP_OPTIONS
    if evidence.connect is not None and not evidence.connect.ok:
        why = "the connection failed"
    elif evidence.tls is not None and not evidence.tls.ok:
        why = "the TLS handshake failed"
    else:
        return Finding(
            check,
            Status.INCOMPLETE,
            evidence.target.label,
            f"{evidence.method} not sent: the probe ended before it",
        )
    return Finding(check, Status.SKIP, evidence.target.label, f"{evidence.method} not sent: {why}")
