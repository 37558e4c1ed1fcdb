"""Pure verdict on the identity a leaf proves: is it a certificate for the dialled SIP domain?

RFC 5922 §7.1 and §7.2 decide (SAN URI sip: first, then dNSName, the CN only when there is
no subjectAltName at all, no wildcards), with the RFC 2818/6125 verdict reported alongside
because some providers accept wildcards. Names are compared as the certificate states them:
no conversion (IDNA, dropping a trailing dot, Unicode case folding) invents a match. The
chain is `probe.tls.verify`'s question. No I/O and no clock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from probe.tls.certinfo import (
    SipIdentities,
    format_name,
    ip_literal,
    normalise_host,
    sip_identities,
)
from probe.tls.readable import certificate_defect, certificate_label

IdentityMatch = Literal["uri", "dns", "ip", "cn", "wildcard"]


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
