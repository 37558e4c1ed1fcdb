"""Pure verdicts on a presented chain and on the identity its leaf proves.

Two questions, kept apart on purpose so a report can say exactly what is wrong:

* `verify_chain`: does the chain the server sent lead to a trust anchor at `now`?
  cryptography's verifier (RFC 5280 path validation with the webpki profile, asked about
  no name) decides; when it refuses, the chain is rebuilt here by name and signature to say
  *why* in words an engineer can act on (missing intermediate, wrong CA, expired...).
* `match_identity`: is the leaf a certificate for the SIP domain that was dialled?
  RFC 5922 §7.1 and §7.2 decide, with the RFC 2818/6125 verdict reported alongside because
  some providers accept wildcards. Names are compared as the certificate states them.

A certificate cryptography cannot read (a duplicated extension, an x400Address name...)
gets a failing verdict naming it; neither function raises on a presented certificate.

No I/O and no clock: the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
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
    SipIdentities,
    as_utc,
    certificate_defect,
    certificate_label,
    format_name,
    ip_literal,
    is_read_failure,
    is_self_signed,
    iso_utc,
    key_description,
    normalise_host,
    signature_hash_name,
    signed_by,
    sip_identities,
)
from probe.tls.trust import TrustAnchors

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
IdentityMatch = Literal["uri", "dns", "ip", "cn", "wildcard"]

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


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    """Whether the leaf names the dialled SIP domain (RFC 5922), and under RFC 2818."""

    ok: bool
    """The RFC 5922 §7.2 verdict."""
    rfc2818_ok: bool
    """The HTTPS-style verdict (RFC 2818 §3.1 / RFC 6125 §6.4): wildcards and CN allowed."""
    matched_by: IdentityMatch | None
    matched_name: str | None
    """The certificate value that matched, e.g. `sip:example.test` or `DNS:*.example.test`."""
    covered_names: tuple[str, ...]
    """Every identity the certificate carries: `sip:…`, `DNS:…`, `IP:…`, `CN:…`."""
    reason: str | None
    """Why `ok` is False; None when ok."""
    warning: str | None = None


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


def verify_chain(
    presented: Sequence[x509.Certificate], anchors: TrustAnchors, *, now: dt.datetime
) -> ChainVerdict:
    """Judge the chain as sent: `presented[0]` is the leaf, the rest what came with it.

    Only the path to a trust anchor is judged (RFC 5280 §6); which names the leaf carries
    is `match_identity`'s question.
    """
    now = as_utc(now)
    chain = tuple(presented)
    if not chain:
        return ChainVerdict(False, "the server presented no certificate", "empty")
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
        verified = _build_verifier(anchors, now).verify(leaf, list(extra))
    except BaseException as exc:  # VerificationError, or whatever a hostile anchor provokes
        if not is_read_failure(exc):
            raise
        kind, reason = _diagnose(leaf, extra, anchors, now, self_signed_leaf, str(exc))
        return verdict(kind, reason, raw_error=str(exc))
    return verdict("ok", None, verified.chain)


def _build_verifier(anchors: TrustAnchors, now: dt.datetime) -> ClientVerifier:
    return (
        PolicyBuilder()
        .store(Store(list(anchors.certificates)))
        .time(now)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
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
        return _diagnose_unanchored(leaf, walk, anchors, self_signed_leaf)

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
        _server_or_sip_domain(None, leaf, _leaf_eku(leaf))
    except ValueError:
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
    leaf: x509.Certificate, walk: _Walk, anchors: TrustAnchors, self_signed_leaf: bool
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
                f"the server sent a certificate named {issuer}, but its key did not sign the "
                "leaf: the intermediate that issued the leaf is missing (stale chain file?)"
            )
        if any(anchor.subject == leaf.issuer for anchor in anchors.certificates):
            return "unknown_issuer", (
                f"the trust store has a CA named {issuer}, but its key did not sign the leaf "
                "(a different CA with the same name)"
            )
        return "missing_intermediate", (
            "the server did not send the intermediate certificate that issued the leaf "
            f"(issuer: {issuer}), and the trust store has no CA of that name either"
        )
    if is_self_signed(last):
        return "unknown_issuer", (
            f"the chain the server sent ends at the self-signed root {_subject(last)}, which "
            f"is not in the trust store ({anchors.source})"
        )
    return "unknown_issuer", (
        f"the chain ends at {_subject(last)}, issued by {issuer}, which is not in the trust "
        f"store ({anchors.source}): wrong CA, or the server left out a further intermediate"
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


# --- identity --------------------------------------------------------------------------

_IP_WARNING = (
    "matched an iPAddress subjectAltName; RFC 5922 §7.2 does not accept IP addresses as SIP "
    "domain identities, so dial a domain name where the provider allows it"
)
_CN_WARNING = (
    "matched the Common Name, which RFC 5922 §7.1 reads only from a certificate without "
    "subjectAltName and many TLS clients no longer read at all (RFC 6125 §6.4.4): put the "
    "name in a subjectAltName"
)


def match_identity(
    leaf: x509.Certificate, *, domain: str, now: dt.datetime | None = None
) -> IdentityVerdict:
    """RFC 5922 §7.1-7.2: does `leaf` identify `domain`, the host of the dialled URI?

    `domain` is a DNS name, an IPv4 literal or an IPv6 literal (brackets optional). The
    chain is not considered here (see `verify_chain`), nor is time: `now` is accepted only
    so every judgement has the same shape.
    """
    del now
    defect = certificate_defect(leaf)
    if defect is not None:
        reason = (
            defect.sentence(certificate_label(leaf, 0)) + "; the names it claims cannot be checked"
        )
        return IdentityVerdict(False, False, None, None, (), reason)
    ids = sip_identities(leaf)
    covered = ids.covered()
    target = normalise_host(domain)
    if not target:
        return IdentityVerdict(False, False, None, None, covered, "no domain to match")

    def verdict(
        ok: bool,
        rfc2818_ok: bool,
        matched_by: IdentityMatch | None,
        matched_name: str | None,
        reason: str | None,
        warning: str | None = None,
    ) -> IdentityVerdict:
        return IdentityVerdict(ok, rfc2818_ok, matched_by, matched_name, covered, reason, warning)

    address = ip_literal(target)
    if address is not None:
        # RFC 2818 §3.1: an IP literal must match an iPAddress SAN exactly, never a name.
        for candidate in ids.ip_addresses:
            if _same_ip(candidate, address):
                return verdict(True, True, "ip", f"IP:{candidate}", None, _IP_WARNING)
        return verdict(False, False, None, None, _mismatch(ids, covered, str(address)))

    rfc2818 = _rfc2818_match(ids, target)
    if target in ids.sip_domains:
        return verdict(True, rfc2818 is not None, "uri", f"sip:{target}", None)
    if target in ids.dns_names:
        if ids.sip_domains:
            # RFC 5922 §7.1: a dNSName is a SIP domain identity only when the certificate
            # has no sip: URI identity at all.
            reason = (
                f"DNS:{target} names the domain, but the certificate also carries SIP URI "
                f"identities ({', '.join(f'sip:{h}' for h in ids.sip_domains)}), and RFC 5922 "
                "§7.1 then ignores dNSName entries"
            )
            return verdict(False, True, "dns", f"DNS:{target}", reason)
        return verdict(True, True, "dns", f"DNS:{target}", None)
    if rfc2818 is not None:
        kind: IdentityMatch = "wildcard" if "*" in rfc2818 else "cn"
        if kind == "wildcard":
            reason = (
                f"only the wildcard {rfc2818} covers {target}; RFC 5922 §7.2 forbids wildcard "
                "matching for SIP (RFC 2818/6125 clients would accept it)"
            )
            return verdict(False, True, kind, rfc2818, reason)
        if not ids.san_present:
            return verdict(True, True, "cn", rfc2818, None, _CN_WARNING)
        reason = (
            f"only the Common Name names {target}; RFC 5922 §7.1 ignores the Common Name "
            "when the certificate has a subjectAltName"
        )
        return verdict(False, True, "cn", rfc2818, reason)
    return verdict(False, False, None, None, _mismatch(ids, covered, target))


def _same_ip(
    a: ipaddress.IPv4Address | ipaddress.IPv6Address,
    b: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    def plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> object:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return mapped or ip

    return plain(a) == plain(b)


def _wildcard_covers(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4.3: `*` as the whole left-most label stands for exactly one label.

    Patterns with fewer than three labels (`*.test`) are refused, as browsers do, so a
    wildcard never spans a whole top-level domain (RFC 6125 §7.2).
    """
    labels = pattern.split(".")
    if labels[0] != "*" or len(labels) < 3 or "*" in pattern[1:]:
        return False
    host_labels = host.split(".")
    return (
        len(host_labels) == len(labels) and bool(host_labels[0]) and host_labels[1:] == labels[1:]
    )


def _rfc2818_match(ids: SipIdentities, host: str) -> str | None:
    """The value an HTTPS client would accept for `host` (RFC 2818 §3.1), or None."""
    if ids.dns_names:
        for name in ids.dns_names:
            if name == host:
                return f"DNS:{name}"
        for name in ids.dns_names:
            if _wildcard_covers(name, host):
                return f"DNS:{name}"
        return None
    # Only without any dNSName does RFC 2818 fall back to the (most specific) CN.
    cn = ids.common_name
    if cn and (cn == host or _wildcard_covers(cn, host)):
        return f"CN:{cn}"
    return None


def _mismatch(ids: SipIdentities, covered: tuple[str, ...], target: str) -> str:
    if not covered:
        reason = f"the certificate carries no identity a SIP client can check; not for {target}"
    else:
        reason = f"certificate is for {', '.join(covered)}; not for {target}"
    notes = [note for name in covered if (note := _misstated(name, target)) is not None]
    if notes:
        reason += " (" + "; ".join(notes) + ")"
    near = [uri for uri, host in ids.non_identity_uris if host.rstrip(".") == target]
    if near:
        reason += (
            f" ({', '.join(near)} names it, but RFC 5922 §7.1 accepts only sip: URIs "
            "without a user part as SIP domain identities)"
        )
    return reason


def _misstated(covered_name: str, target: str) -> str | None:
    """Why a certificate name that is nearly `target` does not match it, or None.

    Names are compared as the certificate states them (RFC 6125 §6.4.1: the presented
    identifier against the reference identifier, label by label); these are the two ways a
    misissued certificate comes close.
    """
    kind, _, name = covered_name.partition(":")
    if not name.isascii():
        try:
            a_label: str | None = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            a_label = None
        how = f"its A-label would be {a_label}" if a_label else "it has no A-label form"
        return (
            f"{covered_name} is written in raw UTF-8 ({how}); RFC 5280 §7.2 requires an IDN "
            "in a certificate to be written as A-labels, and sipprobe does not convert it: "
            "that would match a name the certificate does not state"
        )
    if name.endswith(".") and name.rstrip(".") == target:
        # RFC 5280 §4.2.1.6 wants dNSName in RFC 1034 §3.5's preferred name syntax, which
        # has no trailing dot, and RFC 6125 §6.4.1 compares the presented identifier label by
        # label as stated, so `example.com.` (an empty last label) does not match
        # `example.com`. TLS clients agree: OpenSSL's X509_check_host and Go strip a dot only
        # from the name being looked for, never from the certificate's. RFC 5922 §7.2 defers
        # to these rules for dNSName and compares a sip: URI host the same way.
        return (
            f"{covered_name} ends with a dot, which RFC 5280 §4.2.1.6 does not allow in a "
            "certificate name and TLS clients do not match: reissue it as "
            f"{kind}:{name.rstrip('.')}"
        )
    return None


def sip_domain_outside_constraints(domain: str, path: Sequence[x509.Certificate]) -> str | None:
    """Why a CA on the verified `path` may not vouch for the SIP domain `domain`, or None.

    RFC 5280 §4.2.1.10 applies dNSName constraints to dNSName entries only, so a CA limited
    to `example.com` can still sign URI:sip:evil.com and the verifier lets it through. For
    SIP that URI names a domain (RFC 5922 §7.1), so the CA's DNS limits are applied to it
    here: a domain outside them is not an identity that CA could certify.
    """
    host = normalise_host(domain)
    for cert in path[1:]:
        try:
            constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        permitted = [
            name.value
            for name in constraints.permitted_subtrees or ()
            if isinstance(name, x509.DNSName)
        ]
        excluded = [
            name.value
            for name in constraints.excluded_subtrees or ()
            if isinstance(name, x509.DNSName)
        ]
        ca = format_name(cert.subject)
        if permitted and not any(_within(host, base) for base in permitted):
            return (
                f"the CA {ca} may only certify names under {', '.join(permitted)} "
                f"(nameConstraints, RFC 5280 §4.2.1.10), so its sip: URI for {host} is "
                "outside its authority"
            )
        hit = next((base for base in excluded if _within(host, base)), None)
        if hit is not None:
            return (
                f"the CA {ca} is barred from names under {hit} (nameConstraints, RFC 5280 "
                f"§4.2.1.10), so its sip: URI for {host} is outside its authority"
            )
    return None


def _within(host: str, base: str) -> bool:
    """RFC 5280 §4.2.1.10: `base` covers itself and any name made by adding labels on the left."""
    base = base.lower().lstrip(".")
    return host == base or host.endswith("." + base)
