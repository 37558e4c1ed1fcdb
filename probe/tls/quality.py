"""Pure quality verdicts on certificates: validity window, keys, signatures, EKU, chain tree.

`probe.tls.verify` answers "does the chain reach a trust anchor, and does the leaf name the
domain?". The verdicts here answer the questions an engineer asks next, each on its own so a
report can say exactly what to fix: how long until something expires, whether a key or a
signature is too weak, whether the leaf may act as a TLS server. Every verdict names the
certificate concerned and has a JSON-friendly `details()`.

No I/O and no clock: the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Literal

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from probe.tls.certinfo import (
    EKU_NAMES,
    NIST_CURVE_NAMES,
    SIP_DOMAIN_EKU,
    as_utc,
    common_name,
    days_left,
    format_name,
    is_self_signed,
    iso_utc,
    key_description,
    signature_algorithm_name,
    signature_hash_name,
)
from probe.tls.certinfo import TreeRole as TreeRole
from probe.tls.certinfo import chain_tree as chain_tree
from probe.tls.certinfo import key_text as key_text
from probe.tls.readable import is_read_failure

Status = Literal["pass", "warn", "fail"]
Role = Literal["leaf", "intermediate", "root"]
"""How a certificate is named in a summary: a non-leaf self-signed certificate is a root."""
ValidityState = Literal["valid", "expiring", "critical", "expired", "not_yet_valid"]

DEFAULT_WARN_DAYS = 30
DEFAULT_CRITICAL_DAYS = 7
MIN_RSA_BITS = 2048
"""CA/B Forum Baseline Requirements §6.1.5 and NIST SP 800-131A: RSA keys of 2048+ bits."""
# SHA-1 (RFC 6194, practical collisions since 2017) and MD5 (RFC 6151) no longer resist
# collisions, so a signature made with them proves nothing (CA/B Forum BR §7.1.3.2).
_BROKEN_HASHES = {"sha1": "SHA-1", "md5": "MD5"}
_HASH_FREE_SIGNATURES = frozenset({"Ed25519", "Ed448"})
_STATUS_ORDER: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}
_STATE_STATUS: dict[ValidityState, Status] = {
    "valid": "pass",
    "expiring": "warn",
    "critical": "fail",
    "expired": "fail",
    "not_yet_valid": "fail",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What every quality verdict has: a status and one sentence naming the certificate."""

    status: Status
    summary: str

    def details(self) -> dict[str, Any]:
        """Every other field, as JSON-friendly data (lists and dicts, no tuples)."""
        return {
            field.name: _plain(getattr(self, field.name))
            for field in fields(self)
            if field.name not in ("status", "summary")
        }


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    return value


def _worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=_STATUS_ORDER.__getitem__, default="pass")


def _roles(chain: Sequence[x509.Certificate]) -> list[Role]:
    return [
        "leaf" if index == 0 else "root" if is_self_signed(cert) else "intermediate"
        for index, cert in enumerate(chain)
    ]


def _label(role: str, cert: x509.Certificate) -> str:
    """`leaf sip.example.test`, `intermediate 'sipprobe lab intermediate CA'`."""
    name = common_name(cert) or format_name(cert.subject)
    if not name or any(char.isspace() or char in ",'=" for char in name):
        name = f"'{name}'"
    return f"{role} {name}"


def _days(count: int) -> str:
    return "less than a day" if count <= 0 else f"{count} day{'s' if count != 1 else ''}"


def _list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- validity --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateWindow:
    """One certificate's validity period as seen from `now`."""

    role: Role
    name: str
    """Role and CN as a summary names it, e.g. `leaf sip.example.test`."""
    subject: str
    not_before: str
    not_after: str
    days_left: int
    """Whole days to notAfter, rounded down; negative once expired."""
    state: ValidityState


@dataclass(frozen=True, slots=True)
class ValidityVerdict(Verdict):
    leaf_days_left: int | None
    earliest_days_left: int | None
    earliest: str | None
    """The certificate that expires first, named as in the summary."""
    warn_days: int
    critical_days: int
    certificates: tuple[CertificateWindow, ...]


def judge_validity(
    chain: Sequence[x509.Certificate],
    *,
    now: dt.datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    critical_days: int = DEFAULT_CRITICAL_DAYS,
) -> ValidityVerdict:
    """Is every certificate given valid at `now`, and for how much longer?

    Pass the presented chain, plus the trust anchor of the verified path when there is one:
    an expiring root breaks the chain as surely as an expiring leaf. RFC 5280 §4.1.2.5: a
    certificate is valid from notBefore through notAfter inclusive. A certificate with
    `days_left` <= N is inside the N-day window, so the whole days a report prints and the
    verdict agree ("expires in 7 days" is inside the 7-day critical window).
    """
    if not 0 <= critical_days <= warn_days:
        raise ValueError(f"need 0 <= critical_days ({critical_days}) <= warn_days ({warn_days})")
    now = as_utc(now)
    judged: list[tuple[CertificateWindow, x509.Certificate]] = []
    for role, cert in zip(_roles(chain), chain, strict=True):
        left = days_left(cert, now=now)
        state: ValidityState
        if now < cert.not_valid_before_utc:
            state = "not_yet_valid"
        elif now > cert.not_valid_after_utc:
            state = "expired"
        elif left <= critical_days:
            state = "critical"
        elif left <= warn_days:
            state = "expiring"
        else:
            state = "valid"
        window = CertificateWindow(
            role=role,
            name=_label(role, cert),
            subject=format_name(cert.subject),
            not_before=iso_utc(cert.not_valid_before_utc),
            not_after=iso_utc(cert.not_valid_after_utc),
            days_left=left,
            state=state,
        )
        judged.append((window, cert))
    if not judged:
        return ValidityVerdict(
            "fail", "no certificate to judge", None, None, None, warn_days, critical_days, ()
        )
    # In notAfter order, so the certificate that expires first is named first.
    ordered = sorted(judged, key=lambda pair: pair[1].not_valid_after_utc)
    first = ordered[0][0]
    status = _worst([_STATE_STATUS[window.state] for window, _ in judged])
    if status == "pass":
        summary = (
            f"{first.name} expires first, in {_days(first.days_left)} ({first.not_after}); "
            f"nothing expires within the {warn_days}-day warning window"
        )
    else:
        summary = "; ".join(
            _window_sentence(window, cert, now, warn_days, critical_days)
            for window, cert in ordered
            if _STATE_STATUS[window.state] == status
        )
    return ValidityVerdict(
        status=status,
        summary=summary,
        leaf_days_left=judged[0][0].days_left,
        earliest_days_left=first.days_left,
        earliest=first.name,
        warn_days=warn_days,
        critical_days=critical_days,
        certificates=tuple(window for window, _ in judged),
    )


def _window_sentence(
    window: CertificateWindow,
    cert: x509.Certificate,
    now: dt.datetime,
    warn_days: int,
    critical_days: int,
) -> str:
    day = dt.timedelta(days=1)
    if window.state == "not_yet_valid":
        wait = (cert.not_valid_before_utc - now) // day
        return (
            f"{window.name} is not valid until {window.not_before} (in {_days(wait)}); "
            "check the certificate's dates or the clocks"
        )
    if window.state == "expired":
        ago = (now - cert.not_valid_after_utc) // day
        return f"{window.name} expired {_days(ago)} ago ({window.not_after})"
    when = f"{window.name} expires in {_days(window.days_left)} ({window.not_after})"
    if window.state == "critical":
        return f"{when}, inside the {critical_days}-day critical window"
    return f"{when}, inside the {warn_days}-day warning window"


# --- keys ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyFact:
    role: Role
    name: str
    subject: str
    key: str
    """`RSA 2048`, `EC P-256`, `EC secp256k1`, `Ed25519`, `DSA 1024`..."""
    key_type: str
    bits: int | None
    curve: str | None
    status: Status
    problem: str | None
    """Why the key is not acceptable; None when it passes."""


@dataclass(frozen=True, slots=True)
class KeyVerdict(Verdict):
    keys: tuple[KeyFact, ...]


def judge_keys(chain: Sequence[x509.Certificate]) -> KeyVerdict:
    """Is every public key strong enough and of a kind TLS clients accept?

    Unlike a signature, the anchor's key does matter (it signs the next certificate), so
    every certificate given is judged.
    """
    facts = [_key_fact(role, cert) for role, cert in zip(_roles(chain), chain, strict=True)]
    if not facts:
        return KeyVerdict("fail", "no certificate to judge", ())
    status = _worst([fact.status for fact in facts])
    if status == "pass":
        summary = "every key is acceptable: " + ", ".join(f"{f.name} {f.key}" for f in facts)
    else:
        summary = "; ".join(
            f"{fact.name} has {fact.problem}" for fact in facts if fact.status == status
        )
    return KeyVerdict(status, summary, tuple(facts))


def _key_fact(role: Role, cert: x509.Certificate) -> KeyFact:
    key_type, bits, curve = key_description(cert)
    status, problem = _key_problem(key_type, bits, curve)
    return KeyFact(
        role=role,
        name=_label(role, cert),
        subject=format_name(cert.subject),
        key=key_text(cert),
        key_type=key_type,
        bits=bits,
        curve=curve,
        status=status,
        problem=problem,
    )


def _key_problem(key_type: str, bits: int | None, curve: str | None) -> tuple[Status, str | None]:
    if key_type == "RSA" and bits is not None and bits < MIN_RSA_BITS:
        return "fail", (
            f"a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are required (CA/B Forum "
            "BR §6.1.5, NIST SP 800-131A): reissue it with RSA-2048 or larger, or EC P-256"
        )
    if key_type == "EC" and curve not in NIST_CURVE_NAMES:
        return "warn", (
            f"an EC key on curve {curve}, outside P-256/P-384/P-521 (CA/B Forum BR §6.1.5); "
            "many TLS clients will not accept it"
        )
    if key_type == "DSA":
        return "fail", (
            f"a {bits}-bit DSA key; DSA is no longer allowed (CA/B Forum BR §6.1.5) and "
            "TLS 1.3 has no DSA signature scheme (RFC 8446 §4.2.3): reissue it with RSA or ECDSA"
        )
    if key_type in ("X25519", "X448"):
        return "warn", f"a {key_type} key, which cannot sign, so it cannot authenticate TLS"
    if key_type not in ("RSA", "EC", "Ed25519", "Ed448"):
        return "warn", "a public key of a type sipprobe cannot read"
    return "pass", None


# --- signatures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureFact:
    role: Role | Literal["anchor"]
    name: str
    subject: str
    algorithm: str
    """`sha256WithRSAEncryption`, `ecdsa-with-SHA384`, `Ed25519`, or a dotted OID."""
    hash: str | None
    judged: bool
    """False for the trust anchor: its own signature is never relied upon."""
    status: Status


@dataclass(frozen=True, slots=True)
class SignatureVerdict(Verdict):
    signatures: tuple[SignatureFact, ...]


def judge_signatures(
    chain: Sequence[x509.Certificate], *, anchor: x509.Certificate | None
) -> SignatureVerdict:
    """Is every certificate below the trust anchor signed with a collision-resistant hash?

    A trust anchor is trusted as itself, never through its signature (RFC 5280 §6.1.1(d)
    takes it as input), so a root's own SHA-1 self-signature does not matter; CA/B Forum BR
    §7.1.3.2 forbids SHA-1 only below it. `anchor` is the last certificate of the verified
    path; when there is none, a self-signed CA the server sent is treated the same way.
    """
    certs = list(chain)
    if anchor is not None and anchor not in certs:
        certs.append(anchor)
    facts: list[SignatureFact] = []
    for position, cert in zip(_roles(certs), certs, strict=True):
        role: Role | Literal["anchor"] = "anchor" if cert == anchor else position
        judged = role not in ("anchor", "root")
        algorithm = signature_algorithm_name(cert)
        hash_name = signature_hash_name(cert)
        status: Status = "pass"
        if judged and hash_name in _BROKEN_HASHES:
            status = "fail"
        elif judged and hash_name is None and algorithm not in _HASH_FREE_SIGNATURES:
            status = "warn"
        facts.append(
            SignatureFact(
                role=role,
                name=_label("trust anchor" if role == "anchor" else role, cert),
                subject=format_name(cert.subject),
                algorithm=algorithm,
                hash=hash_name,
                judged=judged,
                status=status,
            )
        )
    if not facts:
        return SignatureVerdict("fail", "no certificate to judge", ())
    status = _worst([fact.status for fact in facts])
    return SignatureVerdict(status, _signature_summary(facts, status), tuple(facts))


def _signature_summary(facts: Sequence[SignatureFact], status: Status) -> str:
    if status == "fail":
        weak = [fact for fact in facts if fact.status == "fail"]
        hashes = sorted({_BROKEN_HASHES[fact.hash or ""] for fact in weak})
        names = _list([f"{fact.name} ({fact.algorithm})" for fact in weak])
        verb = "is" if len(weak) == 1 else "are"
        return (
            f"{names} {verb} signed with {' and '.join(hashes)}, which no longer resists "
            "collisions (RFC 6194, RFC 6151; CA/B Forum BR §7.1.3.2) and which verifiers "
            "refuse: reissue with SHA-256 or better"
        )
    if status == "warn":
        unknown = _list([f"{f.name} ({f.algorithm})" for f in facts if f.status == "warn"])
        return f"cannot judge the signature algorithm of {unknown}"
    judged = sorted({fact.algorithm for fact in facts if fact.judged})
    summary = (
        f"every certificate below the trust anchor is signed with {_list(judged)}"
        if judged
        else "no certificate below the trust anchor to judge"
    )
    ignored = [f for f in facts if not f.judged and (f.hash or "") in _BROKEN_HASHES]
    if ignored:
        summary += (
            f"; the self-signature of {_list([f.name for f in ignored])} uses "
            f"{ignored[0].algorithm}, which does not matter: a root is trusted as itself "
            "(RFC 5280 §6.1.1), not through its signature"
        )
    return summary


# --- extended key usage ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EkuVerdict(Verdict):
    extension_present: bool
    server_auth: bool
    """May act as a TLS server: serverAuth listed, or no restriction (no EKU, anyEKU)."""
    client_auth: bool
    """May act as a TLS client; Microsoft Teams wants serverAuth and clientAuth both."""
    sip_domain: bool
    """id-kp-sipDomain (RFC 5924) is listed."""
    any_purpose: bool
    """anyExtendedKeyUsage is listed."""
    ekus: tuple[str, ...]
    """Exactly what the extension lists (names or dotted OIDs), for literal policies."""


def judge_eku(leaf: x509.Certificate) -> EkuVerdict:
    """May the leaf authenticate a SIP server over TLS (RFC 5280 §4.2.1.12, RFC 5924)?"""
    name = _label("leaf", leaf)
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        # RFC 5280 §4.2.1.12: without the extension the key is not restricted by purpose.
        summary = (
            f"{name} has no extendedKeyUsage extension, which RFC 5280 §4.2.1.12 reads as "
            "unrestricted: it may act as TLS server and client"
        )
        return EkuVerdict("pass", summary, False, True, True, False, False, ())
    except BaseException as exc:  # duplicate or malformed extensions (RFC 5280 §4.2)
        if not is_read_failure(exc):
            raise
        summary = (
            f"{name}'s extensions cannot be read: cryptography raised {type(exc).__name__} "
            f"({exc}), so what it may be used for is unknown: have it reissued by the CA"
        )
        return EkuVerdict("fail", summary, True, False, False, False, False, ())
    oids = list(eku)
    ekus = tuple(EKU_NAMES.get(oid, oid.dotted_string) for oid in oids)
    any_purpose = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in oids
    listed_server = ExtendedKeyUsageOID.SERVER_AUTH in oids
    client = ExtendedKeyUsageOID.CLIENT_AUTH in oids or any_purpose
    sip_domain = SIP_DOMAIN_EKU in oids
    allows = _list(list(ekus)) if ekus else "nothing"

    def verdict(status: Status, summary: str) -> EkuVerdict:
        server = listed_server or any_purpose
        return EkuVerdict(status, summary, True, server, client, sip_domain, any_purpose, ekus)

    if listed_server:
        summary = f"{name} allows {allows}"
        if not client:
            summary += (
                "; without clientAuth it cannot also be the client certificate when this "
                "side opens connections (Microsoft Teams, for one, requires both)"
            )
        return verdict("pass", summary)
    if sip_domain:
        return verdict(
            "pass",
            f"{name} allows {allows}: id-kp-sipDomain (RFC 5924) marks it for SIP, which "
            "SIP stacks accept in place of serverAuth; generic TLS stacks that insist on "
            "serverAuth may refuse it",
        )
    if any_purpose:
        # RFC 5280 §4.2.1.12 lets an application that needs a purpose refuse a certificate
        # that lists only anyExtendedKeyUsage, and CA/B Forum BR §7.1.2.7.10 forbids it in
        # TLS certificates, so webpki verifiers (sipprobe's chain check among them) refuse.
        return verdict(
            "warn",
            f"{name} allows {allows} but not serverAuth; RFC 5280 accepts that as any "
            "purpose, but webpki verifiers (and sipprobe's chain check) refuse it: add "
            "serverAuth",
        )
    return verdict(
        "fail",
        f"{name} allows only {allows}, neither serverAuth nor id-kp-sipDomain (RFC 5924), "
        "so it cannot authenticate a SIP server: reissue it with serverAuth",
    )


def judge_client_eku(leaf: x509.Certificate) -> EkuVerdict:
    """May the leaf authenticate a SIP client over TLS (mutual TLS, a trunk calling us)?

    RFC 5280 §4.2.1.12 gives the client role clientAuth; RFC 5924 §4.1 lets
    id-kp-sipDomain mark a certificate for SIP in either role. The facts are the ones
    `judge_eku` reads; only what they mean for this role differs."""
    read = judge_eku(leaf)
    if not read.extension_present or not read.ekus:
        # No extension (any purpose), or one that cannot be read: judge_eku says which.
        return read
    name = _label("leaf", leaf)
    allows = _list(list(read.ekus))
    if EKU_NAMES[ExtendedKeyUsageOID.CLIENT_AUTH] in read.ekus:
        return replace(read, status="pass", summary=f"{name} allows {allows}")
    if read.sip_domain:
        return replace(
            read,
            status="pass",
            summary=f"{name} allows {allows}: id-kp-sipDomain (RFC 5924) marks it for SIP, "
            "which SIP stacks accept in place of clientAuth; generic TLS stacks that insist "
            "on clientAuth may refuse it",
        )
    if read.any_purpose:
        return replace(
            read,
            status="warn",
            summary=f"{name} allows {allows} but not clientAuth; RFC 5280 accepts that as "
            "any purpose, but webpki verifiers (and sipprobe's chain check) refuse it: add "
            "clientAuth",
        )
    return replace(
        read,
        status="fail",
        summary=f"{name} allows only {allows}, neither clientAuth nor id-kp-sipDomain "
        "(RFC 5924), so it cannot authenticate a SIP client: a peer that checks the purpose "
        "of a client certificate refuses it; reissue it with clientAuth",
    )
