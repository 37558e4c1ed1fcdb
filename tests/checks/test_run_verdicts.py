"""The run's table of certificate verdicts: one verdict per distinct input, never another
target's verdict for different evidence, and nothing kept outside the run."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from probe.evidence.model import ProbeEvidence, Target, TlsEvidence
from probe.tls import pki
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.certificate import judge_certificates
from probe.verdict.checks.memo import CertificateVerdicts
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import CheckId, Finding, Status

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
NAME = "sbc.example.test"


@pytest.fixture(scope="module")
def chain_and_anchors() -> tuple[tuple[bytes, ...], TrustAnchors]:
    root = pki.make_root_ca("Verdicts Root", key_type="ec", now=NOW - 100 * DAY, days=4000)
    leaf = pki.make_leaf(
        root,
        common_name=NAME,
        dns_names=[NAME],
        key_type="ec",
        not_before=NOW - 10 * DAY,
        not_after=NOW + 300 * DAY,
    )
    der = (leaf.cert.public_bytes(serialization.Encoding.DER),)
    return der, TrustAnchors((root.cert,), "verdicts root")


def _evidence(chain: tuple[bytes, ...], host: str, address: str) -> ProbeEvidence:
    target = Target(f"sip:{host};transport=tls", host, 5061, "tls", address, host)
    return ProbeEvidence(
        target=target,
        started_at="2026-03-01T12:00:00Z",
        timeout_s=5,
        tls=TlsEvidence(ok=True, sni=host, version="TLSv1.3", presented_chain=chain),
    )


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


def test_targets_behind_one_chain_share_one_verdict_relabelled(
    chain_and_anchors: tuple[tuple[bytes, ...], TrustAnchors],
) -> None:
    chain, anchors = chain_and_anchors
    verdicts = CertificateVerdicts(anchors)
    first = _evidence(chain, NAME, "127.0.0.2")
    second = _evidence(chain, NAME, "127.0.0.3")
    one = judge_certificates(first, anchors, TlsPolicy(), now=NOW, verdicts=verdicts)
    two = judge_certificates(second, anchors, TlsPolicy(), now=NOW, verdicts=verdicts)
    assert len(verdicts.reached) == 1, "one chain for one name was judged twice"
    assert {f.target for f in one} == {first.target.label}
    assert {f.target for f in two} == {second.target.label}
    assert [(f.check, f.status, f.summary) for f in one] == [
        (f.check, f.status, f.summary) for f in two
    ]
    alone = judge_certificates(second, anchors, TlsPolicy(), now=NOW)
    assert two == alone, "a shared verdict differs from judging the target on its own"


def test_a_verdict_is_never_reused_for_evidence_it_did_not_read(
    chain_and_anchors: tuple[tuple[bytes, ...], TrustAnchors],
) -> None:
    """Same chain, another name: the first target's PASS must not be handed out."""
    chain, anchors = chain_and_anchors
    verdicts = CertificateVerdicts(anchors)
    right = judge_certificates(
        _evidence(chain, NAME, "127.0.0.2"), anchors, TlsPolicy(), now=NOW, verdicts=verdicts
    )
    wrong = judge_certificates(
        _evidence(chain, "other.example.test", "127.0.0.2"),
        anchors,
        TlsPolicy(),
        now=NOW,
        verdicts=verdicts,
    )
    assert _by_check(right)[CheckId.TLS_IDENTITY].status is Status.PASS
    assert _by_check(wrong)[CheckId.TLS_IDENTITY].status is Status.FAIL
    later = judge_certificates(
        _evidence(chain, NAME, "127.0.0.2"),
        anchors,
        TlsPolicy(),
        now=NOW + 400 * DAY,
        verdicts=verdicts,
    )
    assert _by_check(later)[CheckId.TLS_VALIDITY].status is Status.FAIL, "instant ignored"
    assert len(verdicts.reached) == 3


def test_other_anchors_bypass_the_run_table(
    chain_and_anchors: tuple[tuple[bytes, ...], TrustAnchors],
) -> None:
    chain, anchors = chain_and_anchors
    verdicts = CertificateVerdicts(anchors)
    empty = dataclasses.replace(anchors, certificates=())
    findings = judge_certificates(
        _evidence(chain, NAME, "127.0.0.2"), empty, TlsPolicy(), now=NOW, verdicts=verdicts
    )
    assert _by_check(findings)[CheckId.TLS_CHAIN].status is Status.FAIL
    assert verdicts.reached == {}, "a verdict against other anchors was filed in the run's table"
