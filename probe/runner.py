"""Wiring one command: targets → collect (concurrently, bounded) → judge → report.

The runner owns the clock readings that the pure layers receive (`now` for certificate
judgement, the run's duration) and the concurrency bound; it holds no policy of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from probe.checks import OptionsPolicy, judge_options
from probe.evidence import DEFAULT_PORTS, ProbeEvidence, Target, Transport
from probe.net.options import ProbeSettings, collect_options
from probe.report.model import Report, TargetResult
from probe.sip import SipUri


class TargetError(ValueError):
    """A target URI that cannot be probed (unsupported transport...)."""


def transport_of(uri: SipUri) -> Transport:
    """RFC 3263 §4.1 without DNS: `sips:` and `transport=tls` mean TLS; otherwise the
    `transport` parameter; with none, UDP for `sip:` (TLS for `sips:`)."""
    if uri.is_secure:
        return "tls"
    transport = uri.transport
    if transport is None or transport == "udp":
        return "udp"
    if transport == "tcp":
        return "tcp"
    raise TargetError(f"{uri}: transport={transport} is not supported (tls, tcp or udp)")


def target_of(uri: SipUri, text: str) -> Target:
    transport = transport_of(uri)
    if uri.scheme == "sips" and uri.transport not in (None, "tls", "tcp"):
        raise TargetError(f"{text}: a sips: URI needs TLS, not transport={uri.transport}")
    port = uri.port if uri.port is not None else DEFAULT_PORTS[transport]
    return Target(uri=text, host=uri.host, port=port, transport=transport)


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    uri: SipUri
    target: Target


async def collect_all(
    probes: Sequence[PlannedProbe], settings: ProbeSettings, *, concurrency: int
) -> list[ProbeEvidence]:
    """Probe every target, at most `concurrency` at a time; results in input order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(planned: PlannedProbe) -> ProbeEvidence:
        async with gate:
            return await collect_options(planned.uri, planned.target, settings)

    return list(await asyncio.gather(*(one(planned) for planned in probes)))


def judge_all(evidence: Sequence[ProbeEvidence], policy: OptionsPolicy) -> tuple[TargetResult, ...]:
    return tuple(TargetResult(item.target, tuple(judge_options(item, policy))) for item in evidence)


async def run_options(
    probes: Sequence[PlannedProbe],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    *,
    concurrency: int = 50,
    notes: Sequence[str] = (),
) -> Report:
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    evidence = await collect_all(probes, settings, concurrency=concurrency)
    if policy.now is None:
        policy = policy.at(dt.datetime.now(dt.UTC))
    results = judge_all(evidence, policy)
    return Report(
        command="options",
        started_at=started_at.isoformat(timespec="milliseconds"),
        duration_ms=(time.perf_counter() - started) * 1000,
        results=results,
        notes=tuple(notes),
    )
