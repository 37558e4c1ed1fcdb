"""Pure description of certificates, as JSON-friendly data.

`describe_certificate` describes one certificate, `chain_tree` a chain as rows for the
console tree and the JSON report. No I/O and no clock: the caller passes `now`. The small
helpers here (signature check, self-signed test, name formatting) are shared with
`probe.tls.verify` and `probe.tls.quality`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
    x448,
    x25519,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from probe.tls.readable import is_read_failure

_E = TypeVar("_E", bound=x509.ExtensionType)
TreeRole = Literal["leaf", "intermediate", "anchor", "extra"]

SIP_DOMAIN_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.20")
"""id-kp-sipDomain (RFC 5924)."""

EKU_NAMES: dict[x509.ObjectIdentifier, str] = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    SIP_DOMAIN_EKU: "sipDomain",
}

# RFC 3279 / RFC 4055 / RFC 5758 / RFC 8410 names for the signature algorithms in use.
SIGNATURE_ALGORITHM_NAMES: dict[x509.ObjectIdentifier, str] = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "sha224WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.RSASSA_PSS: "RSASSA-PSS",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ecdsa-with-SHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: "ecdsa-with-SHA224",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.ED25519: "Ed25519",
    SignatureAlgorithmOID.ED448: "Ed448",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "dsa-with-sha1",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "dsa-with-sha256",
}


# CA/B Forum BR §6.1.5 allows exactly these curves, and RFC 8446 §4.2.3 defines ECDSA
# signature schemes for them, so every TLS stack knows them.
NIST_CURVE_NAMES: dict[str, str] = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What a report shows about one certificate. Every field is JSON-serialisable."""

    subject: str
    """RFC 4514 string, most specific RDN first (e.g. `CN=sip.example.test,O=Lab`)."""
    issuer: str
    serial: str
    """Lower-case hex, no prefix."""
    not_before: str
    """ISO 8601 UTC (`2025-01-31T12:00:00Z`)."""
    not_after: str
    days_left: int
    """Whole days from `now` to notAfter, rounded down; negative once expired."""
    expired_days_ago: int | None
    """Whole days since notAfter, rounded down, once expired; None until then."""
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    sip_uris: tuple[str, ...]
    """Every URI subjectAltName, sip: or not, as written in the certificate."""
    common_name: str | None
    key_type: str
    """`RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, or `unknown`."""
    key_bits: int | None
    curve: str | None
    signature_hash: str | None
    """`sha256`, `sha1`...; None for EdDSA or an algorithm cryptography does not know."""
    signature_algorithm: str
    """Well-known name (e.g. `sha256WithRSAEncryption`), else the dotted OID."""
    self_signed: bool
    is_ca: bool
    eku: tuple[str, ...]
    """Well-known names (`serverAuth`, `clientAuth`, `sipDomain`...) or dotted OIDs."""
    sha256: str
    """Certificate fingerprint, upper-case hex pairs joined by colons."""
    public_key_sha256: str
    """Fingerprint of the SubjectPublicKeyInfo: equal values mean a shared key."""
    problems: tuple[str, ...] = ()
    """Extensions that could not be parsed; the fields they feed are left empty."""

    def to_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }


def describe_certificate(cert: x509.Certificate, *, now: dt.datetime) -> CertificateInfo:
    """Everything a report shows about `cert`, with `days_left` counted from `now`."""
    problems: list[str] = []
    san = _extension(cert, x509.SubjectAlternativeName, problems)
    constraints = _extension(cert, x509.BasicConstraints, problems)
    eku = _extension(cert, x509.ExtendedKeyUsage, problems)
    key_type, key_bits, curve = key_description(cert)
    not_after = cert.not_valid_after_utc
    return CertificateInfo(
        subject=format_name(cert.subject),
        issuer=format_name(cert.issuer),
        serial=f"{cert.serial_number:x}",
        not_before=iso_utc(cert.not_valid_before_utc),
        not_after=iso_utc(not_after),
        days_left=days_left(cert, now=now),
        expired_days_ago=expired_days_ago(cert, now=now),
        dns_names=tuple(san.get_values_for_type(x509.DNSName)) if san else (),
        ip_addresses=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        if san
        else (),
        sip_uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)) if san else (),
        common_name=common_name(cert),
        key_type=key_type,
        key_bits=key_bits,
        curve=curve,
        signature_hash=signature_hash_name(cert),
        signature_algorithm=signature_algorithm_name(cert),
        self_signed=is_self_signed(cert),
        is_ca=bool(constraints and constraints.ca),
        eku=tuple(EKU_NAMES.get(oid, oid.dotted_string) for oid in eku) if eku else (),
        sha256=_colon_hex(cert.fingerprint(hashes.SHA256())),
        public_key_sha256=_public_key_fingerprint(cert),
        problems=tuple(problems),
    )


# --- chain tree ------------------------------------------------------------------------
# Rows for the console chain tree and the JSON report; `probe.tls.quality` re-exports them.


def key_text(cert: x509.Certificate) -> str:
    """`RSA 2048`, `EC P-256`, `Ed25519`...: the key as a report shows it."""
    key_type, bits, curve = key_description(cert)
    if key_type == "EC":
        return f"EC {NIST_CURVE_NAMES.get(curve or '', curve or 'unknown curve')}"
    if key_type in ("RSA", "DSA") and bits is not None:
        return f"{key_type} {bits}"
    return key_type


def chain_tree(
    presented: Sequence[x509.Certificate],
    verified_path: Sequence[x509.Certificate],
    *,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """One JSON-friendly row per certificate, leaf → … → anchor, then what else was sent.

    With a verified path the rows follow it (the anchor last, `presented` telling whether
    the server sent it too) and any certificate the server sent that is not on the path
    follows as `extra`. Without one the rows keep the order the server sent: a certificate
    that signed the one before it in that walk is an `intermediate`, anything else `extra`.
    """
    now = as_utc(now)
    sent = list(presented)
    rows: list[tuple[TreeRole, x509.Certificate]] = []
    if verified_path:
        path = list(verified_path)
        for index, cert in enumerate(path):
            last = index == len(path) - 1 and index > 0
            rows.append(("leaf" if index == 0 else "anchor" if last else "intermediate", cert))
        rows += [("extra", cert) for cert in _unique(sent) if cert not in path]
    elif sent:
        linked = _signature_walk(sent)
        rows.append(("leaf", sent[0]))
        for cert in _unique(sent[1:]):
            if cert != sent[0]:
                rows.append(("intermediate" if cert in linked else "extra", cert))
    return [_row(role, cert, cert in sent, now) for role, cert in rows]


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    unique: list[x509.Certificate] = []
    for cert in certs:
        if cert not in unique:
            unique.append(cert)
    return unique


def _signature_walk(sent: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates reached from the leaf, each one's key having signed the one before."""
    walk = [sent[0]]
    while len(walk) <= len(sent):
        issuer = next((c for c in sent if c not in walk and signed_by(walk[-1], c)), None)
        if issuer is None:
            break
        walk.append(issuer)
    return walk[1:]


def _row(
    role: TreeRole, cert: x509.Certificate, presented: bool, now: dt.datetime
) -> dict[str, Any]:
    return {
        "role": role,
        "subject": format_name(cert.subject),
        "issuer": format_name(cert.issuer),
        "common_name": common_name(cert),
        "not_before": iso_utc(cert.not_valid_before_utc),
        "not_after": iso_utc(cert.not_valid_after_utc),
        "days_left": days_left(cert, now=now),
        "expired_days_ago": expired_days_ago(cert, now=now),
        "key": key_text(cert),
        "signature": signature_algorithm_name(cert),
        "self_signed": is_self_signed(cert),
        "presented": presented,
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


# --- SIP identities (RFC 5922 §7.1) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipIdentities:
    """The identities a certificate claims, sorted by RFC 5922 §7.1's rules."""

    san_present: bool
    sip_domains: tuple[str, ...]
    """Hosts of `sip:` URIs without a user part: SIP domain identities proper.

    Every name here is as stated in the certificate (see `presented_name`)."""
    non_identity_uris: tuple[tuple[str, str], ...]
    """(uri, host) of `sips:` or user-part URIs: not identities, but worth naming."""
    dns_names: tuple[str, ...]
    ip_addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
    common_name: str | None

    def covered(self) -> tuple[str, ...]:
        """`sip:…`, `DNS:…`, `IP:…` entries, and `CN:…` only when there is no SAN."""
        names = [f"sip:{host}" for host in self.sip_domains]
        names += [f"DNS:{name}" for name in self.dns_names]
        names += [f"IP:{address}" for address in self.ip_addresses]
        if not self.san_present and self.common_name:
            names.append(f"CN:{self.common_name}")
        return tuple(names)


def sip_identities(cert: x509.Certificate) -> SipIdentities:
    """Read SAN and CN; raises what cryptography raises on a certificate it cannot read
    (see `certificate_defect`)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return SipIdentities(False, (), (), (), (), _cn_identity(cert))
    sip_domains: list[str] = []
    other: list[tuple[str, str]] = []
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        parsed = _sip_uri(uri)
        if parsed is None:
            continue
        scheme, has_user, host = parsed
        # RFC 5922 §7.1: only scheme "sip" without a user part names a domain; §7.2: an IP
        # address is never a SIP domain identity.
        if scheme == "sip" and not has_user and ip_literal(host) is None:
            sip_domains.append(host)
        else:
            other.append((uri, host))
    addresses = tuple(
        address
        for address in san.get_values_for_type(x509.IPAddress)
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    )
    return SipIdentities(
        san_present=True,
        sip_domains=tuple(dict.fromkeys(sip_domains)),
        non_identity_uris=tuple(other),
        dns_names=tuple(
            dict.fromkeys(presented_name(name) for name in san.get_values_for_type(x509.DNSName))
        ),
        ip_addresses=addresses,
        common_name=_cn_identity(cert),
    )


def _cn_identity(cert: x509.Certificate) -> str | None:
    cn = common_name(cert)
    return presented_name(cn) if cn else None


_URI_TAIL = re.compile(r"[;?]")


def _sip_uri(uri: str) -> tuple[str, bool, str] | None:
    """(scheme, has user part, host) of a sip:/sips: URI (RFC 3261 §19.1.1), else None.

    Port, parameters and headers are dropped: RFC 5922 §7.2 compares only the host.
    """
    scheme, colon, rest = uri.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips"):
        return None
    hostport = _URI_TAIL.split(rest, maxsplit=1)[0]
    _, at, after = hostport.rpartition("@")
    has_user = bool(at)
    hostport = after if at else hostport
    if hostport.startswith("["):
        host = hostport[1 : hostport.find("]")] if "]" in hostport else hostport[1:]
    else:
        host = hostport.partition(":")[0]
    return scheme, has_user, presented_name(host)


def presented_name(value: str) -> str:
    """A name as the certificate states it, ready for comparison: only ASCII letters are
    lower-cased (DNS names compare case-insensitively, RFC 4343 §3).

    Nothing else changes. A trailing dot stays, and a raw UTF-8 label is not converted to
    an A-label: the certificate does not state that A-label, and turning it into one would
    match a name it never carries (RFC 5280 §7.2 requires IDNs to be written as A-labels).
    Unicode case folding is avoided on purpose: `"\u212a".lower()` (Kelvin sign) is `k`.
    """
    return "".join(char.lower() if char.isascii() else char for char in value.strip())


def normalise_host(value: str) -> str:
    """The dialled host, for comparison: lower case, no brackets, no trailing dot (the
    absolute form of the same name, RFC 1034 §3.1), U-labels as A-labels (RFC 5890, RFC
    6125 §6.4.2 converts the reference identifier). Never applied to certificate names."""
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.rstrip(".").lower()
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # not IDNA-encodable: compare as given
            host = host.encode("idna").decode("ascii")
    return host


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])  # drop an IPv6 zone index
    except ValueError:
        return None


# --- helpers shared with probe.tls.verify ------------------------------------------------


def as_utc(when: dt.datetime) -> dt.datetime:
    """Read a naive datetime as UTC, so callers may pass either kind."""
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def days_left(cert: x509.Certificate, *, now: dt.datetime) -> int:
    """Whole days from `now` to notAfter, rounded down: 0 on the last day, -1 once expired."""
    return (cert.not_valid_after_utc - as_utc(now)) // dt.timedelta(days=1)


def expired_days_ago(cert: x509.Certificate, *, now: dt.datetime) -> int | None:
    """Whole days since notAfter, rounded down (0 on the first day), or None while valid.

    RFC 5280 §4.1.2.5: notAfter itself is still inside the validity period."""
    now = as_utc(now)
    if now <= cert.not_valid_after_utc:
        return None
    return (now - cert.not_valid_after_utc) // dt.timedelta(days=1)


def iso_utc(when: dt.datetime) -> str:
    return as_utc(when).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_name(name: x509.Name) -> str:
    text = name.rfc4514_string()
    return text if text else "(empty name)"


def common_name(cert: x509.Certificate) -> str | None:
    """The most specific CN of the subject, as RFC 6125 §6.4.4 would read it."""
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def signature_algorithm_name(cert: x509.Certificate) -> str:
    """Well-known name of the signature algorithm (`sha256WithRSAEncryption`), else its OID."""
    return _oid_name(cert.signature_algorithm_oid)


def signature_hash_name(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return algorithm.name if algorithm is not None else None


def key_description(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    """(key type, size in bits, curve name) of the certified public key."""
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", 256, None
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448, None
    return "unknown", None, None


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer`'s name is `cert`'s issuer name and its key made the signature.

    Checked by hand rather than with `verify_directly_issued_by`, which refuses SHA-1:
    path reconstruction must still see who signed a SHA-1 certificate to say why it fails.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        key = issuer.public_key()
        parameters = cert.signature_algorithm_parameters
        algorithm = cert.signature_hash_algorithm
        if (
            parameters is None
            and cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_MD5
        ):
            parameters = padding.PKCS1v15()  # cryptography reports none for MD5 (RFC 3279)
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            if not isinstance(parameters, padding.PKCS1v15 | padding.PSS):
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, parameters, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(parameters, ec.ECDSA):
            key.verify(cert.signature, cert.tbs_certificate_bytes, parameters)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    return signed_by(cert, cert)


def _extension(cert: x509.Certificate, kind: type[_E], problems: list[str]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except BaseException as exc:  # duplicate or malformed extensions (RFC 5280 §4.2)
        if not is_read_failure(exc):
            raise
        problem = f"extensions could not be parsed: {type(exc).__name__}: {exc}"
        if problem not in problems:
            problems.append(problem)
        return None


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    return SIGNATURE_ALGORITHM_NAMES.get(oid, oid.dotted_string)


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def _public_key_fingerprint(cert: x509.Certificate) -> str:
    try:
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (UnsupportedAlgorithm, ValueError):
        return ""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return _colon_hex(digest.finalize())
