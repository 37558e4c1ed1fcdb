"""Checks on the certificates the server presented: `tls.chain`, `tls.identity`,
`tls.validity`, `tls.key`, `tls.signature`, `tls.eku`.

The handshake captured the chain with verification off; here it is parsed once and judged
against the trust anchors (cryptography's verifier), the SIP domain of the dialled URI
(RFC 5922 §7.2: the URI host, never an SRV target or the dialled address), the clock the
runner passes in, and the TLS policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from cryptography import x509

from probe.evidence.model import ProbeEvidence
from probe.tls.certinfo import (
    common_name,
    describe_certificate,
    format_name,
)
from probe.tls.quality import (
    chain_tree,
    judge_client_eku,
    judge_eku,
    judge_keys,
    judge_signatures,
    judge_validity,
)
from probe.tls.readable import certificate_defect, certificate_label, is_read_failure
from probe.tls.trust import TrustAnchors
from probe.tls.verify import (
    ChainPurpose,
    ChainVerdict,
    match_identity,
    sip_domain_outside_constraints,
    verify_chain,
)
from probe.verdict.checks.memo import CertificateInputs, CertificateVerdicts
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import CheckId, Finding, JsonValue, Status


def load_presented(
    chain: Sequence[bytes], purpose: ChainPurpose = "server"
) -> tuple[list[x509.Certificate], str | None]:
    """Parse the presented DER certificates; (certificates, error) on the first bad one."""
    certificates: list[x509.Certificate] = []
    sender, refuser = _ROLES[purpose]
    for position, der in enumerate(chain):
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except BaseException as exc:
            if not is_read_failure(exc):
                raise
            role = "the leaf certificate" if position == 0 else "certificate"
            return certificates, (
                f"{role} #{position + 1} {sender} sent cannot be parsed: cryptography raised "
                f"{type(exc).__name__} ({exc}); {refuser} refuse a certificate they cannot "
                f"parse: check the certificate file {sender} is configured with"
            )
    return certificates, None


_ROLES: dict[ChainPurpose, tuple[str, str]] = {
    "server": ("the server", "TLS clients"),
    "client": ("the caller", "TLS servers"),
}
"""Who sent a chain of that purpose, and who refuses what cannot be parsed."""


def short_name(certificate: x509.Certificate) -> str:
    """The Common Name when there is one, else the whole subject: for one-line summaries."""
    return common_name(certificate) or format_name(certificate.subject)


class _Judge:
    """Builds findings for one target, softening certificate failures under --insecure."""

    def __init__(self, label: str, policy: TlsPolicy) -> None:
        self.label = label
        self.insecure = policy.insecure

    def __call__(
        self, check: CheckId, status: Status, summary: str, details: dict[str, JsonValue]
    ) -> Finding:
        if self.insecure and status is Status.FAIL:
            status, summary = Status.WARN, f"--insecure: {summary}"
        return Finding(check, status, self.label, summary, details)


def judge_certificates(
    evidence: ProbeEvidence,
    anchors: TrustAnchors | None,
    policy: TlsPolicy,
    *,
    now: dt.datetime,
    verdicts: CertificateVerdicts | None = None,
) -> list[Finding]:
    """Every certificate finding for a completed handshake, parsed and verified once.

    With the run's `verdicts`, targets whose judgement reads the same inputs (one chain
    behind many endpoints) share one verdict, relabelled for each target."""
    tls = evidence.tls
    if tls is None or not tls.ok:
        return []
    target = evidence.target
    inputs = CertificateInputs(tls.presented_chain, target.host, tls.sni, target.srv_target)
    label = evidence.target.label
    if verdicts is None or verdicts.anchors is not anchors:
        return _judge_certificates(inputs, label, anchors, policy, now=now)
    key = (inputs, policy, now)
    findings = verdicts.reached.get(key)
    if findings is None:
        findings = _judge_certificates(inputs, label, anchors, policy, now=now)
        verdicts.reached[key] = findings
    return [
        Finding(f.check, f.status, label, f.summary, f.details) if f.target != label else f
        for f in findings
    ]


def judge_presented_chain(
    inputs: CertificateInputs,
    label: str,
    anchors: TrustAnchors | None,
    policy: TlsPolicy,
    *,
    now: dt.datetime,
    purpose: ChainPurpose = "server",
) -> list[Finding]:
    """The certificate findings of a live probe (`tls.chain` ... `tls.eku`) for a chain
    presented anywhere: in a captured handshake, say (probe.verdict.checks.capture_tls),
    or by a caller as its client certificate (`purpose="client"`: the leaf must be fit
    for the client role, probe.verdict.checks.inbound_session)."""
    return _judge_certificates(inputs, label, anchors, policy, now=now, purpose=purpose)


def _judge_certificates(
    inputs: CertificateInputs,
    label: str,
    anchors: TrustAnchors | None,
    policy: TlsPolicy,
    *,
    now: dt.datetime,
    purpose: ChainPurpose = "server",
) -> list[Finding]:
    """The verdict on `inputs`: nothing else of the evidence is read, so that the run's
    table of verdicts, keyed by the inputs, can never hand out a stale one."""
    judge = _Judge(label, policy)
    certificates, parse_error = load_presented(inputs.presented_chain, purpose)
    if parse_error is not None or not certificates:
        reason = parse_error or f"{_ROLES[purpose][0]} presented no certificate"
        return [judge(CheckId.TLS_CHAIN, Status.FAIL, reason, {"presented_count": 0})]
    verdict = (
        verify_chain(certificates, anchors, now=now, purpose=purpose)
        if anchors is not None
        else None
    )
    judge_purpose = judge_client_eku if purpose == "client" else judge_eku
    path = verdict.verified_path if verdict is not None and verdict.ok else ()
    anchor = path[-1] if path else None
    leaf = certificates[0]
    # A server that sends its root too would otherwise have the root judged (and listed)
    # twice, once as sent and once as the anchor. Certificates compare by their DER.
    judged_chain = list(dict.fromkeys([*certificates, *([anchor] if anchor is not None else [])]))

    def guarded(check: CheckId, make: Callable[[], Finding]) -> Finding:
        # Every part verify_chain reads was read before, but a certificate from the far end
        # can still make cryptography raise on a part only these judgements touch.
        try:
            return make()
        except BaseException as exc:
            if not is_read_failure(exc):
                raise
            return _unjudged(judge, check, certificates, exc)

    return [
        guarded(
            CheckId.TLS_CHAIN,
            lambda: _chain_finding(judge, certificates, verdict, anchors, now=now),
        ),
        guarded(CheckId.TLS_IDENTITY, lambda: _identity_finding(judge, inputs, leaf, policy, path)),
        guarded(
            CheckId.TLS_VALIDITY,
            lambda: _quality(
                judge,
                CheckId.TLS_VALIDITY,
                judge_validity(
                    judged_chain,
                    now=now,
                    warn_days=policy.warn_days,
                    critical_days=policy.critical_days,
                ),
            ),
        ),
        guarded(
            CheckId.TLS_KEY, lambda: _quality(judge, CheckId.TLS_KEY, judge_keys(judged_chain))
        ),
        guarded(
            CheckId.TLS_SIGNATURE,
            lambda: _quality(
                judge, CheckId.TLS_SIGNATURE, judge_signatures(judged_chain, anchor=anchor)
            ),
        ),
        guarded(CheckId.TLS_EKU, lambda: _quality(judge, CheckId.TLS_EKU, judge_purpose(leaf))),
    ]


def _unjudged(
    judge: _Judge, check: CheckId, certificates: Sequence[x509.Certificate], exc: BaseException
) -> Finding:
    """A failing finding for a check that a certificate cryptography cannot read stopped."""
    unreadable = [
        (position, cert, defect)
        for position, cert in enumerate(certificates)
        if (defect := certificate_defect(cert)) is not None
    ]
    if unreadable:
        position, cert, defect = unreadable[0]
        reason = defect.sentence(certificate_label(cert, position))
        details: dict[str, JsonValue] = {"position": position + 1, **defect.to_dict()}
    else:
        reason = (
            f"judging the presented chain raised {type(exc).__name__} ({exc}); every part "
            "of each certificate reads, so report this with the evidence file"
        )
        details = {"exception": type(exc).__name__, "message": str(exc)}
    return judge(check, Status.FAIL, f"not judged: {reason}", details)


class QualityVerdict(Protocol):
    """The shape every probe.tls.quality verdict shares."""

    @property
    def status(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def details(self) -> Mapping[str, JsonValue]: ...


def _quality(judge: _Judge, check: CheckId, verdict: QualityVerdict) -> Finding:
    return judge(check, Status(verdict.status), verdict.summary, dict(verdict.details()))


def _chain_finding(
    judge: _Judge,
    certificates: list[x509.Certificate],
    verdict: ChainVerdict | None,
    anchors: TrustAnchors | None,
    *,
    now: dt.datetime,
) -> Finding:
    path = verdict.verified_path if verdict is not None else ()
    details: dict[str, JsonValue] = {"trust": anchors.source if anchors is not None else None}
    if verdict is not None and verdict.reason_kind == "unreadable":
        # The leaf's description and the chain tree read the very parts that failed.
        details |= {"reason_kind": verdict.reason_kind, "error": verdict.raw_error}
        return judge(CheckId.TLS_CHAIN, Status.FAIL, verdict.reason or "unreadable", details)
    details |= {
        "leaf": describe_certificate(certificates[0], now=now).to_dict(),
        "chain": chain_tree(certificates, path, now=now),
    }
    if verdict is None:
        return judge(CheckId.TLS_CHAIN, Status.SKIP, "no trust anchors loaded", details)
    details |= {
        "reason_kind": verdict.reason_kind,
        "presented_count": verdict.presented_count,
        "leaf_issuer_presented": verdict.leaf_issuer_presented,
        "self_signed_leaf": verdict.self_signed_leaf,
        "verified_path": [c.subject.rfc4514_string() for c in verdict.verified_path],
        "error": verdict.raw_error,
    }
    if verdict.ok:
        chain = " → ".join(short_name(c) for c in verdict.verified_path)
        return judge(
            CheckId.TLS_CHAIN, Status.PASS, f"chain verified to a trust anchor ({chain})", details
        )
    return judge(
        CheckId.TLS_CHAIN, Status.FAIL, verdict.reason or "chain verification failed", details
    )


def _identity_finding(
    judge: _Judge,
    inputs: CertificateInputs,
    leaf: x509.Certificate,
    policy: TlsPolicy,
    path: Sequence[x509.Certificate],
) -> Finding:
    domain = inputs.host
    verdict = match_identity(leaf, domain=domain)
    if verdict.ok and verdict.matched_by == "uri":
        outside = sip_domain_outside_constraints(domain, path)
        if outside is not None:
            verdict = replace(verdict, ok=False, reason=outside)
    details: dict[str, JsonValue] = {
        "domain": domain,
        "sni": inputs.sni,
        "rfc5922_ok": verdict.ok,
        "rfc2818_ok": verdict.rfc2818_ok,
        "matched_by": verdict.matched_by,
        "matched_name": verdict.matched_name,
        "covered_names": list(verdict.covered_names),
        "warning": verdict.warning,
        "wildcards_accepted": policy.accept_wildcards,
        "srv_target": inputs.srv_target,
        "srv_target_accepted": policy.accept_srv_target_identity,
    }
    if verdict.ok:
        summary = f"certificate is valid for {domain} ({verdict.matched_name})"
        if verdict.warning:
            return judge(
                CheckId.TLS_IDENTITY, Status.WARN, f"{summary}; {verdict.warning}", details
            )
        return judge(CheckId.TLS_IDENTITY, Status.PASS, summary, details)
    reason = verdict.reason or f"certificate does not cover {domain}"
    if verdict.rfc2818_ok and verdict.matched_by == "wildcard":
        if policy.accept_wildcards:
            return judge(
                CheckId.TLS_IDENTITY,
                Status.PASS,
                f"{domain} matches the wildcard {verdict.matched_name} (RFC 2818), accepted by "
                "policy although RFC 5922 forbids wildcards for SIP",
                details,
            )
        reason += " (RFC 2818 would accept the wildcard; RFC 5922 forbids it for SIP:"
        reason += " --accept-wildcard if your provider allows it)"
    srv_match = _srv_target_match(inputs, leaf, policy, path)
    details["srv_target_matched_name"] = srv_match
    if srv_match is not None:
        srv = inputs.srv_target
        if policy.accept_srv_target_identity:
            # Opted in, it is still a warning: a client that follows RFC 5922 §7.2 (most
            # SIP stacks) refuses this certificate for this domain.
            summary = (
                f"certificate is for the SRV target {srv} ({srv_match}), not for the dialled "
                f"domain {domain}; accepted by --accept-srv-target-identity, although "
                "RFC 5922 §7.2 has the client match the domain"
            )
            return judge(CheckId.TLS_IDENTITY, Status.WARN, summary, details)
        reason += (
            f"; it names the SRV target {srv} ({srv_match}), which RFC 5922 §7.2 does not "
            "accept for the domain: --accept-srv-target-identity if your provider presents "
            "its SRV target's certificate"
        )
    return judge(CheckId.TLS_IDENTITY, Status.FAIL, reason, details)


def _srv_target_match(
    inputs: CertificateInputs,
    leaf: x509.Certificate,
    policy: TlsPolicy,
    path: Sequence[x509.Certificate],
) -> str | None:
    """The certificate name that identifies the SRV target (by RFC 5922's rules, or a
    wildcard under --accept-wildcard), or None: the second verdict of a certificate
    that fails for the dialled domain, judged the way that domain would have been."""
    srv = inputs.srv_target
    if srv is None or srv.lower().rstrip(".") == inputs.host.lower().rstrip("."):
        return None
    verdict = match_identity(leaf, domain=srv)
    outside = verdict.matched_by == "uri" and sip_domain_outside_constraints(srv, path)
    if verdict.ok and not outside:
        return verdict.matched_name
    wildcard = verdict.rfc2818_ok and verdict.matched_by == "wildcard"
    if wildcard and policy.accept_wildcards:
        return verdict.matched_name
    return None
