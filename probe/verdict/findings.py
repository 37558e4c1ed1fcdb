"""Findings: what a check concluded about one target, with the evidence behind it.

A finding is plain data. Checks produce them, reports render them; nothing here does I/O.
The check ids are part of the public contract (JSON consumers match on them), so they are
named once, here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from probe.evidence.model import Target

JsonValue = Any
"""A value that `json.dumps` accepts: str, int, float, bool, None, list, dict."""


class Status(enum.StrEnum):
    """Outcome of one check.

    `skip` says a check did not apply (no certificate on a TCP target, say); `incomplete`
    says work that was asked for was not done: interrupted, refused, cut off by a deadline,
    never sent. A skip is neutral; an incomplete finding is never a pass.
    """

    PASS = "pass"
    WARN = "warn"
    SKIP = "skip"
    INCOMPLETE = "incomplete"
    FAIL = "fail"
    ERROR = "error"


class CheckId(enum.StrEnum):
    """Stable check identifiers (documented in the README; never renamed)."""

    DNS_RESOLVE = "dns.resolve"
    NET_CONNECT = "net.connect"
    TLS_HANDSHAKE = "tls.handshake"
    TLS_CHAIN = "tls.chain"
    TLS_IDENTITY = "tls.identity"
    TLS_VALIDITY = "tls.validity"
    TLS_KEY = "tls.key"
    TLS_SIGNATURE = "tls.signature"
    TLS_EKU = "tls.eku"
    TLS_VERSION = "tls.version"
    TLS_VERSIONS = "tls.versions"
    TLS_CIPHERS = "tls.ciphers"
    TLS_CLIENT_CERT = "tls.client_cert"
    WS_UPGRADE = "ws.upgrade"
    FAILOVER_ORDER = "failover.order"
    FAILOVER_PRIMARY = "failover.primary"
    FAILOVER_REDUNDANCY = "failover.redundancy"
    SIP_OPTIONS = "sip.options"
    SIP_RESPONSE = "sip.response"
    SIP_AUTH = "sip.auth"
    SIP_KEEPALIVE = "sip.keepalive"
    SIP_INVITE = "sip.invite"
    SIP_TEARDOWN = "sip.teardown"
    SDP_SRTP = "sdp.srtp"
    SDP_SDES_TRANSPORT = "sdp.sdes_transport"
    MEDIA_SRTP = "media.srtp"
    PCAP_SIP_CLEARTEXT = "pcap.sip_cleartext"
    PCAP_SDES_EXPOSED = "pcap.sdes_exposed"
    STIR_IDENTITY = "stir.identity"
    STIR_CERTIFICATE = "stir.certificate"
    STIR_SIGNATURE = "stir.signature"
    STIR_CLAIMS = "stir.claims"
    STIR_ATTESTATION = "stir.attestation"
    PCAP_TLS = "pcap.tls"
    PCAP_TLS_CHAIN = "pcap.tls_chain"
    PCAP_CAPTURE = "pcap.capture"
    PCAP_MEDIA = "pcap.media"
    INBOUND_CALLS = "inbound.calls"
    INBOUND_TLS = "inbound.tls"
    INBOUND_CLIENT_CERT = "inbound.client_cert"
    INBOUND_INVITE = "inbound.invite"
    INBOUND_OFFER = "inbound.offer"
    INBOUND_MEDIA = "inbound.media"
    INBOUND_TEARDOWN = "inbound.teardown"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict on one target.

    `summary` is one sentence a person can act on; `details` carries the evidence that
    supports it, as JSON-ready values.
    """

    check: str
    status: Status
    target: str
    summary: str
    details: Mapping[str, JsonValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "check": self.check,
            "status": self.status.value,
            "target": self.target,
            "summary": self.summary,
            "details": dict(self.details),
        }


class Verdict(enum.StrEnum):
    """A run's or a target's outcome (docs/verdicts.md).

    PASS: every required check ran and passed. WARN: they all ran, some warn. FAIL:
    something failed, whatever else happened. INCOMPLETE: nothing failed, but work that
    was asked for was not done, so nothing can be promised (Nagios UNKNOWN).
    """

    PASS = "pass"
    WARN = "warn"
    INCOMPLETE = "incomplete"
    FAIL = "fail"


def rounded_ms(value: float | None) -> float | None:
    """Milliseconds to the microsecond: what a report should show, no float noise."""
    return None if value is None else round(value, 3)


_CONCLUSIVE = frozenset({Status.PASS, Status.WARN, Status.FAIL, Status.ERROR})
"""What a required check must have reached to count as done."""


def missing_checks(findings: Iterable[Finding], required: Iterable[str]) -> tuple[str, ...]:
    """The required checks that no finding concluded (absent, skipped or incomplete)."""
    concluded = {finding.check for finding in findings if finding.status in _CONCLUSIVE}
    return tuple(check for check in required if check not in concluded)


def overall_verdict(findings: Iterable[Finding], required: Iterable[str] = ()) -> Verdict:
    """Fail if anything failed or errored; otherwise incomplete if any work asked for was
    not done (an incomplete finding, a required check with no conclusive finding, or no
    finding at all); otherwise warn if anything warned; otherwise pass.

    A failure seen is reported as such even when other work is unfinished: it is already
    enough to act on. Skipped checks count neither way: a skip says a check did not apply,
    which is why absence of a finding is judged against `required`, never assumed fine.
    """
    findings = tuple(findings)
    statuses = {finding.status for finding in findings}
    if statuses & {Status.FAIL, Status.ERROR}:
        return Verdict.FAIL
    if not findings or Status.INCOMPLETE in statuses or missing_checks(findings, required):
        return Verdict.INCOMPLETE
    if Status.WARN in statuses:
        return Verdict.WARN
    return Verdict.PASS


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict of several parts: fail, then incomplete, then warn, then pass; no
    part at all is incomplete (nothing was verified)."""
    seen = set(verdicts)
    for verdict in (Verdict.FAIL, Verdict.INCOMPLETE, Verdict.WARN, Verdict.PASS):
        if verdict in seen:
            return verdict
    return Verdict.INCOMPLETE


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One probed target and the findings about it, in check order."""

    target: Target
    findings: tuple[Finding, ...]
    required: tuple[str, ...] = ()
    """The checks this target had to conclude (probe.verdict.checks.required_checks): a verdict
    is PASS only when each of them has a pass or warn finding."""

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.findings, self.required)

    @property
    def missing(self) -> tuple[str, ...]:
        """Required checks that did not conclude."""
        return missing_checks(self.findings, self.required)

    def to_dict(self) -> dict[str, JsonValue]:
        target = self.target
        return {
            "target": target.label,
            "uri": target.uri,
            "host": target.host,
            "address": target.address,
            "port": target.port,
            "transport": target.transport,
            "sni": target.sni,
            "verdict": self.verdict.value,
            "required": list(self.required),
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """One audited capture (`sipprobe pcap`) and the findings about it, in check order."""

    capture: str
    """The file, as it was named."""
    findings: tuple[Finding, ...]
    required: tuple[str, ...] = ()
    """The checks the capture had to conclude: PASS only when each has a pass or warn."""
    facts: Mapping[str, JsonValue] = field(default_factory=dict)
    """What was read: format, records, time span, how reading ended."""

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.findings, self.required)

    @property
    def missing(self) -> tuple[str, ...]:
        return missing_checks(self.findings, self.required)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "capture": self.capture,
            "verdict": self.verdict.value,
            "required": list(self.required),
            "missing": list(self.missing),
            "facts": dict(self.facts),
        }
