"""Wiring one command: URIs → locate (RFC 3263) → collect (concurrently, bounded) → judge →
report.

The runner owns the clock readings that the pure layers receive (`now` for certificate
judgement, the run's duration), the random source for SRV weighting, and the concurrency
bound; it holds no policy of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from probe.checks import OptionsPolicy, judge_options
from probe.checks.failover import (
    Endpoint,
    OrderedTarget,
    OrderMode,
    judge_failover,
    provider_order,
    weight_shares,
)
from probe.checks.location import check_location, check_unlocated
from probe.checks.policy import FailoverPolicy
from probe.evidence import DEFAULT_PORTS, Target, Transport
from probe.findings import CheckId, Finding, Status, TargetResult
from probe.locate import LocatedTarget, LocateResult, locate
from probe.net.options import ProbeSettings, collect_options
from probe.report.model import Report
from probe.sip import SipUri


class TargetError(ValueError):
    """A target URI that cannot be probed (unsupported transport...)."""


def check_target_uri(uri: SipUri, text: str) -> Transport:
    """Refuse what cannot be probed before any lookup; the transport RFC 3263 §4.1 implies
    without DNS (TLS for `sips:`/`transport=tls`, else the parameter, else UDP)."""
    if uri.scheme == "sips" and uri.transport not in (None, "tls", "tcp"):
        raise TargetError(f"{text}: a sips: URI needs TLS, not transport={uri.transport}")
    if uri.is_secure:
        return "tls"
    transport = uri.transport
    if transport is None or transport == "udp":
        return "udp"
    if transport == "tcp":
        return "tcp"
    raise TargetError(f"{text}: transport={transport} is not supported (tls, tcp or udp)")


def unresolved_target(uri: SipUri, text: str) -> Target:
    """A target for a URI that located nothing: named, but with no address."""
    transport = check_target_uri(uri, text)
    port = uri.port if uri.port is not None else DEFAULT_PORTS[transport]
    return Target(uri=text, host=uri.host, port=port, transport=transport)


@dataclass(frozen=True, slots=True)
class LocateSettings:
    dns_server: tuple[str, int] | None = None
    seed: int | None = None
    """Seed for the RFC 2782 weighted choice, so an SRV order can be reproduced."""


@dataclass(frozen=True, slots=True)
class Located:
    """One URI and where it led."""

    text: str
    uri: SipUri
    result: LocateResult

    def targets(self) -> list[tuple[LocatedTarget, Target]]:
        return [
            (
                found,
                Target(
                    uri=self.text,
                    host=found.host,
                    port=found.port,
                    transport=found.transport,
                    address=found.address,
                ),
            )
            for found in self.result.targets
        ]


async def locate_all(
    uris: Sequence[tuple[str, SipUri]], settings: ProbeSettings, where: LocateSettings
) -> list[Located]:
    rng = random.Random(where.seed)

    async def one(text: str, uri: SipUri) -> Located:
        result = await locate(
            uri,
            pins=settings.pins,
            dns_server=where.dns_server,
            timeout=settings.timeout,
            rng=random.Random(rng.random()),
        )
        return Located(text, uri, result)

    return list(await asyncio.gather(*(one(text, uri) for text, uri in uris)))


async def probe_located(
    located: Sequence[Located],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    *,
    concurrency: int,
) -> list[list[TargetResult]]:
    """Probe every target of every located URI, at most `concurrency` at a time.

    Results keep the input order: one list per URI, its targets in location order; a URI
    that located nothing gets one result carrying the failing `dns.resolve`.
    """
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(entry: Located, found: LocatedTarget, target: Target) -> TargetResult:
        async with gate:
            evidence = await collect_options(entry.uri, target, settings)
        findings = judge_options(evidence, policy)
        location = check_location(entry.result, found, evidence.target.label)
        return TargetResult(evidence.target, tuple([location, *findings] if location else findings))

    async def per_uri(entry: Located) -> list[TargetResult]:
        pairs = entry.targets()
        if not pairs:
            target = unresolved_target(entry.uri, entry.text)
            skipped = Finding(
                CheckId.SIP_OPTIONS, Status.SKIP, target.label, "OPTIONS not sent: no target"
            )
            return [TargetResult(target, (check_unlocated(entry.result, target.label), skipped))]
        return list(await asyncio.gather(*(one(entry, f, t) for f, t in pairs)))

    return list(await asyncio.gather(*(per_uri(entry) for entry in located)))


def _ordered(
    endpoint: Endpoint,
    found: LocatedTarget | None,
    result: TargetResult,
    shares: dict[int, float],
) -> OrderedTarget:
    """Place one target: an SRV record's priority and weight order it within its endpoint
    (DNS's weighting); otherwise the configured ones (the provider's)."""
    if found is not None and found.priority is not None:
        return OrderedTarget(
            endpoint,
            result,
            group=found.srv_target or endpoint.host,
            share=found.share,
            priority=found.priority,
            weight=found.weight,
        )
    share = shares.get(endpoint.position) if endpoint.priority is not None else None
    return OrderedTarget(
        endpoint,
        result,
        group=endpoint.host,
        share=share,
        priority=endpoint.priority,
        weight=endpoint.weight,
    )


def _stamp(policy: OptionsPolicy) -> OptionsPolicy:
    return policy if policy.now is not None else policy.at(dt.datetime.now(dt.UTC))


async def run_options(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    *,
    where: LocateSettings = LocateSettings(),
    concurrency: int = 50,
    notes: Sequence[str] = (),
) -> Report:
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    located = await locate_all(uris, settings, where)
    results = await probe_located(located, settings, _stamp(policy), concurrency=concurrency)
    return Report(
        command="options",
        started_at=started_at.isoformat(timespec="milliseconds"),
        duration_ms=(time.perf_counter() - started) * 1000,
        results=tuple(result for group in results for result in group),
        notes=tuple(notes),
    )


async def run_failover(
    endpoints: Sequence[tuple[Endpoint, SipUri]],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    failover: FailoverPolicy,
    *,
    where: LocateSettings = LocateSettings(),
    concurrency: int = 50,
    notes: Sequence[str] = (),
) -> Report:
    """Probe every target of every endpoint; judge them, then the list as a whole."""
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    located = await locate_all([(e.uri, uri) for e, uri in endpoints], settings, where)
    results = await probe_located(located, settings, _stamp(policy), concurrency=concurrency)
    by_position = {
        endpoint.position: (entry, group)
        for (endpoint, _uri), entry, group in zip(endpoints, located, results, strict=True)
    }
    order = provider_order([endpoint for endpoint, _uri in endpoints], failover.mode)
    shares = weight_shares([endpoint for endpoint, _uri in endpoints])
    ordered: list[OrderedTarget] = []
    for endpoint in order:
        entry, group = by_position[endpoint.position]
        found: list[LocatedTarget | None] = [*entry.result.targets] or [None]
        for located_target, result in zip(found, group, strict=False):
            ordered.append(_ordered(endpoint, located_target, result, shares))
    trunk = judge_failover(ordered, mode=failover.mode)
    return Report(
        command="failover",
        started_at=started_at.isoformat(timespec="milliseconds"),
        duration_ms=(time.perf_counter() - started) * 1000,
        results=tuple(target.result for target in ordered),
        notes=tuple(notes),
        trunk_findings=tuple(trunk),
    )


__all__ = [
    "Endpoint",
    "LocateSettings",
    "Located",
    "OrderMode",
    "TargetError",
    "check_target_uri",
    "run_failover",
    "run_options",
]
