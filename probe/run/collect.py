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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from probe.evidence.model import ProbeEvidence
from probe.evidence.run import (
    CallPlan,
    Endpoint,
    FailoverEvidence,
    OrderMode,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunCommand,
    RunEvidence,
    RunSettings,
    StopReason,
)
from probe.locate import LocatedTarget, LocateResult
from probe.net.options import ProbeSettings, ProbeSoFar, RunResources, collect_options
from probe.net.pacing import Pacer, PoliteQueue
from probe.report.model import Report
from probe.run import progress
from probe.run.locating import (
    Located,
    LocateSettings,
    TargetError,
    check_target_uri,
    locate_all,
    unresolved_target,
)
from probe.run.redirects import redirect_contacts
from probe.sip import SipError, SipUri, parse_uri
from probe.sip.uri import redact_uri_text
from probe.verdict.checks import OptionsPolicy
from probe.verdict.checks.policy import FailoverPolicy
from probe.verdict.judging import TargetJudge, judge_run


def _started() -> dt.datetime:
    """Now, to the millisecond. The evidence keeps `started_at` to the millisecond and
    certificates are judged at exactly that instant, so judging the saved evidence again
    (`sipprobe judge`) concludes what the run concluded."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def client_certificate(cert_file: Path | None) -> bytes | None:
    """The first certificate (DER) of the client chain file: what mutual TLS presented.
    None without one, or when it cannot be read again (the TLS context already refused
    an unusable file before any packet)."""
    if cert_file is None:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        return x509.load_pem_x509_certificate(cert_file.read_bytes()).public_bytes(Encoding.DER)
    except (OSError, ValueError):
        return None


def run_settings(
    settings: ProbeSettings,
    where: LocateSettings,
    concurrency: int,
    presented: bytes | None = None,
) -> RunSettings:
    """The collect settings worth keeping with the evidence; never a credential.
    `presented` is the client certificate mutual TLS offered (`client_certificate`)."""
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
        client_certificate=presented,
        pins=tuple(str(pin) for pin in settings.pins),
        dns_server=None if server is None else _host_port(*server),
        seed=where.seed,
        concurrency=concurrency,
        call=plan,
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


SYSTEM_RESOLVER = LocateSettings()
"""Names looked up through the system's resolver, SRV weights drawn at random."""


@dataclass(frozen=True, slots=True)
class RunControls:
    """How hard and how long a run may go: bounded, paced, polite."""

    concurrency: int = 50
    """Targets probed at once (already fitted to the file-descriptor limit)."""
    rate: float | None = None
    """Targets started per second at most (a token bucket); None: as fast as allowed."""
    per_target: int = 1
    """Connections to one address/port/transport at once."""
    max_time: float | None = None
    """Seconds the whole run may take; unfinished targets are then reported as such."""
    keep_partial_on_cancel: bool = False
    """On cancellation (Ctrl-C), return what was collected instead of re-raising."""
    follow_redirects: bool = False
    """Probe the Contact URIs of 3xx answers too, one hop."""


async def collect_located(
    located: Sequence[Located],
    settings: ProbeSettings,
    *,
    concurrency: int = 50,
    controls: RunControls | None = None,
    into: dict[tuple[int, int], ProbedTarget] | None = None,
    judge: TargetJudge | None = None,
    in_flight: dict[tuple[int, int], ProbeSoFar] | None = None,
    resources: RunResources | None = None,
) -> list[ProbedUri]:
    """Collect the evidence of every target of every located URI, at most `concurrency`
    at a time, paced and one connection per target; input order kept. Each finished
    target also lands in `into`, judged first by `judge` when there is one (which then
    says what of its evidence to keep). A URI that located nothing keeps its unprobed
    target. `in_flight` holds what each unfinished probe has collected so far.
    `resources` are shared by the probes (by default the run's own)."""
    controls = controls or RunControls(concurrency=concurrency)
    pacer = Pacer(controls.rate)
    finished = into if into is not None else {}
    so_far = in_flight if in_flight is not None else {}
    jobs = [
        ((target.address, target.port, target.transport), (index, number, found, target))
        for index, entry in enumerate(located)
        for number, (found, target) in enumerate(entry.targets())
    ]
    queue = PoliteQueue(jobs, controls.per_target)
    if resources is None:
        resources = RunResources()  # the probes' shared TLS contexts, dropped with the run
    progress.started(len(jobs))

    async def worker() -> None:
        # A fixed pool of workers rather than a task per target: memory and scheduling
        # stay set by the concurrency, whatever the number of targets.
        while (taken := await queue.take()) is not None:
            key, (index, number, found, target) = taken
            place = (index, number)  # one key for every record of the target
            try:
                await pacer.wait()
                # Stopped midway (a signal, --max-time), the probe leaves what it saw,
                # an interrupted call's end included, in so_far for `_unfinished`.
                so_far[place] = ProbeSoFar()
                evidence = await collect_options(
                    located[index].uri, target, settings, so_far[place], resources=resources
                )
            finally:
                queue.done(key)
            del so_far[place]  # finished: a cancellation from now on loses nothing
            probed = ProbedTarget(located=found, evidence=evidence)
            if judge is not None:
                probed = judge.finished(place, located[index].result, probed)
            finished[place] = probed
            progress.advanced(evidence.target.label)

    async with asyncio.TaskGroup() as workers:
        for _ in range(min(max(1, controls.concurrency), len(jobs))):
            workers.create_task(worker())
    results = []
    for index, entry in enumerate(located):
        count = len(entry.result.targets)
        targets = [finished[index, number] for number in range(count)] or [
            ProbedTarget(unresolved=unresolved_target(entry.uri, entry.text))
        ]
        results.append(ProbedUri(entry.text, entry.result, tuple(targets)))
    return results


def _unfinished(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    located: dict[int, Located],
    finished: dict[tuple[int, int], ProbedTarget],
    reason: StopReason,
    started_at: str,
    in_flight: dict[tuple[int, int], ProbeSoFar],
) -> tuple[ProbedUri, ...]:
    """The evidence of a run cut short: what finished, and every other target marked,
    with what it had collected when the run stopped."""
    why = "the run was interrupted" if reason == "interrupted" else "the run hit --max-time"
    entries = []
    for index, (text, uri) in enumerate(uris):
        entry = located.get(index)
        if entry is None:
            result = LocateResult(text, "", (), (), (f"not located: {why}",))
            unresolved = ProbedTarget(unresolved=unresolved_target(uri, text), stopped=reason)
            entries.append(ProbedUri(text, result, (unresolved,)))
            continue
        targets = []
        for number, (found, target) in enumerate(entry.targets()):
            done = finished.get((index, number))
            partial = in_flight.get((index, number))
            evidence_so_far = partial.snapshot(reason) if partial is not None else None
            if done is None and evidence_so_far is not None:
                done = ProbedTarget(located=found, evidence=evidence_so_far, stopped=reason)
            elif done is None:
                evidence = ProbeEvidence(
                    target=replace(target, sni=settings.sni or target.name),
                    started_at=started_at,
                    timeout_s=settings.timeout,
                    method="OPTIONS" if settings.call is None else "INVITE",
                )
                done = ProbedTarget(located=found, evidence=evidence, stopped=reason)
            targets.append(done)
        if not targets:
            targets.append(ProbedTarget(unresolved=unresolved_target(uri, text)))
        entries.append(ProbedUri(text, entry.result, tuple(targets)))
    return tuple(entries)


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
    from probe.verdict.checks.failover import provider_order, weight_shares

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


async def collect_run(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    *,
    where: LocateSettings = SYSTEM_RESOLVER,
    concurrency: int = 50,
    command: RunCommand = "options",
    controls: RunControls | None = None,
    judge: TargetJudge | None = None,
    resources: RunResources | None = None,
    before_probing: Callable[[Sequence[Located]], Awaitable[None]] | None = None,
) -> RunEvidence:
    """Locate and probe every URI; the evidence only, judged by `judge_run` (with
    `judge`, each target is judged as it finishes and `judge_run` takes its results).
    `resources`: what the probes share, when the caller keeps them beyond the run.
    `before_probing` is awaited once everything is located, before the first packet to a
    target (`invite --capture` starts its capture there, knowing the addresses).

    With `controls.max_time` the run ends at that deadline, and with
    `controls.keep_partial_on_cancel` a cancellation (Ctrl-C) ends it: either way every
    probe in flight is cancelled first (its connection closed, its call ended) and the
    evidence says which targets did not finish.
    """
    controls = controls or RunControls(concurrency=concurrency)
    # The URIs as typed name the targets in the evidence and the report: a password in
    # one (RFC 3261 §19.1.1 deprecates them; the CLI refuses them) is never written there.
    uris = [(redact_uri_text(text), uri) for text, uri in uris]
    started_at = _started()
    started_iso = started_at.isoformat(timespec="milliseconds")
    started = time.perf_counter()
    if judge is not None:
        judge.start(started_iso)
    located: dict[int, Located] = {}
    finished: dict[tuple[int, int], ProbedTarget] = {}
    in_flight: dict[tuple[int, int], ProbeSoFar] = {}
    stopped: StopReason | None = None
    probed: tuple[ProbedUri, ...] = ()
    deadline = asyncio.timeout(controls.max_time)
    try:
        async with deadline:
            found = await locate_all(
                uris, settings, where, into=located, concurrency=controls.concurrency
            )
            if before_probing is not None:
                await before_probing(found)
            probed = tuple(
                await collect_located(
                    found,
                    settings,
                    controls=controls,
                    into=finished,
                    judge=judge,
                    in_flight=in_flight,
                    resources=resources,
                )
            )
            if controls.follow_redirects:
                probed += await _follow_redirects(probed, settings, where, controls)
    except TimeoutError:
        if not deadline.expired():
            raise
        stopped = "max_time"
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not controls.keep_partial_on_cancel or task is None:
            raise
        task.uncancel()  # the cancellation is answered: by the partial report
        stopped = "interrupted"
    if stopped is not None:
        probed = _unfinished(uris, settings, located, finished, stopped, started_iso, in_flight)
    return RunEvidence(
        command=command,
        started_at=started_iso,
        duration_ms=(time.perf_counter() - started) * 1000,
        settings=run_settings(
            settings, where, controls.concurrency, client_certificate(settings.tls.cert_file)
        ),
        uris=probed,
        stopped=stopped,
        max_time_s=controls.max_time,
    )


async def _follow_redirects(
    probed: Sequence[ProbedUri],
    settings: ProbeSettings,
    where: LocateSettings,
    controls: RunControls,
) -> tuple[ProbedUri, ...]:
    """Locate and probe, once, every new URI a 3xx answer named; never a second hop."""
    seen = {entry.uri for entry in probed}
    extra: list[tuple[str, SipUri, str]] = []
    for entry in probed:
        for target in entry.targets:
            if target.evidence is None:
                continue
            for text in redirect_contacts(target.evidence):
                try:
                    uri = parse_uri(text)
                    check_target_uri(uri, text)
                except (SipError, TargetError):
                    continue  # the 3xx finding already names it
                if text not in seen:
                    seen.add(text)
                    extra.append((text, uri, entry.uri))
    if not extra:
        return ()
    located = await locate_all([(text, uri) for text, uri, _ in extra], settings, where)
    more = await collect_located(located, settings, controls=controls)
    return tuple(
        replace(entry, redirected_from=source)
        for entry, (_text, _uri, source) in zip(more, extra, strict=True)
    )


async def collect_failover_run(
    endpoints: Sequence[tuple[Endpoint, SipUri]],
    settings: ProbeSettings,
    failover: FailoverPolicy,
    *,
    where: LocateSettings = SYSTEM_RESOLVER,
    concurrency: int = 50,
    controls: RunControls | None = None,
    judge: TargetJudge | None = None,
    resources: RunResources | None = None,
) -> RunEvidence:
    """Probe every target of every endpoint and place them in the provider's order (a 3xx
    is a finding here, never followed: the provider would not follow it either)."""
    if controls is not None and controls.follow_redirects:
        controls = replace(controls, follow_redirects=False)
    run = await collect_run(
        [(endpoint.uri, uri) for endpoint, uri in endpoints],
        settings,
        where=where,
        concurrency=concurrency,
        command="failover",
        controls=controls,
        judge=judge,
        resources=resources,
    )
    uris = tuple(
        replace(entry, endpoint=replace(endpoint, uri=redact_uri_text(endpoint.uri)))
        for entry, (endpoint, _uri) in zip(run.uris, endpoints, strict=True)
    )
    return replace(run, uris=uris, failover=place_failover(uris, failover.mode))


async def run_options(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    policy: OptionsPolicy,
    *,
    where: LocateSettings = SYSTEM_RESOLVER,
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
    where: LocateSettings = SYSTEM_RESOLVER,
    concurrency: int = 50,
    notes: Sequence[str] = (),
) -> Report:
    """Probe every target of every endpoint; judge them, then the list as a whole."""
    run = await collect_failover_run(
        endpoints, settings, failover, where=where, concurrency=concurrency
    )
    return judge_run(run, policy, notes=notes)


__all__ = [
    "SYSTEM_RESOLVER",
    "RunControls",
    "collect_failover_run",
    "collect_located",
    "collect_run",
    "place_failover",
    "run_failover",
    "run_options",
    "run_settings",
]
