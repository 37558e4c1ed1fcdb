"""Policies: what evidence is judged against. Plain data, cheap to import."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from probe.verdict.checks.options import AcceptedCodes, PingThresholds

if TYPE_CHECKING:
    from probe.evidence.run import OrderMode
    from probe.tls.trust import TrustAnchors


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """What the certificate and the TLS session are judged against."""

    min_version: str = "1.2"
    """Lowest acceptable TLS version (RFC 9325 §4.1: 1.2)."""
    warn_days: int = 30
    """Warn when a certificate expires within this many days."""
    critical_days: int = 7
    """Fail when a certificate expires within this many days."""
    accept_wildcards: bool = False
    """Accept RFC 2818 wildcards, which RFC 5922 forbids for SIP (Teams accepts them)."""
    accept_srv_target_identity: bool = False
    """Take a certificate for the SRV target instead of the dialled domain, as a warning
    (RFC 5922 §7.2 has the client match the domain; carriers often present the
    target's certificate)."""
    insecure: bool = False
    """Report certificate failures as warnings (`--insecure`)."""


@dataclass(frozen=True, slots=True)
class OptionsPolicy:
    """What an OPTIONS probe is judged against."""

    accept: AcceptedCodes = field(default_factory=AcceptedCodes)
    tls: TlsPolicy = field(default_factory=TlsPolicy)
    ping: PingThresholds = field(default_factory=PingThresholds)
    """Loss and RTT thresholds (`--loss-warn`, `--rtt-crit`, ...)."""
    anchors: TrustAnchors | None = None
    now: dt.datetime | None = None
    """The instant certificates are judged at; the runner sets it once per run."""

    def at(self, now: dt.datetime) -> OptionsPolicy:
        return replace(self, now=now)


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    """How an endpoint list is ordered and what its failover must offer."""

    mode: OrderMode = "list"
    """`list` (as configured), `fixed` (the same, for providers with fixed names), or
    `priority` (lowest priority first, weights sharing within a priority)."""


@dataclass(frozen=True, slots=True)
class InboundPolicy:
    """What calls received from a trunk are judged against (`sipprobe answer`)."""

    expect_peer: tuple[str, ...] = ()
    """The names the caller's client certificate must prove (`--expect-peer`, a
    scenario's `inbound.expect_peer`), matched as a server's are (RFC 5922 §7.1, §7.2)."""
    require_client_cert: bool = False
    """A TLS caller that presents no certificate fails (mutual TLS required)."""
    require_tls: bool = True
    """A call over TCP or UDP fails: the trunk promises TLS signalling."""
    require_srtp: bool = True
    """An offer without SRTP fails: the trunk promises encrypted media (Secure Trunking)."""
    tls: TlsPolicy = field(default_factory=TlsPolicy)
    anchors: TrustAnchors | None = None
    """What the caller's chain must lead to; None: the system store."""
    now: dt.datetime | None = None
