"""Wiring one command: URIs → locate (RFC 3263) → collect (concurrently, bounded) → judge →
report.

The runner owns the clock readings that the pure layers receive (`now` for certificate
judgement, the run's duration), the random source for SRV weighting, and the concurrency
bound; it holds no policy of its own. Collection ends in a `RunEvidence` (what
`--evidence-out` saves) and judgement starts from one (`judge_run`), so a fresh run and a
saved one are judged by the same code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from probe import progress
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
from probe.evidence_io.model import (
    CallPlan,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunCommand,
    RunEvidence,
    RunSettings,
)
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


def _started() -> dt.datetime:
    """Now, to the millisecond. The evidence keeps `started_at` to the millisecond and
    certificates are judged at exactly that instant, so judging the saved evidence again
    (`sipprobe judge`) concludes what the run concluded."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def run_settings(settings: ProbeSettings, where: LocateSettings, concurrency: int) -> RunSettings:
    """The collect settings worth keeping with the evidence; never a credential."""
    call = settings.call
    plan = None
    if call is not None:
        plan = CallPlan(
            # A password in a SIP URI (RFC 3261 §19.1.1 deprecates it) stays out.
            to=str(replace(call.to, password=None)),
            from_uri=None if call.from_uri is None else str(replace(call.from_uri, password=None)),
            offer_kind=call.offer_kind,
            suites=tuple(call.suites),
            hangup=call.hangup,
            answer_timeout_s=call.answer_timeout,
            verify_media=call.verify_media,
            allow_cleartext_keys=call.allow_cleartext_keys,
            credentials=call.credentials is not None,
        )
    server = where.dns_server
    return RunSettings(
        timeout_s=settings.timeout,
        count=settings.count,
        interval_s=settings.interval,
        enumerate_tls=settings.enumerate_tls,
        sni=settings.sni,
        offered_min_tls=settings.tls.min_version,
        client_cert=settings.tls.cert_file is not None,
        pins=tuple(str(pin) for pin in settings.pins),
        dns_server=None if server is None else _host_port(*server),
        seed=where.seed,
        concurrency=concurrency,
        call=plan,
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def collect_located(
    located: Sequence[Located], settings: ProbeSettings, *, concurrency: int
) -> list[ProbedUri]:
    """Collect the evidence of every target of every located URI, at most `concurrency`
    at a time; input order kept. A URI that located nothing keeps its unprobed target."""
    gate = asyncio.Semaphore(max(1, concurrency))
    progress.started(sum(len(entry.result.targets) for entry in located))

    async def one(entry: Located, found: LocatedTarget, target: Target) -> ProbedTarget:
        async with gate:
            evidence = await collect_options(entry.uri, target, settings)
        progress.advanced(evidence.target.label)
        return ProbedTarget(located=found, evidence=evidence)

    async def per_uri(entry: Located) -> ProbedUri:
        pairs = entry.targets()
        if pairs:
            targets = await asyncio.gather(*(one(entry, f, t) for f, t in pairs))
        else:
            targets = [ProbedTarget(unresolved=unresolved_target(entry.uri, entry.text))]
        return ProbedUri(entry.text, entry.result, tuple(targets))

    return list(await asyncio.gather(*(per_uri(entry) for entry in located)))


def judge_target(entry: ProbedUri, probed: ProbedTarget, policy: OptionsPolicy) -> TargetResult:
    """Every finding about one target: how it was located, then its probe. Pure."""
    target = probed.target
    if probed.evidence is None:
        skipped = Finding(
            CheckId.SIP_OPTIONS, Status.SKIP, target.label, "OPTIONS not sent: no target"
        )
        return TargetResult(target, (check_unlocated(entry.locate, target.label), skipped))
    findings = judge_options(probed.evidence, policy)
    location = (
        check_location(entry.locate, probed.located, target.label)
        if probed.located is not None
        else None
    )
    return TargetResult(target, tuple([location, *findings] if location else findings))


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
    probed = await collect_located(located, settings, concurrency=concurrency)
    return [[judge_target(entry, one, policy) for one in entry.targets] for entry in probed]


def _placement(
    uri_index: int,
    target_index: int,
    endpoint: Endpoint,
    found: LocatedTarget | None,
    shares: dict[int, float],
) -> Placement:
    """Place one target: an SRV record's priority and weight order it within its endpoint
    (DNS's weighting); otherwise the configured ones (the provider's)."""
    if found is not None and found.priority is not None:
        return Placement(
            uri_index,
            target_index,
            group=found.srv_target or endpoint.host,
            share=found.share,
            priority=found.priority,
            weight=found.weight,
        )
    share = shares.get(endpoint.position) if endpoint.priority is not None else None
    return Placement(
        uri_index,
        target_index,
        group=endpoint.host,
        share=share,
        priority=endpoint.priority,
        weight=endpoint.weight,
    )


def place_failover(uris: Sequence[ProbedUri], mode: OrderMode) -> FailoverEvidence:
    """Every target of an endpoint list, in the order the provider tries them. Pure."""
    endpoints = [entry.endpoint for entry in uris if entry.endpoint is not None]
    if len(endpoints) != len(uris):
        raise ValueError("place_failover needs the endpoint of every URI")
    index_of = {endpoint.position: index for index, endpoint in enumerate(endpoints)}
    shares = weight_shares(endpoints)
    order = [
        _placement(index_of[endpoint.position], number, endpoint, probed.located, shares)
        for endpoint in provider_order(endpoints, mode)
        for number, probed in enumerate(uris[index_of[endpoint.position]].targets)
    ]
    return FailoverEvidence(mode, tuple(order))


def judge_run(run: RunEvidence, policy: OptionsPolicy, *, notes: Sequence[str] = ()) -> Report:
    """The report of a run's evidence, fresh or loaded from a file. Pure.

    Certificates are judged at `policy.now`, by default at the instant the run started.
    """
    if policy.now is None:
        policy = policy.at(dt.datetime.fromisoformat(run.started_at))
    results = [[judge_target(entry, one, policy) for one in entry.targets] for entry in run.uris]
    flat = tuple(result for group in results for result in group)
    trunk: tuple[Finding, ...] = ()
    if run.failover is not None:
        ordered = []
        for place in run.failover.order:
            endpoint = run.uris[place.uri_index].endpoint
            assert endpoint is not None  # RunEvidence checks it
            ordered.append(
                OrderedTarget(
                    endpoint,
                    results[place.uri_index][place.target_index],
                    group=place.group,
                    share=place.share,
                    priority=place.priority,
                    weight=place.weight,
                )
            )
        trunk = tuple(judge_failover(ordered, mode=run.failover.mode))
        flat = tuple(target.result for target in ordered)
    return Report(
        command=run.command,
        started_at=run.started_at,
        duration_ms=run.duration_ms,
        results=flat,
        notes=tuple(notes),
        trunk_findings=trunk,
    )


async def collect_run(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    *,
    where: LocateSettings = LocateSettings(),
    concurrency: int = 50,
    command: RunCommand = "options",
) -> RunEvidence:
    """Locate and probe every URI; the evidence only, judged by `judge_run`."""
    started_at = _started()
    started = time.perf_counter()
    located = await locate_all(uris, settings, where)
    probed = await collect_located(located, settings, concurrency=concurrency)
    return RunEvidence(
        command=command,
        started_at=started_at.isoformat(timespec="milliseconds"),
        duration_ms=(time.perf_counter() - started) * 1000,
        settings=run_settings(settings, where, concurrency),
        uris=tuple(probed),
    )


async def collect_failover_run(
    endpoints: Sequence[tuple[Endpoint, SipUri]],
    settings: ProbeSettings,
    failover: FailoverPolicy,
    *,
    where: LocateSettings = LocateSettings(),
    concurrency: int = 50,
) -> RunEvidence:
    """Probe every target of every endpoint and place them in the provider's order."""
    run = await collect_run(
        [(endpoint.uri, uri) for endpoint, uri in endpoints],
        settings,
        where=where,
        concurrency=concurrency,
        command="failover",
    )
    uris = tuple(
        replace(entry, endpoint=endpoint)
        for entry, (endpoint, _uri) in zip(run.uris, endpoints, strict=True)
    )
    return replace(run, uris=uris, failover=place_failover(uris, failover.mode))


async def run_options(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    *,
    where: LocateSettings = LocateSettings(),
    concurrency: int = 50,
    notes: Sequence[str] = (),
) -> Report:
    run = await collect_run(uris, settings, where=where, concurrency=concurrency)
    return judge_run(run, policy, notes=notes)


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
    run = await collect_failover_run(
        endpoints, settings, failover, where=where, concurrency=concurrency
    )
    return judge_run(run, policy, notes=notes)


__all__ = [
    "Endpoint",
    "LocateSettings",
    "Located",
    "OrderMode",
    "TargetError",
    "check_target_uri",
    "collect_failover_run",
    "collect_located",
    "collect_run",
    "judge_run",
    "judge_target",
    "place_failover",
    "probe_located",
    "run_failover",
    "run_options",
]
