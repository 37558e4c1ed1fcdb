"""Name cases of C2SP's x509-limbo suite, re-created with the project's own PKI generator.

Each row mirrors one limbo test case (by its id), says the verdict limbo expects for it
(limbo judges a web PKI client: chain and name together), and the verdict sipprobe gives:
`pass` when `tls.chain` passes and `tls.identity` passes or warns, else `fail`. Where
sipprobe differs on purpose, `why` says so in one line: RFC 5922 has its own rules for SIP
(no wildcards unless --accept-wildcard, the CN only without any subjectAltName, sip: URI
names first). Nothing of limbo's code or data is used; only the cases are re-created.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.evidence.model import ProbeEvidence, TlsEvidence
from probe.tls import pki
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.certificate import judge_certificates
from probe.verdict.checks.policy import TlsPolicy
from probe.verdict.findings import CheckId, Status
from tests.checks.evidence_factory import TARGET

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
Verdict = Literal["pass", "fail"]

RFC5922_NO_WILDCARDS = "RFC 5922 §7.2 forbids wildcard matching for SIP"
RFC5922_CN_WITHOUT_SAN = "RFC 5922 §7.1 reads the CN when there is no subjectAltName (warns)"
CN_IGNORED_WITH_SAN = (
    "RFC 5922 §7.1 ignores the CN when a subjectAltName exists, so what the CN says (a "
    "CA/B Forum issuance rule) is not an identity question"
)


@dataclass(frozen=True)
class Row:
    limbo_id: str
    peer: str
    """The dialled host: limbo's expected peer name."""
    leaf: Mapping[str, object]
    """`pki.make_leaf` arguments beyond the issuer."""
    limbo: Verdict
    sipprobe: Verdict
    why: str | None = None
    """Why sipprobe's verdict differs from limbo's; None when they agree."""
    accept_wildcard: bool = False
    constraints: x509.NameConstraints | None = None
    """NameConstraints on the issuing CA."""
    extra: Mapping[str, object] = field(default_factory=dict)


def dns(*names: str, **more: object) -> dict[str, object]:
    return {"common_name": None, "dns_names": list(names), **more}


def permitted(*subtrees: x509.GeneralName) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=list(subtrees), excluded_subtrees=None)


def excluded(*subtrees: x509.GeneralName) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=None, excluded_subtrees=list(subtrees))


NET_192_0_2 = x509.IPAddress(ipaddress.ip_network("192.0.2.0/24"))

ROWS = [
    # --- exact names and mismatches (RFC 6125 §6.4.1) ---------------------------------
    Row("webpki::san::exact-dns-san", "example.com", dns("example.com"), "pass", "pass"),
    Row(
        "webpki::san::exact-localhost-ip-san",
        "127.0.0.1",
        {"common_name": None, "ip_addresses": ["127.0.0.1"]},
        "pass",
        "pass",  # with a warning: RFC 5922 §7.2 knows no IP identities
    ),
    Row("webpki::san::mismatch-domain-san", "example2.com", dns("example.com"), "fail", "fail"),
    Row(
        "webpki::san::mismatch-subdomain-san",
        "def.example.com",
        dns("abc.example.com"),
        "fail",
        "fail",
    ),
    Row(
        "webpki::san::mismatch-subdomain-apex-san",
        "abc.example.com",
        dns("example.com"),
        "fail",
        "fail",
    ),
    Row(
        "webpki::san::mismatch-apex-subdomain-san",
        "example.com",
        dns("abc.example.com"),
        "fail",
        "fail",
    ),
    Row("rfc5280::san::ip-in-dns", "8.8.8.8", dns("8.8.8.8"), "fail", "fail"),
    Row(
        "rfc5280::san::underscore-dns",
        "foo_bar.example.com",
        dns("foo_bar.example.com"),
        "fail",
        "pass",
        why="names are compared as stated; LDH syntax is the dialled URI's question, and "
        "OpenSSL's X509_check_host (what SIP stacks use) matches it too",
    ),
    # --- wildcards (RFC 6125 §6.4.3) ---------------------------------------------------
    Row(
        "webpki::san::leftmost-wildcard-san",
        "foo.example.com",
        dns("*.example.com"),
        "pass",
        "fail",
        why=RFC5922_NO_WILDCARDS,
    ),
    Row(
        "webpki::san::leftmost-wildcard-san",
        "foo.example.com",
        dns("*.example.com"),
        "pass",
        "pass",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::wildcard-match-across-labels-san",
        "foo.bar.example.com",
        dns("*.example.com"),
        "fail",
        "fail",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::wildcard-embedded-leftmost-san",
        "baz.example.com",
        dns("ba*.example.com"),
        "fail",
        "fail",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::wildcard-not-in-leftmost-san",
        "foo.bar.example.com",
        dns("foo.*.example.com"),
        "fail",
        "fail",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::wildcard-embedded-ulabel-san",
        "xn--bliss-1b3c148a.example.com",
        dns("xn--*-1b3c148a.example.com"),
        "fail",
        "fail",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::public-suffix-wildcard-san",
        "something.com",
        dns("*.com"),
        "fail",
        "fail",
        accept_wildcard=True,
    ),
    Row(
        "webpki::san::public-suffix-multi-label-wildcard-san",
        "foo.co.uk",
        dns("*.co.uk"),
        "fail",
        "fail",
    ),
    Row(
        "webpki::san::public-suffix-multi-label-wildcard-san",
        "foo.co.uk",
        dns("*.co.uk"),
        "fail",
        "pass",
        why="sipprobe carries no public suffix list: --accept-wildcard trusts the CA not to "
        "have issued *.co.uk (a wildcard over a single label is still refused)",
        accept_wildcard=True,
    ),
    Row("webpki::san::san-wildcard-only", "example.com", dns("*"), "fail", "fail", None, True),
    # --- IDNA: names as the certificate states them -----------------------------------
    Row(
        "webpki::san::unicode-emoji-san",
        "xn--628h.example.com",
        {
            "common_name": "emoji leaf",
            "include_san": False,
            "raw_extensions": [pki.raw_subject_alt_name(pki.raw_dns_name("😜.example.com"))],
        },
        "fail",
        "fail",
    ),
    Row(
        "webpki::cn::utf8-vs-punycode-mismatch",
        "xn--test--wg5h0h.com",
        {"common_name": "test-測試.com", "dns_names": ["xn--test--wg5h0h.com"]},
        "fail",
        "pass",
        why=CN_IGNORED_WITH_SAN,
    ),
    # --- the Common Name ------------------------------------------------------------------
    Row(
        "webpki::san::no-san",
        "example.com",
        {"common_name": "example.com", "include_san": False},
        "fail",
        "pass",
        why=RFC5922_CN_WITHOUT_SAN,
    ),
    Row(
        "webpki::cn::not-in-san",
        "valid.example.com",
        {
            "common_name": "notinsan.example.com",
            "dns_names": ["valid.example.com", "another.example.com"],
        },
        "fail",
        "pass",
        why=CN_IGNORED_WITH_SAN,
    ),
    Row(
        "webpki::cn::case-mismatch",
        "example.com",
        {"common_name": "Example.COM", "dns_names": ["example.com"]},
        "fail",
        "pass",
        why=CN_IGNORED_WITH_SAN,
    ),
    # --- malformed or mis-marked subjectAltName ------------------------------------------
    Row(
        "rfc5280::san::malformed",
        "example.com",
        {
            "common_name": "example.com",
            "include_san": False,
            "raw_extensions": [pki.RawExtension(x509.SubjectAlternativeName.oid, b"example.com")],
        },
        "fail",
        "fail",
    ),
    Row(
        "rfc5280::san::noncritical-with-empty-subject",
        "example.com",
        {
            "common_name": None,
            "include_san": False,
            "raw_extensions": [pki.raw_subject_alt_name(pki.raw_dns_name("example.com"))],
        },
        "fail",
        "fail",
    ),
    Row(
        "webpki::san::san-critical-with-nonempty-subject",
        "example.com",
        {
            "common_name": "something-else",
            "include_san": False,
            "raw_extensions": [
                pki.raw_subject_alt_name(pki.raw_dns_name("example.com"), critical=True)
            ],
        },
        "fail",
        "fail",
    ),
    # --- name constraints (RFC 5280 §4.2.1.10) -------------------------------------------
    Row(
        "rfc5280::nc::permitted-dns-match",
        "example.com",
        dns("example.com"),
        "pass",
        "pass",
        constraints=permitted(x509.DNSName("example.com")),
    ),
    Row(
        "rfc5280::nc::permitted-dns-match-more",
        "foo.bar.example.com",
        dns("foo.bar.example.com"),
        "pass",
        "pass",
        constraints=permitted(x509.DNSName("example.com")),
    ),
    Row(
        "rfc5280::nc::permitted-dns-mismatch",
        "not-example.com",
        dns("not-example.com"),
        "fail",
        "fail",
        constraints=permitted(x509.DNSName("example.com")),
    ),
    Row(
        "rfc5280::nc::excluded-dns-match",
        "example.com",
        dns("example.com"),
        "fail",
        "fail",
        constraints=excluded(x509.DNSName("example.com")),
    ),
    Row(
        "rfc5280::nc::permitted-ipv4-match",
        "192.0.2.1",
        {"common_name": None, "ip_addresses": ["192.0.2.1"]},
        "pass",
        "pass",
        constraints=permitted(NET_192_0_2),
    ),
    Row(
        "rfc5280::nc::permitted-ip-mismatch",
        "192.0.3.1",
        {"common_name": None, "ip_addresses": ["192.0.3.1"]},
        "fail",
        "fail",
        constraints=permitted(NET_192_0_2),
    ),
    Row(
        "rfc5280::nc::excluded-ipv4-match",
        "192.0.2.1",
        {"common_name": None, "ip_addresses": ["192.0.2.1"]},
        "fail",
        "fail",
        constraints=excluded(NET_192_0_2),
    ),
]


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.make_root_ca("limbo names root", key_type="ec", now=NOW)


def sipprobe_verdict(row: Row, root: pki.Issued) -> tuple[Verdict, str, str]:
    issuer = pki.make_intermediate_ca(
        root, "limbo names CA", key_type="ec", now=NOW, name_constraints=row.constraints
    )
    leaf = pki.make_leaf(issuer, key_type="ec", now=NOW, **row.leaf)  # type: ignore[arg-type]
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in (leaf.cert, issuer.cert))
    target = replace(TARGET, uri=f"sip:{row.peer};transport=tls", host=row.peer, sni=None)
    evidence = ProbeEvidence(
        target=target,
        started_at="2026-03-01T12:00:00Z",
        timeout_s=5,
        tls=TlsEvidence(ok=True, sni=None, version="TLSv1.3", presented_chain=chain),
    )
    findings = judge_certificates(
        evidence,
        TrustAnchors((root.cert,), "limbo names root"),
        TlsPolicy(accept_wildcards=row.accept_wildcard),
        now=NOW,
    )
    by_check = {finding.check: finding for finding in findings}
    chain_finding = by_check[CheckId.TLS_CHAIN]
    identity = by_check[CheckId.TLS_IDENTITY]
    passed = chain_finding.status is Status.PASS and identity.status in (Status.PASS, Status.WARN)
    return ("pass" if passed else "fail"), chain_finding.summary, identity.summary


def row_id(row: Row) -> str:
    return row.limbo_id + (" --accept-wildcard" if row.accept_wildcard else "")


def test_the_table_covers_every_family() -> None:
    ids = [row.limbo_id for row in ROWS]
    assert len(ROWS) >= 20
    for family in ("wildcard", "unicode", "ip", "cn::", "no-san", "nc::", "malformed"):
        assert any(family in limbo_id for limbo_id in ids), family
    for row in ROWS:
        # A difference from limbo is always explained, and only a difference.
        assert (row.why is not None) == (row.sipprobe != row.limbo), row_id(row)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_limbo_name_case(row: Row, root: pki.Issued) -> None:
    verdict, chain_summary, identity_summary = sipprobe_verdict(row, root)
    assert verdict == row.sipprobe, (chain_summary, identity_summary)
