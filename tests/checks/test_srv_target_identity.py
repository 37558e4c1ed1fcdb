"""`tls.identity` when the certificate names the SRV target, not the dialled domain:
RFC 5922 §7.2 matches the domain, so that fails by default and names the reason; with
`--accept-srv-target-identity` it warns, never passes (the dual verdict, as for
wildcards)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.model import ProbeEvidence, Target
from probe.tls.pki import Issued, make_leaf, make_root_ca
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.certificate import judge_certificates
from probe.verdict.checks.memo import CertificateVerdicts
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import Finding, Status
from tests.evidence.sample import tls_evidence

DOMAIN = "trunk.example.test"
SRV_TARGET = "sbc1.carrier.test"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ROOT = make_root_ca("srv-target root", now=NOW - dt.timedelta(days=1))
ANCHORS = TrustAnchors((ROOT.cert,), "srv-target root")


def leaf(*names: str, sip_uris: bool = True) -> Issued:
    return make_leaf(
        ROOT,
        common_name=names[0],
        dns_names=names,
        sip_uris=[f"sip:{name}" for name in names if "*" not in name] if sip_uris else (),
        now=NOW - dt.timedelta(days=1),
    )


SRV_LEAF = leaf(SRV_TARGET)


def evidence(certificate: Issued, srv_target: str | None = SRV_TARGET) -> ProbeEvidence:
    target = Target(
        uri=f"sips:{DOMAIN}",
        host=DOMAIN,
        port=5061,
        transport="tls",
        address="192.0.2.7",
        sni=DOMAIN,
        srv_target=srv_target,
    )
    chain = (certificate.cert.public_bytes(Encoding.DER),)
    return tls_evidence(target, chain)


def identity(probe: ProbeEvidence, **policy: bool) -> Finding:
    findings = judge_certificates(probe, ANCHORS, TlsPolicy(**policy), now=NOW)
    return next(f for f in findings if f.check == "tls.identity")


def test_a_certificate_for_the_srv_target_fails_by_default_and_says_why() -> None:
    finding = identity(evidence(SRV_LEAF))
    assert finding.status is Status.FAIL
    assert f"not for {DOMAIN}" in finding.summary
    assert f"names the SRV target {SRV_TARGET} (sip:{SRV_TARGET})" in finding.summary
    assert "--accept-srv-target-identity" in finding.summary
    assert finding.details["srv_target"] == SRV_TARGET
    assert finding.details["srv_target_matched_name"] == f"sip:{SRV_TARGET}"
    assert finding.details["rfc5922_ok"] is False


def test_opted_in_it_warns_and_never_passes() -> None:
    finding = identity(evidence(SRV_LEAF), accept_srv_target_identity=True)
    assert finding.status is Status.WARN
    assert f"for the SRV target {SRV_TARGET}" in finding.summary
    assert f"not for the dialled domain {DOMAIN}" in finding.summary
    assert "RFC 5922 §7.2" in finding.summary
    assert finding.details["srv_target_accepted"] is True


@pytest.mark.parametrize("accept", [False, True])
def test_a_certificate_for_neither_fails_without_naming_the_srv_target(accept: bool) -> None:
    finding = identity(evidence(leaf("elsewhere.example.test")), accept_srv_target_identity=accept)
    assert finding.status is Status.FAIL
    assert "SRV target" not in finding.summary
    assert finding.details["srv_target_matched_name"] is None


def test_without_srv_there_is_no_second_verdict() -> None:
    # An A record or a --resolve pin: nothing but the domain to match.
    finding = identity(evidence(SRV_LEAF, srv_target=None), accept_srv_target_identity=True)
    assert finding.status is Status.FAIL
    assert "SRV target" not in finding.summary


@pytest.mark.parametrize("accept", [False, True])
def test_a_certificate_for_the_domain_passes_whatever_the_option(accept: bool) -> None:
    finding = identity(evidence(leaf(DOMAIN, SRV_TARGET)), accept_srv_target_identity=accept)
    assert finding.status is Status.PASS
    assert finding.details["matched_name"] == f"sip:{DOMAIN}"


def test_a_wildcard_for_the_srv_target_needs_both_opt_ins() -> None:
    wildcard = leaf("*.carrier.test", sip_uris=False)
    only_srv = identity(evidence(wildcard), accept_srv_target_identity=True)
    assert only_srv.status is Status.FAIL
    both = identity(evidence(wildcard), accept_srv_target_identity=True, accept_wildcards=True)
    assert both.status is Status.WARN
    assert "DNS:*.carrier.test" in both.summary


def test_insecure_softens_the_default_failure_as_for_any_certificate_failure() -> None:
    finding = identity(evidence(SRV_LEAF), insecure=True)
    assert finding.status is Status.WARN
    assert finding.summary.startswith("--insecure: ")


def test_the_runs_table_of_verdicts_keeps_the_srv_target_apart() -> None:
    # One chain behind two targets, one reached through SRV and one pinned: each gets the
    # verdict its own inputs call for, never the other's from the run's table.
    verdicts = CertificateVerdicts(ANCHORS)
    policy = TlsPolicy(accept_srv_target_identity=True)
    via_srv = evidence(SRV_LEAF)
    pinned = replace(via_srv, target=replace(via_srv.target, srv_target=None))
    statuses = [
        next(
            f
            for f in judge_certificates(probe, ANCHORS, policy, now=NOW, verdicts=verdicts)
            if f.check == "tls.identity"
        ).status
        for probe in (via_srv, pinned, via_srv)
    ]
    assert statuses == [Status.WARN, Status.FAIL, Status.WARN]
