"""Lab PKI: a root, an intermediate and the leaves a SIP/TLS test bed needs.

Certificates are built with `cryptography` so that the good ones pass its own verifier
(RFC 5280 profile as enforced by `x509.verification`): AKI/SKI on every certificate,
basicConstraints and keyUsage critical, subjectAltName non-critical unless the subject is
empty (RFC 5280 §4.2.1.6). `make_leaf` takes enough knobs to produce every broken variant
the checks must recognise (expired, wrong host, self-signed, CN-only, wildcard, weak key,
SHA-1, sipDomain-only EKU...), so tests never need certificates from elsewhere;
`probe.tls.lab` issues one of each and writes them to disk. `RawExtension` writes what
cryptography's builder refuses to (a second copy of an extension, a subjectAltName with a
UTF-8 dNSName or an x400Address), for the hostile certificates a verifier must survive.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from probe.tls.certinfo import SIP_DOMAIN_EKU, as_utc

KeyType = Literal["rsa", "ec"]
PrivateKey = CertificateIssuerPrivateKeyTypes
IPAddressLike = ipaddress.IPv4Address | ipaddress.IPv6Address | str

LAB_ORGANIZATION = "sipprobe lab"
CLOCK_SKEW = dt.timedelta(hours=1)
"""Default notBefore backdating, so a peer whose clock runs a little behind still accepts."""
DEFAULT_LEAF_DAYS = 365
DEFAULT_INTERMEDIATE_DAYS = 1825
DEFAULT_SERVER_NAME = "sip.example.test"

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


@dataclass(frozen=True, slots=True)
class RawExtension:
    """An extension written byte for byte, even where cryptography's builder would refuse it.

    An OID the certificate already carries is written a second time (RFC 5280 §4.2 forbids
    that; a verifier must still survive it).
    """

    oid: x509.ObjectIdentifier
    value: bytes
    """DER of the extension value: what extnValue's OCTET STRING wraps."""
    critical: bool = False


def der_tlv(tag: int, content: bytes) -> bytes:
    """One DER element (X.690 §8.1): tag, definite length, content."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def raw_dns_name(name: str) -> bytes:
    """A dNSName GeneralName ([2] IA5String) holding `name`'s UTF-8 bytes as they are,
    which is how a misissued certificate carries a U-label (RFC 5280 §7.2 wants A-labels)."""
    return der_tlv(0x82, name.encode("utf-8"))


X400_ADDRESS = der_tlv(0xA3, der_tlv(0x30, b""))
"""An x400Address GeneralName ([3] ORAddress) with empty standard attributes."""


def raw_subject_alt_name(*general_names: bytes, critical: bool = False) -> RawExtension:
    """A subjectAltName of the given DER GeneralNames (`raw_dns_name`, `X400_ADDRESS`...)."""
    return RawExtension(
        x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        der_tlv(0x30, b"".join(general_names)),
        critical,
    )


@dataclass(frozen=True, slots=True, repr=False)
class Issued:
    """A certificate and its private key. `repr` never shows the key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8, unencrypted (lab material only), or encrypted with `password` (PBES2
        with AES-256-CBC, cryptography's best available)."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if password is None
            else serialization.BestAvailableEncryption(password)
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def __repr__(self) -> str:
        return (
            f"Issued(subject={self.cert.subject.rfc4514_string()!r}, "
            f"serial={self.cert.serial_number:x}, "
            f"not_after={self.cert.not_valid_after_utc.isoformat()})"
        )


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
    name_constraints: x509.NameConstraints | None = None,
) -> Issued:
    """A self-signed root CA (no path length limit); `hash_alg` as for `make_leaf`.

    `name_constraints` (critical, RFC 5280 §4.2.1.10) limits the names below it."""
    now = aware_utc(now)
    key = key or generate_key(key_type)
    name = _name(common_name)
    builder = _ca_builder(name, name, key, key, None, now - CLOCK_SKEW, now + dt.timedelta(days))
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
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
    name_constraints: x509.NameConstraints | None = None,
) -> Issued:
    """A CA signed by `issuer` that may only issue leaves (pathLenConstraint 0);
    `name_constraints` as for `make_root_ca`."""
    now = aware_utc(now)
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
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
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
    raw_extensions: Sequence[RawExtension] = (),
) -> Issued:
    """An end-entity certificate.

    `issuer=None` makes a self-signed leaf (still basicConstraints cA=FALSE, still with
    an AKI, so it can be pinned as its own trust anchor). `sip_uris` are written as given
    (e.g. "sip:example.test"). When none of the EKU flags is set the extension is left out,
    which RFC 5280 §4.2.1.12 reads as "any purpose". `hash_alg=hashes.SHA1()` (or MD5) is
    supported for RSA issuers only (see `_RSA_LEGACY_ALGORITHMS`). `key` reuses a key, e.g.
    to model two "regions" that share one. `raw_extensions` are added last, as given.
    """
    now = aware_utc(now)
    key = key or generate_key(key_type, rsa_bits=rsa_bits)
    signer = key if issuer is None else issuer.key
    subject = _name(common_name) if common_name is not None else x509.Name([])
    issuer_name = subject if issuer is None else issuer.cert.subject
    start = aware_utc(not_before) if not_before is not None else now - CLOCK_SKEW
    end = aware_utc(not_after) if not_after is not None else now + dt.timedelta(DEFAULT_LEAF_DAYS)

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
    written = [
        x509.BasicConstraints.oid,
        x509.KeyUsage.oid,
        x509.SubjectKeyIdentifier.oid,
        x509.AuthorityKeyIdentifier.oid,
        *([x509.ExtendedKeyUsage.oid] if ekus else []),
        *([x509.SubjectAlternativeName.oid] if include_san and names else []),
    ]
    builder, renames = _add_raw_extensions(builder, written, raw_extensions)
    cert = _sign(builder, signer, hash_alg or hashes.SHA256())
    if renames:
        cert = _rename_and_resign(cert, signer, hash_alg or hashes.SHA256(), renames)
    return Issued(cert, key)


def aware_utc(when: dt.datetime | None) -> dt.datetime:
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


# --- raw extensions -----------------------------------------------------------------------
# The builder refuses a second extension with the same OID, so the copy is written under a
# stand-in OID of the same encoded length, renamed in the signed bytes, and signed again.


def _add_raw_extensions(
    builder: x509.CertificateBuilder,
    written: Iterable[x509.ObjectIdentifier],
    raw_extensions: Sequence[RawExtension],
) -> tuple[x509.CertificateBuilder, list[tuple[bytes, bytes]]]:
    taken = {_oid_der(oid) for oid in written}
    renames: list[tuple[bytes, bytes]] = []
    for raw in raw_extensions:
        wanted = _oid_der(raw.oid)
        oid = raw.oid
        if wanted in taken:
            stand_in = _stand_in_oid(wanted, taken)
            renames.append((stand_in, wanted))
            oid = x509.ObjectIdentifier(_oid_dotted(stand_in))
        taken.add(_oid_der(oid))
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, raw.value), raw.critical)
    return builder, renames


def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
    """The OBJECT IDENTIFIER element (X.690 §8.19)."""
    arcs = [int(arc) for arc in oid.dotted_string.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return der_tlv(0x06, bytes(body))


def _oid_dotted(element: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in element[2:]:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _stand_in_oid(element: bytes, taken: set[bytes]) -> bytes:
    for last in range(0x7F, 0, -1):  # change only the final sub-identifier byte
        candidate = element[:-1] + bytes([last])
        if candidate not in taken:
            return candidate
    raise ValueError("no stand-in OID available")


def _rename_and_resign(
    cert: x509.Certificate,
    key: PrivateKey,
    hash_alg: hashes.HashAlgorithm,
    renames: Sequence[tuple[bytes, bytes]],
) -> x509.Certificate:
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    for stand_in, wanted in renames:
        if tbs.count(stand_in) != 1:
            raise ValueError("unexpected certificate layout; cannot rename the extension")
        tbs = tbs.replace(stand_in, wanted)
    # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    # (RFC 5280 §4.1); the algorithm identifier is kept, the signature made again.
    after_tbs = der[der.index(cert.tbs_certificate_bytes) + len(cert.tbs_certificate_bytes) :]
    algorithm = after_tbs[: _element_length(after_tbs)]
    signature = _signature(key, tbs, hash_alg)
    body = tbs + algorithm + der_tlv(0x03, b"\x00" + signature)
    return x509.load_der_x509_certificate(der_tlv(0x30, body))


def _element_length(data: bytes) -> int:
    """Total length of the DER element at the start of `data`."""
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def _signature(key: PrivateKey, data: bytes, hash_alg: hashes.HashAlgorithm) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_alg)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_alg))
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    raise ValueError(f"cannot sign with a {type(key).__name__}")
