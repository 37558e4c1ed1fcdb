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
    from probe.evidence import Target

JsonValue = Any
"""A value that `json.dumps` accepts: str, int, float, bool, None, list, dict."""


class Status(enum.StrEnum):
    """Outcome of one check, from best to worst for the verdict's purposes."""

    PASS = "pass"
    WARN = "warn"
    SKIP = "skip"
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
    FAILOVER_ORDER = "failover.order"
    FAILOVER_PRIMARY = "failover.primary"
    FAILOVER_REDUNDANCY = "failover.redundancy"
    SIP_OPTIONS = "sip.options"
    SIP_RESPONSE = "sip.response"
    SIP_INVITE = "sip.invite"
    SIP_TEARDOWN = "sip.teardown"
    SDP_SRTP = "sdp.srtp"
    SDP_SDES_TRANSPORT = "sdp.sdes_transport"
    MEDIA_SRTP = "media.srtp"


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
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


def rounded_ms(value: float | None) -> float | None:
    """Milliseconds to the microsecond: what a report should show, no float noise."""
    return None if value is None else round(value, 3)


def overall_verdict(findings: Iterable[Finding]) -> Verdict:
    """Fail if anything failed or errored, warn if anything warned, otherwise pass.

    Skipped checks do not count either way: a skip says a check did not apply.
    """
    statuses = {finding.status for finding in findings}
    if statuses & {Status.FAIL, Status.ERROR}:
        return Verdict.FAIL
    if Status.WARN in statuses:
        return Verdict.WARN
    return Verdict.PASS


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One probed target and the findings about it, in check order."""

    target: Target
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.findings)

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
        }
