"""The lab PKI generator, and certinfo's description of what it generates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from probe.tls import pki
from probe.tls.certinfo import describe_certificate
from probe.tls.lab import VARIANT_NAMES, Lab, LabFiles, build_lab, write_lab

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SIP_DOMAIN = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.20")


@pytest.fixture(scope="module")
def pki_lab() -> Lab:
    return build_lab(now=NOW)


@pytest.fixture(scope="module")
def lab_files(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    return write_lab(tmp_path_factory.mktemp("lab"), now=NOW)


def ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[Any]:
    return cert.extensions.get_extension_for_class(kind)


# --- the certificates pass cryptography's own (default, unrelaxed) verifier -------------


def test_server_chain_passes_default_verifier(pki_lab: Lab) -> None:
    store = Store([pki_lab.root.cert])
    builder = PolicyBuilder().store(store).time(NOW)
    for subject in (
        DNSName("sip.example.test"),
        IPAddress(ipaddress.ip_address("127.0.0.1")),
        IPAddress(ipaddress.ip_address("::1")),
    ):
        path = builder.build_server_verifier(subject).verify(
            pki_lab.server.cert, [pki_lab.intermediate.cert]
        )
        assert path == [pki_lab.server.cert, pki_lab.intermediate.cert, pki_lab.root.cert]


def test_client_certificate_passes_client_verifier(pki_lab: Lab) -> None:
    verifier = PolicyBuilder().store(Store([pki_lab.root.cert])).time(NOW).build_client_verifier()
    verified = verifier.verify(pki_lab.client.cert, [pki_lab.intermediate.cert])
    assert verified.chain[-1] == pki_lab.root.cert
    assert ext(pki_lab.client.cert, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert pki_lab.client.cert.subject.rfc4514_string().startswith("CN=sipprobe-client")


def test_ca_extensions(pki_lab: Lab) -> None:
    root, intermediate = pki_lab.root.cert, pki_lab.intermediate.cert
    assert root.subject == root.issuer
    assert ext(root, x509.BasicConstraints).critical
    assert ext(root, x509.BasicConstraints).value.path_length is None
    assert ext(intermediate, x509.BasicConstraints).value == x509.BasicConstraints(True, 0)
    for cert in (root, intermediate):
        usage = ext(cert, x509.KeyUsage)
        assert usage.critical
        assert usage.value.key_cert_sign
        assert usage.value.crl_sign
        assert not usage.value.digital_signature
    aki = ext(intermediate, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(root, x509.SubjectKeyIdentifier).value.digest


def test_server_leaf_extensions(pki_lab: Lab) -> None:
    leaf = pki_lab.server.cert
    san = ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical  # subject is not empty (RFC 5280 §4.2.1.6)
    assert san.value.get_values_for_type(x509.DNSName) == ["sip.example.test"]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == ["sip:sip.example.test"]
    assert list(ext(leaf, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    usage = ext(leaf, x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert not usage.key_cert_sign
    assert ext(leaf, x509.BasicConstraints).value.ca is False
    aki = ext(leaf, x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier == ext(pki_lab.intermediate.cert, x509.SubjectKeyIdentifier).value.digest
    )


def test_ec_leaf_has_no_key_encipherment(pki_lab: Lab) -> None:
    leaf = pki.make_leaf(
        pki_lab.intermediate, common_name="ec.test", dns_names=["ec.test"], key_type="ec", now=NOW
    )
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)
    usage = ext(leaf.cert, x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_encipherment


def test_empty_subject_makes_san_critical(pki_lab: Lab) -> None:
    leaf = pki.make_leaf(
        pki_lab.intermediate, common_name=None, dns_names=["anon.test"], key_type="ec", now=NOW
    )
    assert len(leaf.cert.subject) == 0
    assert ext(leaf.cert, x509.SubjectAlternativeName).critical


# --- knobs for the broken variants ------------------------------------------------------


def test_validity_window_is_honoured(pki_lab: Lab) -> None:
    start, end = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=1)
    leaf = pki.make_leaf(
        pki_lab.intermediate,
        common_name="old.test",
        dns_names=["old.test"],
        not_before=start,
        not_after=end,
        key_type="ec",
    )
    assert leaf.cert.not_valid_before_utc == start
    assert leaf.cert.not_valid_after_utc == end


def test_default_validity_follows_now(pki_lab: Lab) -> None:
    assert pki_lab.server.cert.not_valid_before_utc == NOW - pki.CLOCK_SKEW
    assert pki_lab.server.cert.not_valid_after_utc == NOW + dt.timedelta(days=pki.DEFAULT_LEAF_DAYS)


def test_self_signed_leaf(pki_lab: Lab) -> None:
    leaf = pki.make_leaf(
        None, common_name="self.test", dns_names=["self.test"], key_type="ec", now=NOW
    )
    assert leaf.cert.subject == leaf.cert.issuer
    assert ext(leaf.cert, x509.BasicConstraints).value.ca is False
    leaf.cert.verify_directly_issued_by(leaf.cert)


def test_cn_only_leaf_has_no_san(pki_lab: Lab) -> None:
    leaf = pki.make_leaf(
        pki_lab.intermediate,
        common_name="cn.test",
        dns_names=["cn.test"],
        include_san=False,
        key_type="ec",
    )
    with pytest.raises(x509.ExtensionNotFound):
        ext(leaf.cert, x509.SubjectAlternativeName)


def test_eku_variants(pki_lab: Lab) -> None:
    sip_only = pki.make_leaf(
        pki_lab.intermediate,
        common_name="s.test",
        server_auth=False,
        sip_domain_eku=True,
        key_type="ec",
    )
    assert list(ext(sip_only.cert, x509.ExtendedKeyUsage).value) == [SIP_DOMAIN]
    none = pki.make_leaf(
        pki_lab.intermediate, common_name="n.test", server_auth=False, key_type="ec"
    )
    with pytest.raises(x509.ExtensionNotFound):  # absent EKU: any purpose (RFC 5280 §4.2.1.12)
        ext(none.cert, x509.ExtendedKeyUsage)


def test_sha1_signature_for_rsa_issuer(pki_lab: Lab) -> None:
    # cryptography refuses to sign with SHA-1; the generator re-signs the TBS itself.
    leaf = pki.make_leaf(
        pki_lab.intermediate,
        common_name="sha1.test",
        dns_names=["sha1.test"],
        hash_alg=hashes.SHA1(),
        key_type="ec",
    )
    assert isinstance(leaf.cert.signature_hash_algorithm, hashes.SHA1)
    issuer_key = pki_lab.intermediate.cert.public_key()
    assert isinstance(issuer_key, rsa.RSAPublicKey)
    issuer_key.verify(
        leaf.cert.signature, leaf.cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )


def test_sha1_with_ec_issuer_is_refused() -> None:
    root = pki.make_root_ca("ec root", key_type="ec", now=NOW)
    with pytest.raises(ValueError, match="sha1"):
        pki.make_leaf(root, common_name="x", hash_alg=hashes.SHA1(), key_type="ec")


@pytest.mark.parametrize("issuer_key", ["rsa", "ec"])
def test_duplicate_extension_is_written_and_signed(issuer_key: pki.KeyType) -> None:
    root = pki.make_root_ca("dup root", key_type=issuer_key, now=NOW)
    leaf = pki.make_leaf(
        root,
        common_name="dup.test",
        dns_names=["dup.test"],
        key_type="ec",
        now=NOW,
        raw_extensions=[pki.raw_subject_alt_name(pki.raw_dns_name("other.test"))],
    ).cert
    with pytest.raises(x509.DuplicateExtension, match=r"2\.5\.29\.17"):
        _ = leaf.extensions
    leaf.verify_directly_issued_by(root.cert)  # the renamed bytes were signed again


def test_raw_subject_alt_name_carries_what_the_builder_refuses(pki_lab: Lab) -> None:
    with pytest.raises(ValueError, match="A-label"):
        x509.DNSName("bücher.test")
    utf8 = pki.make_leaf(
        pki_lab.intermediate,
        common_name=None,
        include_san=False,
        raw_extensions=[pki.raw_subject_alt_name(pki.raw_dns_name("bücher.test"), critical=True)],
    ).cert
    san = ext(utf8, x509.SubjectAlternativeName)
    assert san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["bücher.test"]
    x400 = pki.make_leaf(
        pki_lab.intermediate,
        common_name="x400.test",
        include_san=False,
        raw_extensions=[pki.raw_subject_alt_name(pki.X400_ADDRESS)],
    ).cert
    with pytest.raises(x509.UnsupportedGeneralNameType):
        _ = x400.extensions


def test_weak_rsa_key_and_key_reuse(pki_lab: Lab) -> None:
    weak = pki.make_leaf(pki_lab.intermediate, common_name="weak.test", rsa_bits=1024)
    assert isinstance(weak.key, rsa.RSAPrivateKey)
    assert weak.key.key_size == 1024
    twin = pki.make_leaf(pki_lab.intermediate, common_name="twin.test", key=weak.key)
    assert twin.cert.public_key() == weak.cert.public_key()


def test_repr_never_shows_key(pki_lab: Lab) -> None:
    key = pki_lab.server.key
    assert isinstance(key, rsa.RSAPrivateKey)
    secret = str(key.private_numbers().d)
    for text in (repr(pki_lab.server), repr(pki_lab), str(pki_lab.server)):
        assert "PRIVATE" not in text
        assert secret not in text
        assert secret[:12] not in text
    assert "sip.example.test" in repr(pki_lab.server)


def test_pem_round_trip(pki_lab: Lab) -> None:
    assert x509.load_pem_x509_certificate(pki_lab.server.cert_pem()) == pki_lab.server.cert
    assert pki_lab.server.key_pem().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8


# --- write_lab ---------------------------------------------------------------------------


def test_write_lab_writes_every_file(lab_files: LabFiles) -> None:
    names = sorted(path.name for path in lab_files.directory.iterdir())
    assert names == sorted(
        [
            "README.txt",
            "ca.pem",
            "client-encrypted.key",
            "client-key-password.txt",
            "client.key",
            "client.pem",
            "intermediate.pem",
            "other-ca.pem",
            "server-leaf.pem",
            "server.key",
            "server.pem",
            "untrusted-client.key",
            "untrusted-client.pem",
            "sti",
            "variants",
        ]
    )
    assert sorted(path.name for path in (lab_files.directory / "sti").iterdir()) == [
        "shaken.key",
        "shaken.pem",
        "sti-ca.pem",
    ]
    readme = lab_files.readme.read_text()
    for name in (
        "ca.pem",
        "server.pem",
        "server-leaf.pem",
        "client.pem",
        "client-encrypted.key",
        "client-key-password.txt",
        "other-ca.pem",
        "untrusted-client.pem",
        "sti/sti-ca.pem",
        "sti/shaken.pem",
        "sti/shaken.key",
        *VARIANT_NAMES,
    ):
        assert name in readme


def test_key_files_are_private(lab_files: LabFiles) -> None:
    assert lab_files.sti is not None
    for key in (
        lab_files.server_key,
        lab_files.client_key,
        lab_files.untrusted_client_key,
        lab_files.sti.key,
    ):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab_files.ca.stat().st_mode) == 0o644


def test_server_bundle_is_leaf_then_intermediate(lab_files: LabFiles) -> None:
    bundle = x509.load_pem_x509_certificates(lab_files.server.read_bytes())
    leaf_only = x509.load_pem_x509_certificate(lab_files.server_leaf.read_bytes())
    intermediate = x509.load_pem_x509_certificate(lab_files.intermediate.read_bytes())
    assert bundle == [leaf_only, intermediate]
    root = x509.load_pem_x509_certificate(lab_files.ca.read_bytes())
    other = x509.load_pem_x509_certificate(lab_files.other_ca.read_bytes())
    assert intermediate.issuer == root.subject
    assert other.subject != root.subject


def test_key_matches_certificate(lab_files: LabFiles) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    for cert_path, key_path in (
        (lab_files.server, lab_files.server_key),
        (lab_files.client, lab_files.client_key),
    ):
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
        key = load_pem_private_key(key_path.read_bytes(), password=None)
        assert cert.public_key() == key.public_key()


def test_write_lab_overwrites_and_tightens_modes(tmp_path: Path) -> None:
    stale = tmp_path / "server.key"
    stale.write_text("old")
    stale.chmod(0o644)
    first = write_lab(tmp_path, server_names=("a.test", "b.test"), ip_addresses=(), now=NOW)
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600
    before = first.ca.read_bytes()
    write_lab(tmp_path, now=NOW)
    assert first.ca.read_bytes() != before  # a fresh PKI each time
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temp left


def test_lab_needs_a_name() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_lab(server_names=(), ip_addresses=())


# --- certinfo ----------------------------------------------------------------------------


def test_describe_rsa_leaf(pki_lab: Lab) -> None:
    info = describe_certificate(pki_lab.server.cert, now=NOW)
    assert info.subject == "CN=sip.example.test,O=sipprobe lab"
    assert info.issuer == "CN=sipprobe lab intermediate CA,O=sipprobe lab"
    assert info.serial == f"{pki_lab.server.cert.serial_number:x}"
    assert info.not_before == "2026-03-01T11:00:00Z"
    assert info.not_after == "2027-03-01T12:00:00Z"
    assert info.days_left == 365
    assert info.dns_names == ("sip.example.test",)
    assert info.ip_addresses == ("127.0.0.1", "::1")
    assert info.sip_uris == ("sip:sip.example.test",)
    assert info.common_name == "sip.example.test"
    assert (info.key_type, info.key_bits, info.curve) == ("RSA", 2048, None)
    assert info.signature_hash == "sha256"
    assert info.signature_algorithm == "sha256WithRSAEncryption"
    assert info.self_signed is False
    assert info.is_ca is False
    assert info.eku == ("serverAuth", "clientAuth")
    assert len(info.sha256.split(":")) == 32
    assert info.sha256 == pki_lab.server.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert info.problems == ()


def test_describe_ec_leaf_and_json(pki_lab: Lab) -> None:
    import json

    leaf = pki.make_leaf(
        pki_lab.intermediate,
        common_name="ec.test",
        dns_names=["ec.test"],
        server_auth=False,
        sip_domain_eku=True,
        key_type="ec",
        now=NOW,
    )
    info = describe_certificate(leaf.cert, now=NOW)
    assert (info.key_type, info.key_bits, info.curve) == ("EC", 256, "secp256r1")
    assert info.eku == ("sipDomain",)
    assert info.ip_addresses == ()
    data = info.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["dns_names"] == ["ec.test"]


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (NOW + dt.timedelta(days=364, hours=23), 0),
        (NOW + dt.timedelta(days=365, seconds=1), -1),
        (NOW + dt.timedelta(days=400), -35),
        (NOW.replace(tzinfo=None), 365),  # naive is read as UTC
    ],
)
def test_days_left(pki_lab: Lab, now: dt.datetime, days: int) -> None:
    assert describe_certificate(pki_lab.server.cert, now=now).days_left == days


def test_self_signed_flag(pki_lab: Lab) -> None:
    root = describe_certificate(pki_lab.root.cert, now=NOW)
    assert root.self_signed
    assert root.is_ca
    assert root.eku == ()
    assert not describe_certificate(pki_lab.intermediate.cert, now=NOW).self_signed
    assert not describe_certificate(pki_lab.server.cert, now=NOW).self_signed


def test_same_key_same_public_key_fingerprint(pki_lab: Lab) -> None:
    twin = pki.make_leaf(pki_lab.intermediate, common_name="twin", key=pki_lab.server.key, now=NOW)
    a = describe_certificate(twin.cert, now=NOW)
    b = describe_certificate(pki_lab.server.cert, now=NOW)
    assert a.public_key_sha256 == b.public_key_sha256
    assert a.sha256 != b.sha256
