"""How certificate findings read: an expired certificate's age, and each certificate once."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.evidence.model import ProbeEvidence, TlsEvidence
from probe.report.console import render_console
from probe.report.model import Report, TargetResult
from probe.tls import pki
from probe.tls.certinfo import describe_certificate, expired_days_ago
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.certificate import judge_certificates
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import CheckId, Finding
from tests.checks.evidence_factory import TARGET

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
DOMAIN = TARGET.host


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.make_root_ca("Report Root", key_type="ec", now=NOW - 4000 * DAY, days=8000)


def findings_for(chain: list[x509.Certificate], anchors: TrustAnchors) -> dict[str, Finding]:
    der = tuple(cert.public_bytes(serialization.Encoding.DER) for cert in chain)
    evidence = ProbeEvidence(
        target=TARGET,
        started_at="2026-03-01T12:00:00Z",
        timeout_s=5,
        tls=TlsEvidence(ok=True, sni=DOMAIN, version="TLSv1.3", presented_chain=der),
    )
    findings = judge_certificates(evidence, anchors, TlsPolicy(), now=NOW)
    return {finding.check: finding for finding in findings}


def console_text(findings: dict[str, Finding]) -> str:
    report = Report(
        command="options",
        started_at="2026-03-01T12:00:00Z",
        duration_ms=1.0,
        results=(TargetResult(TARGET, tuple(findings.values())),),
    )
    out = io.StringIO()
    render_console(report, out, color=False, verbose=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("not_after", "expected"),
    [(NOW - 2167 * DAY - dt.timedelta(hours=3), 2167), (NOW - dt.timedelta(hours=1), 0)],
)
def test_expired_certificate_says_how_long_ago(
    root: pki.Issued, not_after: dt.datetime, expected: int
) -> None:
    leaf = pki.make_leaf(
        root,
        common_name=DOMAIN,
        dns_names=[DOMAIN],
        key_type="ec",
        not_before=NOW - 3000 * DAY,
        not_after=not_after,
    ).cert
    assert expired_days_ago(leaf, now=NOW) == expected
    info = describe_certificate(leaf, now=NOW)
    assert info.expired_days_ago == expected
    assert info.days_left < 0
    findings = findings_for([leaf], TrustAnchors((root.cert,), "report root"))
    chain_rows = findings[CheckId.TLS_CHAIN].details["chain"]
    assert isinstance(chain_rows, list)
    # The chain fails (expired), so the tree holds what was sent: the leaf alone.
    assert [row["expired_days_ago"] for row in chain_rows if isinstance(row, dict)] == [expected]
    text = " ".join(console_text(findings).split())
    wording = "expired less than a day ago" if expected == 0 else f"expired {expected} days ago"
    assert wording in text
    assert "days left" not in text
    assert f"{info.days_left} day" not in text


def test_valid_certificate_still_says_days_left(root: pki.Issued) -> None:
    leaf = pki.make_leaf(root, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW)
    assert expired_days_ago(leaf.cert, now=NOW) is None
    assert expired_days_ago(leaf.cert, now=leaf.cert.not_valid_after_utc) is None  # inclusive
    findings = findings_for([leaf.cert], TrustAnchors((root.cert,), "report root"))
    text = " ".join(console_text(findings).split())
    assert f"({pki.DEFAULT_LEAF_DAYS} days left)" in text
    assert "expired" not in text


def test_a_root_the_server_also_sent_is_judged_once(root: pki.Issued) -> None:
    intermediate = pki.make_intermediate_ca(root, "Report CA", key_type="ec", now=NOW)
    leaf = pki.make_leaf(
        intermediate, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW
    ).cert
    sent = [leaf, intermediate.cert, root.cert]
    findings = findings_for(sent, TrustAnchors((root.cert,), "report root"))
    assert findings[CheckId.TLS_CHAIN].status.value == "pass"
    keys = findings[CheckId.TLS_KEY].details["keys"]
    assert isinstance(keys, list)
    subjects = [key["subject"] for key in keys if isinstance(key, dict)]
    assert subjects == [cert.subject.rfc4514_string() for cert in sent]  # chain order, once
    assert findings[CheckId.TLS_KEY].summary.count("Report Root") == 1
    windows = findings[CheckId.TLS_VALIDITY].details["certificates"]
    assert isinstance(windows, list)
    assert len(windows) == 3
