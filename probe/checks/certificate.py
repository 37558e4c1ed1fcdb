"""Checks on the certificate the server presented: `tls.chain` and `tls.identity`.

The handshake captured the chain with verification off; here it is judged against the
trust anchors (cryptography's verifier) and against the SIP domain of the dialled URI
(RFC 5922 §7.2: the URI host, never an SRV target or the dialled address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509

from probe.evidence import ProbeEvidence
from probe.findings import CheckId, Finding, JsonValue, Status
from probe.tls.certinfo import common_name, describe_certificate
from probe.tls.trust import TrustAnchors
from probe.tls.verify import match_identity, verify_chain


def load_presented(chain: Sequence[bytes]) -> tuple[list[x509.Certificate], str | None]:
    """Parse the presented DER certificates; (certificates, error) on the first bad one."""
    certificates: list[x509.Certificate] = []
    for position, der in enumerate(chain):
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            return certificates, f"certificate #{position + 1} cannot be parsed: {exc}"
    return certificates, None


def short_name(certificate: x509.Certificate) -> str:
    """The Common Name when there is one, else the whole subject: for one-line summaries."""
    return common_name(certificate) or certificate.subject.rfc4514_string()


def _soften(status: Status, insecure: bool) -> Status:
    """Under --insecure a certificate failure is reported, but does not fail the run."""
    return Status.WARN if insecure and status is Status.FAIL else status


def _prefix(insecure: bool, status: Status) -> str:
    return "--insecure: " if insecure and status is Status.FAIL else ""


def check_chain(
    evidence: ProbeEvidence, anchors: TrustAnchors | None, *, now: dt.datetime, insecure: bool
) -> Finding | None:
    tls = evidence.tls
    target = evidence.target
    if tls is None or not tls.ok:
        return None
    certificates, parse_error = load_presented(tls.presented_chain)
    details: dict[str, JsonValue] = {
        "presented": [
            {"subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string()}
            for c in certificates
        ],
        "trust": anchors.source if anchors is not None else None,
    }
    if certificates:
        details["leaf"] = describe_certificate(certificates[0], now=now).to_dict()
    if parse_error is not None or not certificates:
        reason = parse_error or "the server presented no certificate"
        status = _soften(Status.FAIL, insecure)
        return Finding(
            CheckId.TLS_CHAIN,
            status,
            target.label,
            _prefix(insecure, Status.FAIL) + reason,
            details,
        )
    if anchors is None:
        return Finding(
            CheckId.TLS_CHAIN, Status.SKIP, target.label, "no trust anchors loaded", details
        )
    verdict = verify_chain(certificates, anchors, now=now)
    details |= {
        "reason_kind": verdict.reason_kind,
        "presented_count": verdict.presented_count,
        "leaf_issuer_presented": verdict.leaf_issuer_presented,
        "self_signed_leaf": verdict.self_signed_leaf,
        "verified_path": [c.subject.rfc4514_string() for c in verdict.verified_path],
        "error": verdict.raw_error,
    }
    if verdict.ok:
        path = " → ".join(short_name(c) for c in verdict.verified_path)
        return Finding(
            CheckId.TLS_CHAIN,
            Status.PASS,
            target.label,
            f"chain verified to a trust anchor ({path})",
            details,
        )
    status = _soften(Status.FAIL, insecure)
    summary = _prefix(insecure, Status.FAIL) + (verdict.reason or "chain verification failed")
    return Finding(CheckId.TLS_CHAIN, status, target.label, summary, details)


def check_identity(evidence: ProbeEvidence, *, insecure: bool) -> Finding | None:
    tls = evidence.tls
    target = evidence.target
    if tls is None or not tls.ok or not tls.presented_chain:
        return None
    certificates, parse_error = load_presented(tls.presented_chain[:1])
    if parse_error is not None or not certificates:
        return None  # tls.chain already says the certificate cannot be read
    verdict = match_identity(certificates[0], domain=target.host)
    details: dict[str, JsonValue] = {
        "domain": target.host,
        "sni": tls.sni,
        "matched_by": verdict.matched_by,
        "matched_name": verdict.matched_name,
        "rfc2818_ok": verdict.rfc2818_ok,
        "covered_names": list(verdict.covered_names),
        "warning": verdict.warning,
    }
    if verdict.ok:
        summary = f"certificate is valid for {target.host} ({verdict.matched_name})"
        if verdict.warning:
            return Finding(
                CheckId.TLS_IDENTITY,
                Status.WARN,
                target.label,
                f"{summary}; {verdict.warning}",
                details,
            )
        return Finding(CheckId.TLS_IDENTITY, Status.PASS, target.label, summary, details)
    reason = verdict.reason or f"certificate does not cover {target.host}"
    if verdict.rfc2818_ok:
        reason += " (an RFC 2818 wildcard matches; RFC 5922 forbids wildcards for SIP)"
    status = _soften(Status.FAIL, insecure)
    return Finding(
        CheckId.TLS_IDENTITY, status, target.label, _prefix(insecure, Status.FAIL) + reason, details
    )
