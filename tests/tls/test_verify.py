"""Chain verdicts and RFC 5922 identity verdicts, on certificates from the lab generator."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from probe.tls import pki
from probe.tls.trust import TrustAnchors
from probe.tls.verify import match_identity, verify_chain

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DOMAIN = "sip.example.test"


class Lab:
    """Every certificate these tests need, generated once for the module."""

    def __init__(self) -> None:
        self.root = pki.make_root_ca("Test Root", now=NOW)
        self.intermediate = pki.make_intermediate_ca(self.root, "Test Intermediate", now=NOW)
        self.other_root = pki.make_root_ca("Other Root", now=NOW, key_type="ec")
        self.anchors = TrustAnchors((self.root.cert,), "test anchors")
        self.other_anchors = TrustAnchors((self.other_root.cert,), "other anchors")

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


@pytest.fixture(scope="module")
def server(lab: Lab) -> x509.Certificate:
    return lab.leaf(
        dns_names=[DOMAIN], ip_addresses=["127.0.0.1", "::1"], sip_uris=[f"sip:{DOMAIN}"]
    )


# --- verify_chain ------------------------------------------------------------------------


def test_full_chain_ok(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain(lab.chain(server), lab.anchors, now=NOW)
    assert verdict.ok
    assert verdict.reason_kind == "ok"
    assert verdict.reason is None
    assert verdict.verified_path == (server, lab.intermediate.cert, lab.root.cert)
    assert verdict.presented_count == 2
    assert verdict.leaf_issuer_presented
    assert not verdict.self_signed_leaf
    assert verdict.raw_error is None


def test_chain_verdict_does_not_depend_on_names(lab: Lab) -> None:
    # Only an IP, or only a wildcard: the verifier is driven by the leaf's own names.
    for leaf in (
        lab.leaf(common_name=None, ip_addresses=["192.0.2.7"]),
        lab.leaf(dns_names=["*.example.test"]),
    ):
        assert verify_chain(lab.chain(leaf), lab.anchors, now=NOW).ok


def test_a_client_certificate_is_verified_for_the_client_role(lab: Lab) -> None:
    # clientAuth alone: a caller's certificate (mutual TLS), never a server's.
    client = lab.leaf(dns_names=["peer.example.test"], server_auth=False, client_auth=True)
    as_client = verify_chain(lab.chain(client), lab.anchors, now=NOW, purpose="client")
    assert as_client.ok, as_client.reason
    as_server = verify_chain(lab.chain(client), lab.anchors, now=NOW)
    assert as_server.reason_kind == "bad_eku"
    server_only = lab.leaf(dns_names=["peer.example.test"])
    refused = verify_chain(lab.chain(server_only), lab.anchors, now=NOW, purpose="client")
    assert refused.reason_kind == "bad_eku"
    assert refused.reason is not None
    assert "neither clientAuth nor id-kp-sipDomain" in refused.reason
    assert "cannot authenticate a SIP client" in refused.reason


def test_a_client_chain_s_refusal_names_the_caller(lab: Lab) -> None:
    client = lab.leaf(dns_names=["peer.example.test"], server_auth=False, client_auth=True)
    verdict = verify_chain([client], lab.anchors, now=NOW, purpose="client")
    assert verdict.reason_kind == "missing_intermediate"
    assert verdict.reason is not None
    assert verdict.reason.startswith("the caller did not send the intermediate certificate")
    empty = verify_chain([], lab.anchors, now=NOW, purpose="client")
    assert empty.reason == "the caller presented no certificate"


def test_leaf_only_is_missing_intermediate(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain([server], lab.anchors, now=NOW)
    assert not verdict.ok
    assert verdict.reason_kind == "missing_intermediate"
    assert verdict.reason is not None
    assert "did not send the intermediate" in verdict.reason
    assert "CN=Test Intermediate" in verdict.reason
    assert not verdict.leaf_issuer_presented
    assert verdict.presented_count == 1
    assert verdict.verified_path == ()
    assert verdict.raw_error  # cryptography's own words are kept


def test_stale_intermediate_with_same_name(lab: Lab, server: x509.Certificate) -> None:
    impostor = pki.make_intermediate_ca(lab.root, "Test Intermediate", now=NOW, key_type="ec")
    verdict = verify_chain([server, impostor.cert], lab.anchors, now=NOW)
    assert verdict.reason_kind == "missing_intermediate"
    assert verdict.reason is not None
    assert "did not sign the leaf" in verdict.reason
    assert not verdict.leaf_issuer_presented


def test_wrong_ca_store_is_unknown_issuer(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain(lab.chain(server), lab.other_anchors, now=NOW)
    assert verdict.reason_kind == "unknown_issuer"
    assert verdict.reason is not None
    assert "CN=Test Root" in verdict.reason
    assert "other anchors" in verdict.reason
    assert verdict.leaf_issuer_presented


def test_server_sends_untrusted_root(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain([*lab.chain(server), lab.root.cert], lab.other_anchors, now=NOW)
    assert verdict.reason_kind == "unknown_issuer"
    assert verdict.reason is not None
    assert "self-signed root CN=Test Root" in verdict.reason


def test_server_sending_the_root_too_is_fine(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain([*lab.chain(server), lab.root.cert], lab.anchors, now=NOW)
    assert verdict.ok
    assert len(verdict.verified_path) == 3


def test_self_signed_leaf(lab: Lab) -> None:
    leaf = pki.make_leaf(None, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW).cert
    verdict = verify_chain([leaf], lab.anchors, now=NOW)
    assert verdict.reason_kind == "self_signed"
    assert verdict.self_signed_leaf
    # Pinned: the same certificate as its own trust anchor verifies.
    pinned = verify_chain([leaf], TrustAnchors((leaf,), "pin"), now=NOW)
    assert pinned.ok
    assert pinned.verified_path == (leaf,)


@pytest.mark.parametrize(
    ("shift", "kind", "words"),
    [
        (dt.timedelta(days=366), "expired", "expired on 2027-03-01T12:00:00Z (1 day before"),
        (dt.timedelta(hours=-2), "not_yet_valid", "not valid before 2026-03-01T11:00:00Z"),
    ],
)
def test_validity(
    lab: Lab, server: x509.Certificate, shift: dt.timedelta, kind: str, words: str
) -> None:
    verdict = verify_chain(lab.chain(server), lab.anchors, now=NOW + shift)
    assert verdict.reason_kind == kind
    assert verdict.reason is not None
    assert "leaf certificate" in verdict.reason
    assert words in verdict.reason


def test_expired_intermediate_is_named(lab: Lab) -> None:
    short = pki.make_intermediate_ca(
        lab.root, "Short Intermediate", now=NOW, days=10, key_type="ec"
    )
    leaf = pki.make_leaf(short, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW).cert
    verdict = verify_chain([leaf, short.cert], lab.anchors, now=NOW + dt.timedelta(days=20))
    assert verdict.reason_kind == "expired"
    assert verdict.reason is not None
    assert "intermediate certificate CN=Short" in verdict.reason


def test_sip_domain_only_eku_passes(lab: Lab) -> None:
    leaf = lab.leaf(dns_names=[DOMAIN], server_auth=False, sip_domain_eku=True)
    assert verify_chain(lab.chain(leaf), lab.anchors, now=NOW).ok


def test_client_auth_only_eku_fails(lab: Lab) -> None:
    leaf = lab.leaf(dns_names=[DOMAIN], server_auth=False, client_auth=True)
    verdict = verify_chain(lab.chain(leaf), lab.anchors, now=NOW)
    assert verdict.reason_kind == "bad_eku"


def test_sha1_signature(lab: Lab) -> None:
    leaf = lab.leaf(dns_names=[DOMAIN], hash_alg=hashes.SHA1())
    verdict = verify_chain(lab.chain(leaf), lab.anchors, now=NOW)
    assert verdict.reason_kind == "weak_signature"
    assert verdict.reason is not None
    assert "sha1" in verdict.reason


def test_weak_issuer_key(lab: Lab) -> None:
    weak = pki.make_intermediate_ca(
        lab.root, "Weak CA", now=NOW, key=pki.generate_key(rsa_bits=1024)
    )
    leaf = pki.make_leaf(weak, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW).cert
    verdict = verify_chain([leaf, weak.cert], lab.anchors, now=NOW)
    assert verdict.reason_kind == "weak_key"
    assert verdict.reason is not None
    assert "1024-bit" in verdict.reason


def test_empty_chain(lab: Lab) -> None:
    verdict = verify_chain([], lab.anchors, now=NOW)
    assert not verdict.ok
    assert verdict.reason_kind == "empty"
    assert verdict.presented_count == 0


def test_sip_uri_only_leaf_passes_chain_and_identity(lab: Lab) -> None:
    # RFC 5922 §7.1's preferred form: the SIP domain as URI:sip:, no dNSName at all.
    leaf = lab.leaf(common_name=None, sip_uris=["sip:example.com"])
    verdict = verify_chain(lab.chain(leaf), lab.anchors, now=NOW)
    assert verdict.ok, verdict.reason
    assert verdict.verified_path == (leaf, lab.intermediate.cert, lab.root.cert)
    identity = match_identity(leaf, domain="example.com")
    assert identity.ok
    assert (identity.matched_by, identity.matched_name) == ("uri", "sip:example.com")
    other = match_identity(leaf, domain="example.net")
    assert not other.ok
    assert other.reason == "certificate is for sip:example.com; not for example.net"


def test_chain_is_judged_without_any_name(lab: Lab) -> None:
    # No subjectAltName: the path is still fine; match_identity decides about the CN.
    leaf = lab.leaf(include_san=False)
    assert verify_chain(lab.chain(leaf), lab.anchors, now=NOW).ok
    nameless = lab.leaf(common_name=None, include_san=False)
    assert verify_chain(lab.chain(nameless), lab.anchors, now=NOW).ok
    assert not match_identity(nameless, domain=DOMAIN).ok


def test_chain_still_refuses_a_ca_not_meant_for_servers(lab: Lab) -> None:
    # The client verifier asks no name; a CA's EKU must still allow serverAuth, as before.
    key = pki.generate_key("ec")
    for ekus, ok in (
        ([ExtendedKeyUsageOID.SERVER_AUTH], True),
        ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], True),
        ([ExtendedKeyUsageOID.CLIENT_AUTH], False),
    ):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EKU CA")]))
            .issuer_name(lab.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(lab.root.key.public_key()),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        )
        ca = pki.Issued(builder.sign(lab.root.key, hashes.SHA256()), key)
        leaf = pki.make_leaf(ca, common_name=DOMAIN, dns_names=[DOMAIN], key_type="ec", now=NOW)
        verdict = verify_chain([leaf.cert, ca.cert], lab.anchors, now=NOW)
        assert verdict.ok is ok, (ekus, verdict.reason)


def test_empty_trust_store(lab: Lab, server: x509.Certificate) -> None:
    verdict = verify_chain(lab.chain(server), TrustAnchors((), "nothing"), now=NOW)
    assert verdict.reason_kind == "unknown_issuer"


def test_naive_now_is_utc(lab: Lab, server: x509.Certificate) -> None:
    assert verify_chain(lab.chain(server), lab.anchors, now=NOW.replace(tzinfo=None)).ok


# --- match_identity ----------------------------------------------------------------------


def test_uri_san_preferred(server: x509.Certificate) -> None:
    verdict = match_identity(server, domain=DOMAIN)
    assert verdict.ok
    assert verdict.rfc2818_ok
    assert (verdict.matched_by, verdict.matched_name) == ("uri", "sip:sip.example.test")
    assert verdict.reason is None
    assert verdict.warning is None


@pytest.mark.parametrize("domain", ["sip.example.test", "SIP.Example.TEST", "sip.example.test."])
def test_dns_exact(lab: Lab, domain: str) -> None:
    leaf = lab.leaf(dns_names=["Sip.Example.Test"])
    verdict = match_identity(leaf, domain=domain)
    assert verdict.ok
    assert verdict.matched_by == "dns"
    assert verdict.matched_name == "DNS:sip.example.test"


@pytest.mark.parametrize(
    ("domain", "name"),
    [("127.0.0.1", "IP:127.0.0.1"), ("::1", "IP:::1"), ("[::1]", "IP:::1"), ("0:0::1", "IP:::1")],
)
def test_ip_literals(server: x509.Certificate, domain: str, name: str) -> None:
    verdict = match_identity(server, domain=domain)
    assert verdict.ok
    assert verdict.rfc2818_ok
    assert (verdict.matched_by, verdict.matched_name) == ("ip", name)
    assert verdict.warning is not None
    assert "RFC 5922 §7.2" in verdict.warning


def test_ip_literal_never_matches_dns_names(lab: Lab) -> None:
    leaf = lab.leaf(dns_names=["192.0.2.1"], sip_uris=["sip:192.0.2.1"])
    verdict = match_identity(leaf, domain="192.0.2.1")
    assert not verdict.ok
    assert not verdict.rfc2818_ok
    assert verdict.matched_by is None


def test_wrong_host_lists_covered_names(server: x509.Certificate) -> None:
    verdict = match_identity(server, domain="wrong.example.test")
    assert not verdict.ok
    assert not verdict.rfc2818_ok
    assert verdict.covered_names == (
        "sip:sip.example.test",
        "DNS:sip.example.test",
        "IP:127.0.0.1",
        "IP:::1",
    )
    assert verdict.reason == (
        "certificate is for sip:sip.example.test, DNS:sip.example.test, IP:127.0.0.1, IP:::1; "
        "not for wrong.example.test"
    )
    assert not match_identity(server, domain="192.0.2.99").ok


@pytest.fixture(scope="module")
def wildcard(lab: Lab) -> x509.Certificate:
    return lab.leaf(common_name=None, dns_names=["*.example.test"])


def test_wildcard_is_rfc2818_only(wildcard: x509.Certificate) -> None:
    verdict = match_identity(wildcard, domain="sip.example.test")
    assert not verdict.ok
    assert verdict.rfc2818_ok
    assert (verdict.matched_by, verdict.matched_name) == ("wildcard", "DNS:*.example.test")
    assert verdict.reason is not None
    assert "RFC 5922 §7.2" in verdict.reason


@pytest.mark.parametrize("domain", ["a.b.example.test", "example.test", ".example.test"])
def test_wildcard_covers_exactly_one_label(wildcard: x509.Certificate, domain: str) -> None:
    verdict = match_identity(wildcard, domain=domain)
    assert not verdict.ok
    assert not verdict.rfc2818_ok
    assert verdict.matched_by is None


def test_wildcard_over_a_tld_is_refused(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, dns_names=["*.test"])
    assert not match_identity(leaf, domain="example.test").rfc2818_ok


def test_cn_only_matches_with_warning(lab: Lab) -> None:
    verdict = match_identity(lab.leaf(include_san=False), domain=DOMAIN)
    assert verdict.ok
    assert verdict.rfc2818_ok
    assert (verdict.matched_by, verdict.matched_name) == ("cn", "CN:sip.example.test")
    assert verdict.warning is not None
    assert "RFC 5922 §7.1" in verdict.warning
    assert "subjectAltName" in verdict.warning
    assert verdict.covered_names == ("CN:sip.example.test",)


def test_cn_ignored_when_san_present(lab: Lab) -> None:
    verdict = match_identity(lab.leaf(dns_names=["other.example.test"]), domain=DOMAIN)
    assert not verdict.ok
    assert not verdict.rfc2818_ok
    assert "CN:sip.example.test" not in verdict.covered_names


def test_user_part_uri_does_not_count(lab: Lab) -> None:
    leaf = lab.leaf(
        common_name=None, sip_uris=[f"sip:alice@{DOMAIN}"], dns_names=["other.example.test"]
    )
    verdict = match_identity(leaf, domain=DOMAIN)
    assert not verdict.ok
    assert verdict.covered_names == ("DNS:other.example.test",)
    assert verdict.reason is not None
    assert f"sip:alice@{DOMAIN} names it" in verdict.reason
    # A user URI is no SIP identity, so it does not shadow the dNSName either.
    both = lab.leaf(common_name=None, sip_uris=[f"sip:alice@{DOMAIN}"], dns_names=[DOMAIN])
    assert match_identity(both, domain=DOMAIN).matched_by == "dns"


def test_uri_port_and_parameters_are_ignored(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, sip_uris=[f"SIP:{DOMAIN.upper()}:5061;transport=tls"])
    verdict = match_identity(leaf, domain=DOMAIN)
    assert verdict.ok
    assert verdict.matched_by == "uri"


def test_sips_uri_is_not_a_sip_domain_identity(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, sip_uris=[f"sips:{DOMAIN}"], dns_names=["x.example.test"])
    verdict = match_identity(leaf, domain=DOMAIN)
    assert not verdict.ok
    assert verdict.reason is not None
    assert "only sip: URIs" in verdict.reason


def test_dns_name_shadowed_by_other_uri_identity(lab: Lab) -> None:
    # RFC 5922 §7.1: dNSName counts only when no sip: URI identity exists.
    leaf = lab.leaf(common_name=None, sip_uris=["sip:other.example.test"], dns_names=[DOMAIN])
    verdict = match_identity(leaf, domain=DOMAIN)
    assert not verdict.ok
    assert verdict.rfc2818_ok
    assert verdict.matched_by == "dns"


def test_no_identity_at_all(lab: Lab) -> None:
    leaf = lab.leaf(common_name=None, include_san=False)
    verdict = match_identity(leaf, domain=DOMAIN)
    assert not verdict.ok
    assert verdict.covered_names == ()
    assert verdict.reason is not None
    assert "no identity" in verdict.reason


@pytest.mark.parametrize(
    "domain",
    ["sip.example.test", "SIP.example.test", "wrong.example.test", "127.0.0.1", "::1", "192.0.2.1"],
)
def test_rfc2818_verdict_agrees_with_cryptography(
    lab: Lab, server: x509.Certificate, wildcard: x509.Certificate, domain: str
) -> None:
    for leaf in (server, wildcard):
        try:
            subject: DNSName | IPAddress = IPAddress(ipaddress.ip_address(domain))
        except ValueError:
            subject = DNSName(domain)
        verifier = (
            PolicyBuilder().store(Store([lab.root.cert])).time(NOW).build_server_verifier(subject)
        )
        try:
            verifier.verify(leaf, [lab.intermediate.cert])
            accepted = True
        except VerificationError:
            accepted = False
        assert match_identity(leaf, domain=domain).rfc2818_ok is accepted
