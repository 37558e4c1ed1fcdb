"""Pure verdicts on a presented chain and on the identity its leaf proves.

Two questions, kept apart on purpose so a report can say exactly what is wrong:

* `verify_chain`: does the chain the server sent (or, for `purpose="client"`, the chain a
  caller presented as its client certificate) lead to a trust anchor at `now`?
  cryptography's verifier (RFC 5280 path validation with the webpki profile, asked about
  no name) decides; when it refuses, the chain is rebuilt here by name and signature to say
  *why* in words an engineer can act on (missing intermediate, wrong CA, expired...).
* `match_identity` (`probe.tls.identity`, re-exported here): is the leaf a certificate for
  the SIP domain that was dialled? RFC 5922 §7.1 and §7.2 decide.

A certificate cryptography cannot read (a duplicated extension, an x400Address name...)
gets a failing verdict naming it; neither function raises on a presented certificate.

No I/O and no clock: the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
)

from probe.tls.certinfo import (
    SIP_DOMAIN_EKU,
    as_utc,
    format_name,
    is_self_signed,
    iso_utc,
    key_description,
    signature_hash_name,
    signed_by,
)
from probe.tls.identity import (
    IdentityMatch,
    IdentityVerdict,
    match_identity,
    sip_domain_outside_constraints,
)
from probe.tls.readable import certificate_defect, certificate_label, is_read_failure
from probe.tls.trust import TrustAnchors

__all__ = [
    "ChainPurpose",
    "ChainReasonKind",
    "ChainVerdict",
    "IdentityMatch",
    "IdentityVerdict",
    "match_identity",
    "sip_domain_outside_constraints",
    "verify_chain",
]

ChainReasonKind = Literal[
    "ok",
    "empty",
    "unreadable",
    "self_signed",
    "missing_intermediate",
    "unknown_issuer",
    "expired",
    "not_yet_valid",
    "weak_signature",
    "weak_key",
    "bad_eku",
    "invalid",
]

ChainPurpose = Literal["server", "client"]
"""What the leaf must be fit for: authenticating a SIP server (the far end we connect to),
or a SIP client (a trunk that connects to us with a client certificate, mutual TLS)."""

MAX_CHAIN_DEPTH = 8
"""Same bound as cryptography's default `max_chain_depth`, for the diagnostic rebuild."""
MIN_RSA_ISSUER_BITS = 2048
"""cryptography's webpki policy refuses signatures made by smaller RSA keys."""
_WEAK_SIGNATURE_HASHES = frozenset({"md5", "sha1"})


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Whether the presented chain reaches a trust anchor, independent of any name."""

    ok: bool
    reason: str | None
    """One sentence an engineer can act on; None when ok."""
    reason_kind: ChainReasonKind
    verified_path: tuple[x509.Certificate, ...] = ()
    """Leaf … trust anchor, as cryptography built it; empty unless ok."""
    presented_count: int = 0
    leaf_issuer_presented: bool = False
    """The server sent the certificate whose key signed the leaf."""
    self_signed_leaf: bool = False
    raw_error: str | None = None
    """cryptography's own message, when its verifier refused the chain."""


# --- chain ---------------------------------------------------------------------------


def _server_or_sip_domain(
    policy: Policy | None, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # RFC 5280 §4.2.1.12: no EKU means any purpose. RFC 5924: a SIP server may prove its
    # purpose with id-kp-sipDomain instead of serverAuth. Only the chain is judged here;
    # the EKU gets its own finding elsewhere.
    if eku is None or ExtendedKeyUsageOID.SERVER_AUTH in eku or SIP_DOMAIN_EKU in eku:
        return
    raise ValueError("extendedKeyUsage has neither serverAuth nor id-kp-sipDomain")


def _ca_may_issue_for_servers(
    policy: Policy | None, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # The verifier is cryptography's client verifier (so that no name is part of the
    # question), which would want clientAuth in a CA's EKU. A CA's EKU limits what it may
    # issue (CA/B Forum BR §7.1.2.2), so ask what the server verifier asks: serverAuth or
    # anyExtendedKeyUsage.
    if eku is None or ExtendedKeyUsageOID.SERVER_AUTH in eku:
        return
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return
    raise ValueError("the CA's extendedKeyUsage allows neither serverAuth nor any purpose")


def _client_or_sip_domain(
    policy: Policy | None, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # RFC 5280 §4.2.1.12: a TLS client certificate says clientAuth, or nothing at all;
    # RFC 5924 §4.1: id-kp-sipDomain marks a certificate for SIP in either role.
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH in eku or SIP_DOMAIN_EKU in eku:
        return
    raise ValueError("extendedKeyUsage has neither clientAuth nor id-kp-sipDomain")


def _ca_may_issue_for_clients(
    policy: Policy | None, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # The same limit as for servers (CA/B Forum BR §7.1.2.2), for the other purpose.
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH in eku:
        return
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return
    raise ValueError("the CA's extendedKeyUsage allows neither clientAuth nor any purpose")


def _san_marked_as_rfc5280_says(
    policy: Policy | None, cert: x509.Certificate, san: x509.SubjectAlternativeName | None
) -> None:
    # What the names are is match_identity's question; how the extension is marked is part
    # of a well-formed leaf, checked as the server verifier checks it: critical exactly when
    # the subject is empty (RFC 5280 §4.2.1.6, CA/B Forum BR §7.1.2.7.12).
    problem = _san_marking_problem(cert)
    if problem is not None:
        raise ValueError(problem)


def _san_marking_problem(cert: x509.Certificate) -> str | None:
    try:
        critical = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    except x509.ExtensionNotFound:
        return None
    if len(cert.subject) == 0 and not critical:
        return (
            "the leaf has an empty subject and a non-critical subjectAltName; RFC 5280 "
            "§4.2.1.6 requires the extension to be critical then"
        )
    if len(cert.subject) > 0 and critical:
        return (
            "the leaf's subjectAltName is marked critical although its subject is not empty; "
            "CA/B Forum BR §7.1.2.7.12 forbids that and webpki verifiers refuse it"
        )
    return None


_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _ca_may_issue_for_servers
)
# The names are `match_identity`'s question (RFC 5922 §7), not the chain's: a leaf whose
# only name is URI:sip:example.com, or that has none, still has a path to a trust anchor.
_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_or_sip_domain)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, _san_marked_as_rfc5280_says)
)
_CLIENT_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _ca_may_issue_for_clients
)
_CLIENT_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _client_or_sip_domain)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, _san_marked_as_rfc5280_says)
)
_POLICIES: dict[ChainPurpose, tuple[ExtensionPolicy, ExtensionPolicy]] = {
    "server": (_CA_POLICY, _EE_POLICY),
    "client": (_CLIENT_CA_POLICY, _CLIENT_EE_POLICY),
}
_SENDER: dict[ChainPurpose, str] = {"server": "the server", "client": "the caller"}


def verify_chain(
    presented: Sequence[x509.Certificate],
    anchors: TrustAnchors,
    *,
    now: dt.datetime,
    purpose: ChainPurpose = "server",
) -> ChainVerdict:
    """Judge the chain as sent: `presented[0]` is the leaf, the rest what came with it.

    Only the path to a trust anchor is judged (RFC 5280 §6); which names the leaf carries
    is `match_identity`'s question. `purpose` says which role the leaf must be fit for
    (its extendedKeyUsage, and its CAs'): a server's, or a calling peer's client role.
    """
    now = as_utc(now)
    chain = tuple(presented)
    if not chain:
        return ChainVerdict(False, f"{_SENDER[purpose]} presented no certificate", "empty")
    for position, cert in enumerate(chain):
        defect = certificate_defect(cert)
        if defect is not None:
            return ChainVerdict(
                ok=False,
                reason=defect.sentence(certificate_label(cert, position)),
                reason_kind="unreadable",
                presented_count=len(chain),
                raw_error=f"{defect.exception}: {defect.message}",
            )
    leaf, extra = chain[0], chain[1:]
    self_signed_leaf = is_self_signed(leaf)

    def verdict(
        kind: ChainReasonKind,
        reason: str | None,
        path: Sequence[x509.Certificate] = (),
        raw_error: str | None = None,
    ) -> ChainVerdict:
        return ChainVerdict(
            ok=kind == "ok",
            reason=reason,
            reason_kind=kind,
            verified_path=tuple(path),
            presented_count=len(chain),
            leaf_issuer_presented=any(signed_by(leaf, cert) for cert in extra),
            self_signed_leaf=self_signed_leaf,
            raw_error=raw_error,
        )

    if not anchors.certificates:
        return verdict("unknown_issuer", f"the trust store is empty ({anchors.source})")
    try:
        verified = _build_verifier(anchors, now, purpose).verify(leaf, list(extra))
    except BaseException as exc:  # VerificationError, or whatever a hostile anchor provokes
        if not is_read_failure(exc):
            raise
        kind, reason = _diagnose(leaf, extra, anchors, now, self_signed_leaf, str(exc), purpose)
        return verdict(kind, reason, raw_error=str(exc))
    return verdict("ok", None, verified.chain)


def _build_verifier(
    anchors: TrustAnchors, now: dt.datetime, purpose: ChainPurpose
) -> ClientVerifier:
    ca_policy, ee_policy = _POLICIES[purpose]
    return (
        PolicyBuilder()
        .store(Store(list(anchors.certificates)))
        .time(now)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )


@dataclass(frozen=True, slots=True)
class _Walk:
    """The chain rebuilt by issuer name and signature, for explaining a refusal."""

    path: tuple[x509.Certificate, ...]
    anchored: bool
    impostor: x509.Certificate | None
    """A presented certificate with the right issuer name whose key did not sign."""


def _walk(
    leaf: x509.Certificate, extra: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> _Walk:
    path = [leaf]
    for _ in range(MAX_CHAIN_DEPTH):
        current = path[-1]
        if current in anchors:
            return _Walk(tuple(path), True, None)
        anchor = next((cert for cert in anchors if signed_by(current, cert)), None)
        if anchor is not None:
            return _Walk((*path, anchor), True, None)
        issuer = next((c for c in extra if c not in path and signed_by(current, c)), None)
        if issuer is None:
            impostor = next(
                (c for c in extra if c not in path and c.subject == current.issuer), None
            )
            return _Walk(tuple(path), False, impostor)
        path.append(issuer)
    return _Walk(tuple(path), False, None)


def _diagnose(
    leaf: x509.Certificate,
    extra: Sequence[x509.Certificate],
    anchors: TrustAnchors,
    now: dt.datetime,
    self_signed_leaf: bool,
    raw_error: str,
    purpose: ChainPurpose,
) -> tuple[ChainReasonKind, str]:
    walk = _walk(leaf, extra, anchors.certificates)
    for index, cert in enumerate(walk.path):
        role = _role(index, walk)
        if now < cert.not_valid_before_utc:
            days = (cert.not_valid_before_utc - now) // dt.timedelta(days=1)
            return "not_yet_valid", (
                f"the {role} {_subject(cert)} is not valid before "
                f"{iso_utc(cert.not_valid_before_utc)} ({_days(days)} after the check time); "
                "check the certificate or the clocks"
            )
        if now > cert.not_valid_after_utc:
            days = (now - cert.not_valid_after_utc) // dt.timedelta(days=1)
            return "expired", (
                f"the {role} {_subject(cert)} expired on "
                f"{iso_utc(cert.not_valid_after_utc)} ({_days(days)} before the check time)"
            )
    if not walk.anchored:
        return _diagnose_unanchored(leaf, walk, anchors, self_signed_leaf, _SENDER[purpose])

    for index, cert in enumerate(walk.path[:-1]):  # an anchor's own signature is not used
        algorithm = signature_hash_name(cert)
        if algorithm in _WEAK_SIGNATURE_HASHES:
            return "weak_signature", (
                f"the {_role(index, walk)} {_subject(cert)} is signed with {algorithm}, which "
                "the verifier forbids: it is no longer collision-resistant"
            )
    for index, cert in enumerate(walk.path[1:], start=1):
        key_type, bits, _ = key_description(cert)
        if key_type == "RSA" and bits is not None and bits < MIN_RSA_ISSUER_BITS:
            return "weak_key", (
                f"the {_role(index, walk)} {_subject(cert)} signs with a {bits}-bit RSA key; "
                f"the verifier requires at least {MIN_RSA_ISSUER_BITS} bits"
            )
    try:
        if purpose == "client":
            _client_or_sip_domain(None, leaf, _leaf_eku(leaf))
        else:
            _server_or_sip_domain(None, leaf, _leaf_eku(leaf))
    except ValueError:
        if purpose == "client":
            return "bad_eku", (
                "the leaf's extendedKeyUsage allows neither clientAuth nor id-kp-sipDomain "
                "(RFC 5924), so it cannot authenticate a SIP client"
            )
        return "bad_eku", (
            "the leaf's extendedKeyUsage allows neither serverAuth nor id-kp-sipDomain "
            "(RFC 5924), so it cannot authenticate a SIP server"
        )
    san_problem = _san_marking_problem(leaf)
    if san_problem is not None:
        return "invalid", san_problem
    if "name constraint" in raw_error:
        return "invalid", (
            "a CA on the path limits the names it may certify (nameConstraints, RFC 5280 "
            f"§4.2.1.10) and the leaf's names break that limit ({raw_error})"
        )
    return "invalid", f"cryptography's verifier rejected the chain: {raw_error}"


def _diagnose_unanchored(
    leaf: x509.Certificate,
    walk: _Walk,
    anchors: TrustAnchors,
    self_signed_leaf: bool,
    sender: str,
) -> tuple[ChainReasonKind, str]:
    last = walk.path[-1]
    issuer = format_name(last.issuer)
    if last is leaf:
        if self_signed_leaf:
            return "self_signed", (
                f"the leaf {_subject(leaf)} is self-signed and is not in the trust store "
                f"({anchors.source})"
            )
        if walk.impostor is not None:
            return "missing_intermediate", (
                f"{sender} sent a certificate named {issuer}, but its key did not sign the "
                "leaf: the intermediate that issued the leaf is missing (stale chain file?)"
            )
        if any(anchor.subject == leaf.issuer for anchor in anchors.certificates):
            return "unknown_issuer", (
                f"the trust store has a CA named {issuer}, but its key did not sign the leaf "
                "(a different CA with the same name)"
            )
        return "missing_intermediate", (
            f"{sender} did not send the intermediate certificate that issued the leaf "
            f"(issuer: {issuer}), and the trust store has no CA of that name either"
        )
    if is_self_signed(last):
        return "unknown_issuer", (
            f"the chain {sender} sent ends at the self-signed root {_subject(last)}, which "
            f"is not in the trust store ({anchors.source})"
        )
    return "unknown_issuer", (
        f"the chain ends at {_subject(last)}, issued by {issuer}, which is not in the trust "
        f"store ({anchors.source}): wrong CA, or {sender} left out a further intermediate"
    )


def _role(index: int, walk: _Walk) -> str:
    if index == 0:
        return "leaf certificate"
    if walk.anchored and index == len(walk.path) - 1:
        return "trust anchor"
    return "intermediate certificate"


def _subject(cert: x509.Certificate) -> str:
    return format_name(cert.subject)


def _days(days: int) -> str:
    return "less than a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


def _leaf_eku(leaf: x509.Certificate) -> x509.ExtendedKeyUsage | None:
    try:
        return leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return None
