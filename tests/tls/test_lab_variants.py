"""The lab's server-certificate variants: what is written, and what the verdicts say of it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from probe.tls import pki
from probe.tls.lab import VARIANT_NAMES, Lab, LabFiles, build_lab, build_variants, write_lab
from probe.tls.trust import TrustAnchors, load_trust_anchors
from probe.tls.verify import match_identity, verify_chain

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
DOMAIN = "sip.example.test"
SIP_DOMAIN = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.20")
LOCALHOSTS = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]

CHAIN_LENGTHS = {
    name: 1 if name in ("good", "missing-intermediate", "self-signed") else 2
    for name in VARIANT_NAMES
}


@pytest.fixture(scope="module")
def lab_files(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    return write_lab(tmp_path_factory.mktemp("lab"), now=NOW)


@pytest.fixture(scope="module")
def anchors(lab_files: LabFiles) -> TrustAnchors:
    return load_trust_anchors(lab_files.ca)


def written_chain(lab_files: LabFiles, name: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(lab_files.variants[name].chain.read_bytes())


def ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    return cert.extensions.get_extension_for_class(kind).value


# --- what write_lab puts on disk -------------------------------------------------------


def test_variant_names_are_stable() -> None:
    assert VARIANT_NAMES == (
        "good",
        "good-via-intermediate",
        "missing-intermediate",
        "expired",
        "not-yet-valid",
        "expiring-3-days",
        "wrong-host",
        "self-signed",
        "cn-only",
        "wildcard",
        "rsa-1024",
        "sha1-signed",
        "no-server-auth",
        "sip-domain-only",
    )


def test_every_variant_is_written(lab_files: LabFiles) -> None:
    assert tuple(lab_files.variants) == VARIANT_NAMES
    folders = sorted(path.name for path in (lab_files.directory / "variants").iterdir())
    assert folders == sorted(VARIANT_NAMES)
    intermediate = x509.load_pem_x509_certificate(lab_files.intermediate.read_bytes())
    for name, files in lab_files.variants.items():
        assert files.name == name
        assert files.chain == lab_files.directory / "variants" / name / "chain.pem"
        assert files.key == files.chain.with_name("key.pem")
        assert sorted(p.name for p in files.chain.parent.iterdir()) == ["chain.pem", "key.pem"]
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600, name
        assert stat.S_IMODE(files.chain.stat().st_mode) == 0o644, name
        chain = written_chain(lab_files, name)
        assert len(chain) == CHAIN_LENGTHS[name], name
        if len(chain) == 2:
            assert chain[1] == intermediate, name
        key = load_pem_private_key(files.key.read_bytes(), password=None)
        assert chain[0].public_key() == key.public_key(), name
        assert files.description
        assert files.server_name == {"wrong-host": "other.example.test"}.get(
            name, "*.example.test" if name == "wildcard" else DOMAIN
        )


def test_readme_lists_every_variant(lab_files: LabFiles) -> None:
    readme = lab_files.readme.read_text()
    for files in lab_files.variants.values():
        assert f"{files.name:22} {files.description}" in readme


def test_encrypted_client_key(lab_files: LabFiles) -> None:
    password = lab_files.client_key_password.read_bytes()
    assert password.endswith(b"\n")
    assert password.count(b"\n") == 1
    encrypted = lab_files.client_key_encrypted.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    with pytest.raises(TypeError):  # needs its password
        load_pem_private_key(encrypted, password=None)
    key = load_pem_private_key(encrypted, password=password.strip())
    plain = load_pem_private_key(lab_files.client_key.read_bytes(), password=None)
    assert key.public_key() == plain.public_key()
    for path in (lab_files.client_key_encrypted, lab_files.client_key_password):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_untrusted_client(lab_files: LabFiles) -> None:
    cert = x509.load_pem_x509_certificate(lab_files.untrusted_client.read_bytes())
    key = load_pem_private_key(lab_files.untrusted_client_key.read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    assert stat.S_IMODE(lab_files.untrusted_client_key.stat().st_mode) == 0o600
    assert list(ext(cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    other = x509.load_pem_x509_certificate(lab_files.other_ca.read_bytes())
    root = x509.load_pem_x509_certificate(lab_files.ca.read_bytes())
    assert cert.issuer == other.subject
    verified = (
        PolicyBuilder().store(Store([other])).time(NOW).build_client_verifier().verify(cert, [])
    )
    assert verified.chain == [cert, other]
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([root])).time(NOW).build_client_verifier().verify(cert, [])


# --- the certificates themselves (in memory) -------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Lab:
    return build_lab(now=NOW)


def leaf(lab: Lab, name: str) -> x509.Certificate:
    return lab.variants[name].leaf.cert


def test_default_variant_leaf(lab: Lab) -> None:
    cert = leaf(lab, "good-via-intermediate")
    san = ext(cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"sip:{DOMAIN}"]
    assert san.get_values_for_type(x509.DNSName) == [DOMAIN]
    assert san.get_values_for_type(x509.IPAddress) == LOCALHOSTS
    assert list(ext(cert, x509.ExtendedKeyUsage)) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert cert.issuer == lab.intermediate.cert.subject
    assert cert.not_valid_after_utc == NOW + pki.DEFAULT_LEAF_DAYS * DAY


def test_variant_specifics(lab: Lab) -> None:
    assert leaf(lab, "good").issuer == lab.root.cert.subject
    assert leaf(lab, "self-signed").issuer == leaf(lab, "self-signed").subject
    expired = leaf(lab, "expired")
    assert (expired.not_valid_before_utc, expired.not_valid_after_utc) == (
        NOW - 100 * DAY,
        NOW - 10 * DAY,
    )
    assert leaf(lab, "not-yet-valid").not_valid_before_utc == NOW + 10 * DAY
    assert leaf(lab, "expiring-3-days").not_valid_after_utc == NOW + 3 * DAY
    wrong = ext(leaf(lab, "wrong-host"), x509.SubjectAlternativeName)
    assert [str(name.value) for name in wrong] == ["sip:other.example.test", "other.example.test"]
    with pytest.raises(x509.ExtensionNotFound):
        ext(leaf(lab, "cn-only"), x509.SubjectAlternativeName)
    wildcard = ext(leaf(lab, "wildcard"), x509.SubjectAlternativeName)
    assert [str(name.value) for name in wildcard] == ["*.example.test"]
    key = leaf(lab, "rsa-1024").public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 1024
    sha1 = leaf(lab, "sha1-signed").signature_hash_algorithm
    assert sha1 is not None
    assert sha1.name == "sha1"
    assert list(ext(leaf(lab, "no-server-auth"), x509.ExtendedKeyUsage)) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert list(ext(leaf(lab, "sip-domain-only"), x509.ExtendedKeyUsage)) == [SIP_DOMAIN]


def test_one_key_is_reused_where_the_key_is_not_the_point(lab: Lab) -> None:
    server_key = lab.server.cert.public_key()
    shared = [name for name in VARIANT_NAMES if leaf(lab, name).public_key() == server_key]
    assert shared == [name for name in VARIANT_NAMES if name != "rsa-1024"]


@pytest.mark.parametrize(
    ("server_name", "wildcard"),
    [("sbc.carrier.test", "*.carrier.test"), ("carrier.test", "*.carrier.test")],
)
def test_variants_follow_the_server_name(lab: Lab, server_name: str, wildcard: str) -> None:
    variants = build_variants(
        lab.root,
        lab.intermediate,
        server_name=server_name,
        ip_addresses=(),
        key=lab.server.key,
        now=NOW,
    )
    good = ext(variants["good-via-intermediate"].leaf.cert, x509.SubjectAlternativeName)
    assert [str(name.value) for name in good] == [f"sip:{server_name}", server_name]
    assert variants["wildcard"].server_name == wildcard
    assert variants["wrong-host"].server_name == "other.example.test"
    assert server_name in variants["wrong-host"].description


# --- what the verdicts say about the written files -------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("good", "ok"),
        ("good-via-intermediate", "ok"),
        ("missing-intermediate", "missing_intermediate"),
        ("expired", "expired"),
        ("not-yet-valid", "not_yet_valid"),
        ("expiring-3-days", "ok"),
        ("wrong-host", "ok"),
        ("self-signed", "self_signed"),
        ("cn-only", "ok"),  # the chain is judged without names; identity warns
        ("wildcard", "ok"),
        ("rsa-1024", "ok"),  # the verifier judges issuer keys only; judge_keys fails it
        ("sha1-signed", "weak_signature"),
        ("no-server-auth", "bad_eku"),
        ("sip-domain-only", "ok"),
    ],
)
def test_verify_chain_on_written_variants(
    lab_files: LabFiles, anchors: TrustAnchors, name: str, kind: str
) -> None:
    verdict = verify_chain(written_chain(lab_files, name), anchors, now=NOW)
    assert verdict.reason_kind == kind
    if kind == "ok":
        assert verdict.verified_path[-1] == anchors.certificates[0]


def test_self_signed_variant_verifies_when_pinned(lab_files: LabFiles) -> None:
    pin = load_trust_anchors(lab_files.variants["self-signed"].chain)
    assert verify_chain(written_chain(lab_files, "self-signed"), pin, now=NOW).ok


@pytest.mark.parametrize(
    ("name", "ok", "rfc2818_ok", "matched_by", "warned"),
    [
        ("good", True, True, "uri", False),
        ("wrong-host", False, False, None, False),
        ("wildcard", False, True, "wildcard", False),
        ("cn-only", True, True, "cn", True),
    ],
)
def test_match_identity_on_written_variants(
    lab_files: LabFiles,
    name: str,
    ok: bool,
    rfc2818_ok: bool,
    matched_by: str | None,
    warned: bool,
) -> None:
    verdict = match_identity(written_chain(lab_files, name)[0], domain=DOMAIN)
    assert (verdict.ok, verdict.rfc2818_ok, verdict.matched_by) == (ok, rfc2818_ok, matched_by)
    assert (verdict.warning is not None) == warned
    if name == "wrong-host":
        assert verdict.reason == (
            "certificate is for sip:other.example.test, DNS:other.example.test; "
            "not for sip.example.test"
        )
