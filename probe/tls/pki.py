"""Lab PKI: a root, an intermediate and the leaves a SIP/TLS test bed needs.

Certificates are built with `cryptography` so that the good ones pass its own verifier
(RFC 5280 profile as enforced by `x509.verification`): AKI/SKI on every certificate,
basicConstraints and keyUsage critical, subjectAltName non-critical unless the subject is
empty (RFC 5280 §4.2.1.6). `make_leaf` takes enough knobs to produce every broken variant
the checks must recognise (expired, wrong host, self-signed, CN-only, wildcard, weak key,
SHA-1, sipDomain-only EKU...), so tests never need certificates from elsewhere; `build_lab`
issues one of each (`VARIANT_NAMES`) and `write_lab` puts them under `variants/<name>/`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from probe.tls.certinfo import SIP_DOMAIN_EKU, as_utc, iso_utc

KeyType = Literal["rsa", "ec"]
PrivateKey = CertificateIssuerPrivateKeyTypes
IPAddressLike = ipaddress.IPv4Address | ipaddress.IPv6Address | str

LAB_ORGANIZATION = "sipprobe lab"
CLOCK_SKEW = dt.timedelta(hours=1)
"""Default notBefore backdating, so a peer whose clock runs a little behind still accepts."""
DEFAULT_LEAF_DAYS = 365
DEFAULT_INTERMEDIATE_DAYS = 1825
DEFAULT_SERVER_NAME = "sip.example.test"

# What each variant is, and what a verifier should say about it. {name}, {other} and
# {wildcard} are filled in by `build_variants`.
_VARIANTS = {
    "good": "leaf issued by the root itself, sent alone: all checks pass",
    "good-via-intermediate": "leaf + intermediate, the usual full chain: all checks pass",
    "missing-intermediate": "leaf from the intermediate, sent alone: chain fails",
    "expired": "expired 10 days before generation: chain and validity fail",
    "not-yet-valid": "valid from 10 days after generation: chain and validity fail",
    "expiring-3-days": "expires 3 days after generation: chain ok, validity fails (7-day window)",
    "wrong-host": "SANs for {other} only: chain ok, identity fails for {name}",
    "self-signed": "self-signed leaf: chain fails unless this very certificate is pinned",
    "cn-only": "no subjectAltName, CN {name}: chain refused (no SAN), identity warns",
    "wildcard": "only DNS:{wildcard}: chain ok, RFC 5922 identity fails, RFC 2818 ok",
    "rsa-1024": "1024-bit RSA leaf key: key check fails",
    "sha1-signed": "leaf signed with sha1WithRSAEncryption: chain and signature fail",
    "no-server-auth": "EKU clientAuth only: chain and EKU fail",
    "sip-domain-only": "EKU id-kp-sipDomain only (RFC 5924): chain ok, EKU passes with a note",
}
VARIANT_NAMES: tuple[str, ...] = tuple(_VARIANTS)
"""Every server-certificate variant `build_lab` issues, in a stable order."""
_SENT_ALONE = frozenset({"good", "missing-intermediate", "self-signed"})

# cryptography (>= 45) refuses to *sign* with SHA-1 or MD5. Lab certificates still need such
# signatures to prove the checks reject them, so an RSA issuer signs with SHA-256 and the
# certificate is then re-signed with the legacy hash by swapping the AlgorithmIdentifier. All
# identifiers are 15 bytes (RFC 4055 §5, RFC 3279 §2.2.1: OID + NULL parameters) and an
# RSA PKCS#1 v1.5 signature is as long as the modulus, so every DER length stays the same.
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SIGNING_HASHES = (
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
    hashes.SHA3_224,
    hashes.SHA3_256,
    hashes.SHA3_384,
    hashes.SHA3_512,
)
"""What `CertificateBuilder.sign` itself accepts."""
_RSA_LEGACY_ALGORITHMS: dict[str, bytes] = {
    "sha1": bytes.fromhex("300d06092a864886f70d0101050500"),  # sha1WithRSAEncryption
    "md5": bytes.fromhex("300d06092a864886f70d0101040500"),  # md5WithRSAEncryption
}


@dataclass(frozen=True, slots=True, repr=False)
class Issued:
    """A certificate and its private key. `repr` never shows the key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted: lab material only."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return (
            f"Issued(subject={self.cert.subject.rfc4514_string()!r}, "
            f"serial={self.cert.serial_number:x}, "
            f"not_after={self.cert.not_valid_after_utc.isoformat()})"
        )


@dataclass(frozen=True, slots=True)
class Variant:
    """One server set-up: what the server presents, and what a verifier should conclude."""

    name: str
    description: str
    server_name: str
    """The name the leaf was issued for (`*.…` for the wildcard variant)."""
    leaf: Issued
    chain: tuple[x509.Certificate, ...]
    """Exactly what the server should send, leaf first (never the root)."""

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)


@dataclass(frozen=True, slots=True)
class Lab:
    """The in-memory lab PKI that `write_lab` puts on disk."""

    root: Issued
    intermediate: Issued
    server: Issued
    client: Issued
    other_root: Issued
    untrusted_client: Issued
    """A clientAuth leaf issued by `other_root`: mutual TLS must refuse it."""
    variants: Mapping[str, Variant]
    """Keyed by name, in `VARIANT_NAMES` order."""


@dataclass(frozen=True, slots=True)
class VariantFiles:
    """Where `write_lab` put one variant: `variants/<name>/chain.pem` and `key.pem`."""

    name: str
    chain: Path
    key: Path
    description: str
    server_name: str


@dataclass(frozen=True, slots=True)
class LabFiles:
    """Paths written by `write_lab`."""

    directory: Path
    ca: Path
    """Root certificate: the trust anchor to give the verifier."""
    intermediate: Path
    server: Path
    """Server leaf followed by the intermediate: the bundle a server presents."""
    server_key: Path
    server_leaf: Path
    """Server leaf alone: for 'missing intermediate' set-ups."""
    client: Path
    """Client leaf followed by the intermediate, for mutual TLS."""
    client_key: Path
    other_ca: Path
    """An unrelated root, for 'wrong CA' tests."""
    readme: Path
    untrusted_client: Path
    """A clientAuth leaf issued by the unrelated root: a server must refuse it."""
    untrusted_client_key: Path
    variants: Mapping[str, VariantFiles]
    """One folder per server-certificate variant, keyed by name in `VARIANT_NAMES` order."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def generate_key(key_type: KeyType = "rsa", *, rsa_bits: int = 2048) -> PrivateKey:
    """RSA (e=65537) or EC P-256; cryptography itself refuses RSA below 1024 bits."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def make_root_ca(
    common_name: str,
    *,
    now: dt.datetime | None = None,
    days: int = 3650,
    key: PrivateKey | None = None,
    key_type: KeyType = "rsa",
    hash_alg: hashes.HashAlgorithm | None = None,
) -> Issued:
    """A self-signed root CA (no path length limit); `hash_alg` as for `make_leaf`."""
    now = _aware(now)
    key = key or generate_key(key_type)
    name = _name(common_name)
    builder = _ca_builder(name, name, key, key, None, now - CLOCK_SKEW, now + dt.timedelta(days))
    return Issued(_sign(builder, key, hash_alg or hashes.SHA256()), key)


def make_intermediate_ca(
    issuer: Issued,
    common_name: str,
    *,
    now: dt.datetime | None = None,
    days: int = DEFAULT_INTERMEDIATE_DAYS,
    key: PrivateKey | None = None,
    key_type: KeyType = "rsa",
    hash_alg: hashes.HashAlgorithm | None = None,
) -> Issued:
    """A CA signed by `issuer` that may only issue leaves (pathLenConstraint 0)."""
    now = _aware(now)
    key = key or generate_key(key_type)
    builder = _ca_builder(
        _name(common_name),
        issuer.cert.subject,
        key,
        issuer.key,
        0,
        now - CLOCK_SKEW,
        now + dt.timedelta(days),
    )
    return Issued(_sign(builder, issuer.key, hash_alg or hashes.SHA256()), key)


def make_leaf(
    issuer: Issued | None,
    *,
    common_name: str | None,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[IPAddressLike] = (),
    sip_uris: Sequence[str] = (),
    server_auth: bool = True,
    client_auth: bool = False,
    sip_domain_eku: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_type: KeyType = "rsa",
    rsa_bits: int = 2048,
    hash_alg: hashes.HashAlgorithm | None = None,
    include_san: bool = True,
    key: PrivateKey | None = None,
    now: dt.datetime | None = None,
) -> Issued:
    """An end-entity certificate.

    `issuer=None` makes a self-signed leaf (still basicConstraints cA=FALSE, still with
    an AKI, so it can be pinned as its own trust anchor). `sip_uris` are written as given
    (e.g. "sip:example.test"). When none of the EKU flags is set the extension is left out,
    which RFC 5280 §4.2.1.12 reads as "any purpose". `hash_alg=hashes.SHA1()` (or MD5) is
    supported for RSA issuers only (see `_RSA_LEGACY_ALGORITHMS`). `key` reuses a key, e.g.
    to model two "regions" that share one.
    """
    now = _aware(now)
    key = key or generate_key(key_type, rsa_bits=rsa_bits)
    signer = key if issuer is None else issuer.key
    subject = _name(common_name) if common_name is not None else x509.Name([])
    issuer_name = subject if issuer is None else issuer.cert.subject
    start = _aware(not_before) if not_before is not None else now - CLOCK_SKEW
    end = _aware(not_after) if not_after is not None else now + dt.timedelta(DEFAULT_LEAF_DAYS)

    builder = _base_builder(subject, issuer_name, key, start, end)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_leaf_key_usage(key), critical=True)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
    )
    builder = builder.add_extension(_authority_key_id(issuer, key), critical=False)
    ekus = [
        oid
        for wanted, oid in (
            (server_auth, ExtendedKeyUsageOID.SERVER_AUTH),
            (client_auth, ExtendedKeyUsageOID.CLIENT_AUTH),
            (sip_domain_eku, SIP_DOMAIN_EKU),
        )
        if wanted
    ]
    if ekus:
        # Non-critical: the webpki profile cryptography enforces rejects a critical EKU.
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    names = _general_names(dns_names, ip_addresses, sip_uris)
    if include_san and names:
        # RFC 5280 §4.2.1.6: critical only when the subject is empty.
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=len(subject) == 0
        )
    return Issued(_sign(builder, signer, hash_alg or hashes.SHA256()), key)


def build_lab(
    *,
    server_names: Sequence[str] = ("sip.example.test",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    now: dt.datetime | None = None,
) -> Lab:
    """Root → intermediate → server and client leaves, plus an unrelated root."""
    if not server_names and not ip_addresses:
        raise ValueError("the server certificate needs at least one name or address")
    now = _aware(now)
    root = make_root_ca("sipprobe lab root CA", now=now)
    intermediate = make_intermediate_ca(root, "sipprobe lab intermediate CA", now=now)
    server = make_leaf(
        intermediate,
        common_name=server_names[0] if server_names else str(ip_addresses[0]),
        dns_names=server_names,
        ip_addresses=ip_addresses,
        # RFC 5922 §7.1: a SIP domain identity is best carried as URI:sip:<domain>.
        sip_uris=[f"sip:{name}" for name in server_names],
        # SIP peers open connections in both directions with the same certificate.
        server_auth=True,
        client_auth=True,
        now=now,
    )
    client = make_leaf(
        intermediate,
        common_name="sipprobe-client",
        # cryptography's ClientVerifier (and many SBCs) require a SAN on client certificates.
        dns_names=["sipprobe-client"],
        server_auth=False,
        client_auth=True,
        now=now,
    )
    other_root = make_root_ca("sipprobe unrelated root CA", now=now)
    untrusted_client = make_leaf(
        other_root,
        common_name="sipprobe-untrusted-client",
        dns_names=["sipprobe-untrusted-client"],
        server_auth=False,
        client_auth=True,
        # Same key as the trusted client, so refusing it can only be about the issuer.
        key=client.key,
        now=now,
    )
    variants = build_variants(
        root,
        intermediate,
        server_name=server_names[0] if server_names else DEFAULT_SERVER_NAME,
        ip_addresses=ip_addresses,
        # RSA key generation is the slow part; where the key is not the point, reuse one.
        key=server.key,
        now=now,
    )
    return Lab(root, intermediate, server, client, other_root, untrusted_client, variants)


def build_variants(
    root: Issued,
    intermediate: Issued,
    *,
    server_name: str = DEFAULT_SERVER_NAME,
    ip_addresses: Sequence[IPAddressLike] = ("127.0.0.1", "::1"),
    key: PrivateKey | None = None,
    now: dt.datetime | None = None,
) -> Mapping[str, Variant]:
    """One server certificate per entry of `VARIANT_NAMES`, each broken in one way only.

    Unless a variant is about it, a leaf is issued by `intermediate` for `server_name`
    (SANs `URI:sip:<name>`, `DNS:<name>` and `ip_addresses`), carries serverAuth and
    clientAuth (SIP peers connect both ways with one certificate), is valid from `now` for
    `DEFAULT_LEAF_DAYS`, and uses `key` (RSA-2048, generated once when not given).
    `intermediate` must have an RSA key: the SHA-1 variant is re-signed by hand.
    """
    now = _aware(now)
    key = key or generate_key()
    other = "other.example.test" if server_name != "other.example.test" else "wrong.test"
    # RFC 6125 §6.4.3: the wildcard stands for the left-most label of the name it covers.
    wildcard = "*." + (server_name.split(".", 1)[1] if server_name.count(".") > 1 else server_name)
    day = dt.timedelta(days=1)
    base: dict[str, Any] = {
        "issuer": intermediate,
        "common_name": server_name,
        "dns_names": [server_name],
        "ip_addresses": ip_addresses,
        "sip_uris": [f"sip:{server_name}"],
        "client_auth": True,
        "key": key,
        "now": now,
    }
    changes: dict[str, dict[str, Any]] = {
        "good": {"issuer": root},
        "expired": {"not_before": now - 100 * day, "not_after": now - 10 * day},
        "not-yet-valid": {"not_before": now + 10 * day, "not_after": now + 375 * day},
        "expiring-3-days": {"not_after": now + 3 * day},
        "wrong-host": {"dns_names": [other], "sip_uris": [f"sip:{other}"], "ip_addresses": ()},
        "self-signed": {"issuer": None},
        "cn-only": {"include_san": False},
        "wildcard": {"dns_names": [wildcard], "sip_uris": (), "ip_addresses": ()},
        "rsa-1024": {"key": generate_key(rsa_bits=1024)},
        "sha1-signed": {"hash_alg": hashes.SHA1()},
        "no-server-auth": {"server_auth": False},
        "sip-domain-only": {"server_auth": False, "client_auth": False, "sip_domain_eku": True},
    }
    meant_for = {"wrong-host": other, "wildcard": wildcard}
    variants: dict[str, Variant] = {}
    for name, description in _VARIANTS.items():
        options = base | changes.get(name, {})
        options["common_name"] = meant_for.get(name, server_name)
        issued = make_leaf(**options)
        tail = () if name in _SENT_ALONE else (intermediate.cert,)
        text = description.format(name=server_name, other=other, wildcard=wildcard)
        variants[name] = Variant(
            name, text, meant_for.get(name, server_name), issued, (issued.cert, *tail)
        )
    return MappingProxyType(variants)


_README = """\
sipprobe lab PKI (generated by `sipprobe certs lab`; for testing only, never for production).
ca.pem is the root CA, the trust anchor to pass to sipprobe (--ca ca.pem); intermediate.pem
is the CA that signed both leaves; server.pem is the server leaf followed by the
intermediate, the full chain a server should present, with its key in server.key;
server-leaf.pem is the same leaf alone, for reproducing a server that forgets the
intermediate; client.pem (leaf + intermediate) and client.key are a clientAuth certificate
(CN sipprobe-client) for mutual TLS; untrusted-client.pem/.key are a client certificate from
the unrelated root other-ca.pem, which a server must refuse.
Server names: {names}. Valid until {until}. Keys are unencrypted and readable only by you.

variants/<name>/chain.pem is what a server should present (leaf first) and key.pem its key,
for one certificate broken in one way each (dates count from generation, {generated}):
{variants}
"""


def write_lab(
    directory: Path,
    *,
    server_names: Sequence[str] = ("sip.example.test",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    now: dt.datetime | None = None,
) -> LabFiles:
    """Generate a fresh lab PKI into `directory`, replacing any previous one."""
    lab = build_lab(server_names=server_names, ip_addresses=ip_addresses, now=now)
    directory.mkdir(parents=True, exist_ok=True)
    variant_files: dict[str, VariantFiles] = {}
    for name, variant in lab.variants.items():
        folder = directory / "variants" / name
        variant_files[name] = VariantFiles(
            name, folder / "chain.pem", folder / "key.pem", variant.description, variant.server_name
        )
    files = LabFiles(
        directory=directory,
        ca=directory / "ca.pem",
        intermediate=directory / "intermediate.pem",
        server=directory / "server.pem",
        server_key=directory / "server.key",
        server_leaf=directory / "server-leaf.pem",
        client=directory / "client.pem",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.pem",
        readme=directory / "README.txt",
        untrusted_client=directory / "untrusted-client.pem",
        untrusted_client_key=directory / "untrusted-client.key",
        variants=MappingProxyType(variant_files),
    )
    chain_tail = lab.intermediate.cert_pem()
    _write(files.ca, lab.root.cert_pem())
    _write(files.intermediate, chain_tail)
    _write(files.server, lab.server.cert_pem() + chain_tail)
    _write(files.server_key, lab.server.key_pem(), private=True)
    _write(files.server_leaf, lab.server.cert_pem())
    _write(files.client, lab.client.cert_pem() + chain_tail)
    _write(files.client_key, lab.client.key_pem(), private=True)
    _write(files.other_ca, lab.other_root.cert_pem())
    _write(files.untrusted_client, lab.untrusted_client.cert_pem())
    _write(files.untrusted_client_key, lab.untrusted_client.key_pem(), private=True)
    for name, variant in lab.variants.items():
        written = files.variants[name]
        written.chain.parent.mkdir(parents=True, exist_ok=True)
        _write(written.chain, variant.chain_pem())
        _write(written.key, variant.leaf.key_pem(), private=True)
    names = ", ".join([*server_names, *ip_addresses])
    until = lab.server.cert.not_valid_after_utc.strftime("%Y-%m-%d")
    generated = lab.server.cert.not_valid_before_utc + CLOCK_SKEW
    listing = "\n".join(f"  {v.name:22} {v.description}" for v in lab.variants.values())
    readme = _README.format(
        names=names, until=until, generated=iso_utc(generated), variants=listing
    )
    _write(files.readme, readme.encode())
    return files


# --- building blocks -------------------------------------------------------------------


def _aware(when: dt.datetime | None) -> dt.datetime:
    """Default to now; read a naive datetime as UTC."""
    return utc_now() if when is None else as_utc(when)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, LAB_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _base_builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    issuer_key: PrivateKey,
    path_length: int | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    # RFC 5280 §4.2.1.9 / §4.2.1.3: CA certificates carry critical basicConstraints and
    # keyUsage with keyCertSign (and cRLSign); AKI/SKI let path building match keys.
    return (
        _base_builder(subject, issuer, key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )


def _leaf_key_usage(key: PrivateKey) -> x509.KeyUsage:
    # RFC 5246 RSA key exchange needs keyEncipherment; an EC key only signs (ECDHE).
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(issuer: Issued | None, key: PrivateKey) -> x509.AuthorityKeyIdentifier:
    if issuer is None:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    try:
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _general_names(
    dns_names: Iterable[str], ip_addresses: Iterable[IPAddressLike], sip_uris: Iterable[str]
) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri) for uri in sip_uris]
    names += [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    return names


def _sign(
    builder: x509.CertificateBuilder, key: PrivateKey, hash_alg: hashes.HashAlgorithm
) -> x509.Certificate:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return builder.sign(key, None)  # EdDSA has its hash built in (RFC 8410 §3)
    if isinstance(hash_alg, _SIGNING_HASHES):
        return builder.sign(key, hash_alg)
    legacy = _RSA_LEGACY_ALGORITHMS.get(hash_alg.name)
    if legacy is None or not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"cannot sign with {hash_alg.name} using a {type(key).__name__}")
    return _resign_rsa(builder.sign(key, hashes.SHA256()), key, hash_alg, legacy)


def _resign_rsa(
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey,
    hash_alg: hashes.HashAlgorithm,
    algorithm_id: bytes,
) -> x509.Certificate:
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    # The identifier appears once inside the TBS and once after it (RFC 5280 §4.1.1.2).
    if tbs.count(_SHA256_WITH_RSA) != 1 or der.count(_SHA256_WITH_RSA) != 2:
        raise ValueError("unexpected certificate layout; cannot re-sign")
    new_tbs = tbs.replace(_SHA256_WITH_RSA, algorithm_id)
    signature = key.sign(new_tbs, padding.PKCS1v15(), hash_alg)
    head, tail = der.split(tbs, 1)
    tail = tail.replace(_SHA256_WITH_RSA, algorithm_id).replace(cert.signature, signature)
    return x509.load_der_x509_certificate(head + new_tbs + tail)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Atomic replace; private files are created 0600 and never exist with wider rights."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o600 if private else 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
