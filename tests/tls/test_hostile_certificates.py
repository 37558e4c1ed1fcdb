"""Certificates cryptography cannot read, and names a certificate states wrongly.

Every exception cryptography raises on a presented certificate is a failing verdict that
names the certificate and the exception; nothing here may raise. Names are compared as the
certificate states them: no conversion invents a match.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.evidence.model import ProbeEvidence, TlsEvidence
from probe.tls import pki
from probe.tls.quality import judge_eku
from probe.tls.readable import certificate_defect
from probe.tls.trust import TrustAnchors
from probe.tls.verify import match_identity, verify_chain
from probe.verdict.checks.certificate import judge_certificates, load_presented
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import CheckId, Finding, Status
from tests.checks.evidence_factory import TARGET

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DOMAIN = TARGET.host


class Lab:
    def __init__(self) -> None:
        self.root = pki.make_root_ca("Hostile Test Root", now=NOW)
        self.intermediate = pki.make_intermediate_ca(self.root, "Hostile Test CA", now=NOW)
        self.anchors = TrustAnchors((self.root.cert,), "test anchors")

    def leaf(self, **kwargs: object) -> x509.Certificate:
        kwargs.setdefault("common_name", DOMAIN)
        kwargs.setdefault("key_type", "ec")
        kwargs.setdefault("now", NOW)
        return pki.make_leaf(self.intermediate, **kwargs).cert  # type: ignore[arg-type]

    def chain(self, leaf: x509.Certificate) -> list[x509.Certificate]:
        return [leaf, self.intermediate.cert]


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab()


def duplicate_san(lab: Lab) -> x509.Certificate:
    return lab.leaf(
        dns_names=[DOMAIN],
        raw_extensions=[pki.raw_subject_alt_name(pki.raw_dns_name("other.example.test"))],
    )


def x400_san(lab: Lab) -> x509.Certificate:
    return lab.leaf(
        include_san=False,
        raw_extensions=[pki.raw_subject_alt_name(pki.X400_ADDRESS, pki.raw_dns_name(DOMAIN))],
    )


HOSTILE = {
    "duplicate-extension": (duplicate_san, "DuplicateExtension", "RFC 5280 §4.2"),
    "x400-address": (x400_san, "UnsupportedGeneralNameType", "x400Address"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_unreadable_leaf_fails_the_chain_naming_it(lab: Lab, case: str) -> None:
    make, exception, advice = HOSTILE[case]
    leaf = make(lab)
    with pytest.raises((x509.DuplicateExtension, x509.UnsupportedGeneralNameType)) as raised:
        _ = leaf.extensions
    assert type(raised.value).__name__ == exception
    verdict = verify_chain(lab.chain(leaf), lab.anchors, now=NOW)
    assert not verdict.ok
    assert verdict.reason_kind == "unreadable"
    assert verdict.reason is not None
    assert verdict.reason.startswith(f"the leaf certificate #1 (CN={DOMAIN}")
    assert f"cryptography raised {exception} on its extensions" in verdict.reason
    assert advice in verdict.reason
    assert verdict.raw_error is not None
    assert verdict.raw_error.startswith(exception)


@pytest.mark.parametrize("case", list(HOSTILE))
def test_unreadable_leaf_fails_identity_and_eku(lab: Lab, case: str) -> None:
    make, exception, _ = HOSTILE[case]
    leaf = make(lab)
    identity = match_identity(leaf, domain=DOMAIN)
    assert not identity.ok
    assert not identity.rfc2818_ok
    assert identity.reason is not None
    assert exception in identity.reason
    assert "cannot be checked" in identity.reason
    eku = judge_eku(leaf)
    assert eku.status == "fail"
    assert exception in eku.summary


def test_unreadable_intermediate_is_named_by_position(lab: Lab) -> None:
    leaf = lab.leaf(dns_names=[DOMAIN])
    hostile_ca = pki.make_leaf(
        lab.root,
        common_name="Broken CA",
        key_type="ec",
        now=NOW,
        raw_extensions=[pki.RawExtension(x509.BasicConstraints.oid, b"\x30\x03\x01\x01\xff")],
    ).cert
    verdict = verify_chain([leaf, hostile_ca], lab.anchors, now=NOW)
    assert verdict.reason_kind == "unreadable"
    assert verdict.reason is not None
    assert verdict.reason.startswith("the certificate #2 (CN=Broken CA")
    assert "DuplicateExtension" in verdict.reason


def test_defect_free_certificate_has_no_defect(lab: Lab) -> None:
    assert certificate_defect(lab.leaf(dns_names=[DOMAIN])) is None


def evidence_for(chain: list[x509.Certificate]) -> ProbeEvidence:
    der = tuple(cert.public_bytes(serialization.Encoding.DER) for cert in chain)
    tls = TlsEvidence(ok=True, sni=DOMAIN, version="TLSv1.3", presented_chain=der)
    return ProbeEvidence(target=TARGET, started_at="2026-03-01T12:00:00Z", timeout_s=5, tls=tls)


def findings_by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_every_certificate_check_still_reports(lab: Lab, case: str) -> None:
    make, exception, _ = HOSTILE[case]
    findings = judge_certificates(
        evidence_for(lab.chain(make(lab))), lab.anchors, TlsPolicy(), now=NOW
    )
    by_check = findings_by_check(findings)
    assert set(by_check) == {
        CheckId.TLS_CHAIN,
        CheckId.TLS_IDENTITY,
        CheckId.TLS_VALIDITY,
        CheckId.TLS_KEY,
        CheckId.TLS_SIGNATURE,
        CheckId.TLS_EKU,
    }
    for check in (CheckId.TLS_CHAIN, CheckId.TLS_IDENTITY, CheckId.TLS_EKU):
        assert by_check[check].status is Status.FAIL, check
        assert exception in by_check[check].summary, check
    assert by_check[CheckId.TLS_CHAIN].details["reason_kind"] == "unreadable"
    # What does not depend on the unreadable part is still judged.
    assert by_check[CheckId.TLS_VALIDITY].status is Status.PASS


def test_undecodable_der_is_a_finding_naming_the_position(lab: Lab) -> None:
    good = lab.leaf(dns_names=[DOMAIN]).public_bytes(serialization.Encoding.DER)
    certificates, error = load_presented([good, b"\x30\x03\x02\x01\x00"])
    assert len(certificates) == 1
    assert error is not None
    assert "certificate #2" in error
    assert "ValueError" in error
    evidence = evidence_for([lab.leaf(dns_names=[DOMAIN])])
    assert evidence.tls is not None
    broken = replace(evidence, tls=replace(evidence.tls, presented_chain=(b"\x00garbage",)))
    [finding] = judge_certificates(broken, lab.anchors, TlsPolicy(), now=NOW)
    assert finding.check == CheckId.TLS_CHAIN
    assert finding.status is Status.FAIL
    assert "the leaf certificate #1" in finding.summary


# --- names as the certificate states them ----------------------------------------------


@pytest.mark.parametrize("stated", ["bücher.example", "😀.example"])
@pytest.mark.parametrize("dialled", ["xn--bcher-kva.example", "bücher.example", "xn--e28h.example"])
def test_raw_utf8_dns_name_never_matches(lab: Lab, stated: str, dialled: str) -> None:
    leaf = lab.leaf(
        common_name=None,
        include_san=False,
        raw_extensions=[pki.raw_subject_alt_name(pki.raw_dns_name(stated), critical=True)],
    )
    assert verify_chain(lab.chain(leaf), lab.anchors, now=NOW).ok  # a name question only
    verdict = match_identity(leaf, domain=dialled)
    assert not verdict.ok
    assert not verdict.rfc2818_ok
    assert verdict.matched_by is None
    assert verdict.covered_names == (f"DNS:{stated}",)
    assert verdict.reason is not None
    assert "raw UTF-8" in verdict.reason
    assert "RFC 5280 §7.2" in verdict.reason


def test_a_label_in_the_certificate_matches_a_dialled_u_label(lab: Lab) -> None:
    # The dialled name (the reference identifier) may be converted: RFC 6125 §6.4.2.
    leaf = lab.leaf(common_name=None, dns_names=["xn--bcher-kva.example"])
    assert match_identity(leaf, domain="bücher.example").ok
    assert match_identity(leaf, domain="xn--bcher-kva.example").ok


def test_unicode_case_folding_does_not_invent_a_match(lab: Lab) -> None:
    # U+212A KELVIN SIGN lower-cases to ASCII "k" in Python.
    leaf = lab.leaf(
        common_name=None,
        include_san=False,
        raw_extensions=[pki.raw_subject_alt_name(pki.raw_dns_name("\u212aey.example"))],
    )
    assert not match_identity(leaf, domain="key.example").ok


def test_trailing_dot_san_is_an_identity_failure_not_a_chain_failure(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, dns_names=[f"{DOMAIN}."])
    chain = verify_chain(lab.chain(leaf), lab.anchors, now=NOW)
    assert chain.ok, chain.reason
    for dialled in (DOMAIN, f"{DOMAIN}."):
        verdict = match_identity(leaf, domain=dialled)
        assert not verdict.ok
        assert verdict.reason is not None
        assert f"DNS:{DOMAIN}. ends with a dot" in verdict.reason
        assert f"reissue it as DNS:{DOMAIN}" in verdict.reason
    findings = findings_by_check(
        judge_certificates(evidence_for(lab.chain(leaf)), lab.anchors, TlsPolicy(), now=NOW)
    )
    assert findings[CheckId.TLS_CHAIN].status is Status.PASS
    assert findings[CheckId.TLS_IDENTITY].status is Status.FAIL
    assert "ends with a dot" in findings[CheckId.TLS_IDENTITY].summary


def test_trailing_dot_sip_uri_is_named_too(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, sip_uris=["sip:example.com."])
    verdict = match_identity(leaf, domain="example.com")
    assert not verdict.ok
    assert verdict.reason is not None
    assert "sip:example.com. ends with a dot" in verdict.reason


def test_san_present_with_a_matching_cn_fails_identity(lab: Lab) -> None:
    # RFC 5922 §7.1: the CN is read only when there is no subjectAltName at all.
    leaf = lab.leaf(common_name="example.com", sip_uris=["sip:other.example"])
    verdict = match_identity(leaf, domain="example.com")
    assert not verdict.ok
    assert verdict.reason is not None
    assert "Common Name" in verdict.reason


@pytest.mark.parametrize(
    ("constraints", "uri", "ok"),
    [
        (x509.NameConstraints([x509.DNSName("example.test")], None), f"sip:{DOMAIN}", True),
        (x509.NameConstraints([x509.DNSName("elsewhere.test")], None), f"sip:{DOMAIN}", False),
        (x509.NameConstraints(None, [x509.DNSName("example.test")]), f"sip:{DOMAIN}", False),
    ],
    ids=["permitted", "outside-permitted", "excluded"],
)
def test_dns_name_constraints_bind_sip_uri_identities(
    lab: Lab, constraints: x509.NameConstraints, uri: str, ok: bool
) -> None:
    # RFC 5280 lets a CA limited to DNS names sign any URI; for SIP that URI is a domain.
    ca = pki.make_intermediate_ca(
        lab.root, "Constrained CA", key_type="ec", now=NOW, name_constraints=constraints
    )
    leaf = pki.make_leaf(ca, common_name=None, sip_uris=[uri], key_type="ec", now=NOW).cert
    assert verify_chain([leaf, ca.cert], lab.anchors, now=NOW).ok
    findings = findings_by_check(
        judge_certificates(evidence_for([leaf, ca.cert]), lab.anchors, TlsPolicy(), now=NOW)
    )
    identity = findings[CheckId.TLS_IDENTITY]
    assert (identity.status is Status.PASS) is ok, identity.summary
    if not ok:
        assert "outside its authority" in identity.summary
        assert "CN=Constrained CA" in identity.summary
