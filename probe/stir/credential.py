"""The signing certificate of a PASSporT: read what `x5u` served and judge it.

A SHAKEN certificate (ATIS-1000080 §6) is an end-entity certificate with a P-256 key,
issued under an STI-CA that the verifier trusts, carrying the TNAuthList extension
(RFC 8226 §9) that says for whom it speaks. The chain is verified by cryptography's
verifier against the STI-CA trust list (RFC 5280 path validation; the leaf needs no
subjectAltName, which the web profile would demand, so its extensions are judged here:
not a CA, keyUsage digitalSignature, TNAuthList present and readable).

No I/O and no clock: the body comes from the fetcher, `now` from the caller.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

from probe.stir.es256 import is_p256
from probe.stir.model import (
    INVALID_IDENTITY_HEADER,
    UNSUPPORTED_CREDENTIAL,
    CertificateFacts,
    StirProblem,
)
from probe.stir.passport import problem
from probe.stir.tnauthlist import OID as TN_AUTH_LIST_OID
from probe.stir.tnauthlist import TnAuthList, parse_tn_auth_list
from probe.tls.certinfo import as_utc, format_name, iso_utc, key_description
from probe.tls.readable import certificate_defect, certificate_label, is_read_failure

MAX_CERTIFICATES = 8
"""Most certificates read from one x5u body (the leaf and its intermediates)."""

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL
)
_TN_AUTH_LIST = x509.ObjectIdentifier(TN_AUTH_LIST_OID)
# The leaf's extensions are judged by `judge_credential`; only the path is cryptography's
# question. The CA side keeps the web profile (basicConstraints, keyUsage keyCertSign...).
_EE_POLICY = ExtensionPolicy.permit_all()
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()


@dataclass(frozen=True, slots=True)
class StiTrust:
    """The STI-CA trust list (`--sti-trust`): the roots SHAKEN certificates must chain to."""

    certificates: tuple[x509.Certificate, ...]
    source: str


@dataclass(frozen=True, slots=True)
class CredentialVerdict:
    """The certificate as judged, and its key when the leaf could be read."""

    facts: CertificateFacts
    key: ec.EllipticCurvePublicKey | None
    problems: tuple[StirProblem, ...] = ()
    tn_auth_list: TnAuthList | None = None
    notes: tuple[str, ...] = field(default=())
    """What held, one sentence each (all of the certificate's finding)."""


def read_certificates(body: bytes) -> tuple[list[x509.Certificate], str | None]:
    """The certificates of an x5u body, leaf first: PEM (one or more, the usual form) or a
    single DER certificate (application/pkix-cert, RFC 2585 §4.1)."""
    blocks = _PEM_CERTIFICATE.findall(body)
    try:
        if blocks:
            if len(blocks) > MAX_CERTIFICATES:
                return (
                    [],
                    f"the x5u body holds {len(blocks)} certificates, more than {MAX_CERTIFICATES}",
                )
            return [x509.load_pem_x509_certificate(block) for block in blocks], None
        if body[:1] == b"\x30":
            return [x509.load_der_x509_certificate(body)], None
    except BaseException as exc:
        if not is_read_failure(exc):
            raise
        return (
            [],
            f"the x5u body holds a certificate cryptography cannot read ({type(exc).__name__})",
        )
    return [], "the x5u body is neither a PEM certificate nor a DER one"


def judge_credential(
    body: bytes, trust: StiTrust | None, *, now: dt.datetime, orig_tn: str | None
) -> CredentialVerdict:
    """Judge the certificate chain served at x5u, for the originating number `orig_tn`."""
    now = as_utc(now)
    certificates, why = read_certificates(body)
    if why is not None:
        return CredentialVerdict(
            CertificateFacts(),
            None,
            (problem("certificate", "certificate_unreadable", why, UNSUPPORTED_CREDENTIAL),),
        )
    for position, cert in enumerate(certificates):
        defect = certificate_defect(cert)
        if defect is not None:
            text = defect.sentence(certificate_label(cert, position))
            return CredentialVerdict(
                CertificateFacts(),
                None,
                (problem("certificate", "certificate_unreadable", text, UNSUPPORTED_CREDENTIAL),),
            )
    leaf = certificates[0]
    key_type, bits, curve = key_description(leaf)
    public_key = leaf.public_key()
    key = public_key if isinstance(public_key, ec.EllipticCurvePublicKey) else None
    problems: list[StirProblem] = []
    notes: list[str] = []

    def unsupported(cause: str, text: str) -> None:
        problems.append(problem("certificate", cause, text, UNSUPPORTED_CREDENTIAL))

    if key is None or not is_p256(key):
        shown = " ".join(str(part) for part in (key_type, curve or bits) if part)
        unsupported(
            "key_not_p256",
            f"the certificate's key is {shown or 'unknown'}; ES256 needs a P-256 key "
            "(RFC 7518 §3.4, ATIS-1000080 §6.3)",
        )
        key = None
    tn_list = _tn_auth_list(leaf, problems, notes, orig_tn)
    _leaf_extensions(leaf, problems)
    chain_ok, path = _chain(leaf, certificates[1:], trust, now, problems)
    if chain_ok and trust is not None:
        notes.append(f"the certificate chains to the STI-CA {path[-1]} ({trust.source})")
    facts = CertificateFacts(
        subject=format_name(leaf.subject),
        issuer=format_name(leaf.issuer),
        not_after=iso_utc(leaf.not_valid_after_utc),
        key=" ".join(str(part) for part in (key_type, curve or bits) if part) or None,
        chain_ok=chain_ok,
        path=path,
        spc=tn_list.spcs if tn_list else (),
        tns=tn_list.described_tns() if tn_list else (),
    )
    return CredentialVerdict(facts, key, tuple(problems), tn_list, tuple(notes))


def _tn_auth_list(
    leaf: x509.Certificate, problems: list[StirProblem], notes: list[str], orig_tn: str | None
) -> TnAuthList | None:
    try:
        extension = leaf.extensions.get_extension_for_oid(_TN_AUTH_LIST)
    except x509.ExtensionNotFound:
        problems.append(
            problem(
                "certificate",
                "tnauthlist_missing",
                "the certificate has no TNAuthList extension (RFC 8226 §9), which every "
                "SHAKEN certificate carries (ATIS-1000080 §6.4.1): it speaks for no number",
                UNSUPPORTED_CREDENTIAL,
            )
        )
        return None
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    tn_list, why = parse_tn_auth_list(raw)
    if tn_list is None:
        problems.append(
            problem("certificate", "tnauthlist_unreadable", why or "", UNSUPPORTED_CREDENTIAL)
        )
        return None
    if tn_list.implicit_tags:
        problems.append(
            problem(
                "certificate",
                "tnauthlist_implicit_tags",
                "the TNAuthList is written with implicit tags; RFC 8226's module uses "
                "EXPLICIT TAGS, so strict verifiers may not read it",
                severity="warn",
            )
        )
    if tn_list.spcs:
        # ATIS-1000080 §6.4.1: a SHAKEN certificate names the service provider (SPC), not
        # numbers; the provider vouches for its numbers through the attestation level.
        notes.append(f"the TNAuthList names the service provider code {', '.join(tn_list.spcs)}")
    elif orig_tn is None:
        problems.append(
            problem(
                "certificate",
                "tnauthlist_no_orig_tn",
                "the TNAuthList lists numbers only, and the PASSporT's orig is no number to "
                "look up in it (RFC 8226 §9)",
                INVALID_IDENTITY_HEADER,
            )
        )
    elif tn_list.covers(orig_tn):
        notes.append(f"the TNAuthList covers the originating number {orig_tn}")
    else:
        listed = ", ".join(tn_list.described_tns()[:6])
        problems.append(
            problem(
                "certificate",
                "tnauthlist_not_orig",
                f"the TNAuthList lists {listed} but not the originating number {orig_tn}: the "
                "certificate does not speak for the caller (RFC 8226 §9, RFC 8224 §6.2.3)",
                INVALID_IDENTITY_HEADER,
            )
        )
    return tn_list


def _leaf_extensions(leaf: x509.Certificate, problems: list[StirProblem]) -> None:
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        problems.append(
            problem(
                "certificate",
                "signed_by_ca",
                "the PASSporT is signed with a CA certificate, not an end-entity one "
                "(ATIS-1000080 §6.3)",
                UNSUPPORTED_CREDENTIAL,
            )
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        problems.append(
            problem(
                "certificate",
                "key_usage",
                "the certificate's keyUsage does not allow digitalSignature (RFC 5280 "
                "§4.2.1.3, ATIS-1000080 §6.3)",
                UNSUPPORTED_CREDENTIAL,
            )
        )


def _chain(
    leaf: x509.Certificate,
    extra: Sequence[x509.Certificate],
    trust: StiTrust | None,
    now: dt.datetime,
    problems: list[StirProblem],
) -> tuple[bool | None, tuple[str, ...]]:
    if trust is None or not trust.certificates:
        problems.append(
            problem(
                "certificate",
                "no_sti_trust",
                "no STI-CA trust list was given (--sti-trust): whether the certificate "
                "comes from an approved STI-CA cannot be known",
                UNSUPPORTED_CREDENTIAL,
            )
        )
        return None, ()
    for cert, role in ((leaf, "certificate"), *((c, "intermediate") for c in extra)):
        if now > cert.not_valid_after_utc:
            problems.append(
                problem(
                    "certificate",
                    "certificate_expired",
                    f"the {role} {format_name(cert.subject)} expired on "
                    f"{iso_utc(cert.not_valid_after_utc)}",
                    UNSUPPORTED_CREDENTIAL,
                )
            )
            return False, ()
        if now < cert.not_valid_before_utc:
            problems.append(
                problem(
                    "certificate",
                    "certificate_not_yet_valid",
                    f"the {role} {format_name(cert.subject)} is not valid before "
                    f"{iso_utc(cert.not_valid_before_utc)}",
                    UNSUPPORTED_CREDENTIAL,
                )
            )
            return False, ()
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(list(trust.certificates)))
            .time(now)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        verified = verifier.verify(leaf, list(extra))
    except BaseException as exc:
        if not is_read_failure(exc):
            raise
        message = str(exc)
        if "critical" in message and TN_AUTH_LIST_OID in message:
            text = (
                "the certificate marks TNAuthList critical, which this verifier's path "
                f"validation does not accept ({message[:160]})"
            )
        else:
            text = (
                f"the certificate does not chain to the STI-CA trust list ({trust.source}): "
                f"{message[:200]}"
            )
        problems.append(problem("certificate", "chain_untrusted", text, UNSUPPORTED_CREDENTIAL))
        return False, ()
    return True, tuple(format_name(cert.subject) for cert in verified.chain)
