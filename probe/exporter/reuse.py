"""Kept connections: an options module with `reuse = "connection"` keeps each target's
connection between scrapes and sends the next scrape's OPTIONS over it (RFC 5923 §2:
requests to the same target reuse the connection), instead of locating, connecting and
handshaking again.

A scrape is either a **full check** (a whole probe: locate, connect, the TLS handshake,
the chain captured and judged, OPTIONS, every check) or a **reused** one (OPTIONS over
the kept connection, its answer judged afresh; how the target was located, the connect,
the handshake and the certificates stand as the last full check found them, judged at
its instant). A full check runs, never a reused scrape, when:

- nothing is kept for the target, or its last full check is `full_check_interval`
  seconds old;
- a certificate's verdict would have changed since that check: a notBefore, notAfter or
  warning-window edge (`warn_days`, `critical_days`) of the presented chain or of a trust
  anchor has passed, so an expiry is seen at the first scrape after it;
- the connection was closed or broken by the far end;

and right after a reused exchange whose outcome differs from the full check's (no answer,
another status code, another verdict): the connection is dropped and the same scrape runs
the full check, whose verdict it reports. Only a full check whose verdict is pass or warn
leaves its connections kept; any other closes them, so a failing target is checked whole
at every scrape.

The table belongs to one exporter and its configuration: a reload or the exporter
stopping closes every kept connection (`KeptConnections.close_all`). It holds at most
`MAX_KEPT_TARGETS` targets; beyond that, and once a target's last full check is past its
interval, the least recently used is closed.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from probe.evidence.model import ProbeEvidence, Target
from probe.evidence.run import ProbedTarget, ProbedUri
from probe.net.deadlines import PHASES, Deadlines
from probe.net.options import options_over
from probe.verdict.findings import Verdict

if TYPE_CHECKING:
    from cryptography import x509

    from probe.api import Probed
    from probe.net.connect import StreamConnection
    from probe.net.options import ConnectionKeeper
    from probe.run.commands import Prepared
    from probe.tls.trust import TrustAnchors
    from probe.verdict.checks.policy import OptionsPolicy

MAX_KEPT_TARGETS = 512
"""Targets whose connections one exporter keeps at most (every module together): each
holds a file descriptor, and a scraper asking for ever new targets must not use them up."""
CLOSE_TIMEOUT = 1.0
"""Seconds a kept connection's polite close (TLS close_notify) may take before it is cut."""
_HEALTHY = (Verdict.PASS, Verdict.WARN)
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Scraped:
    """One scrape's probe, and which it was: reused (OPTIONS over a kept connection) or
    a full check; `full_check_at` is when (Unix seconds) the last full check ran, whose
    connect, TLS and certificate findings a reused scrape carries; None for a module
    that keeps nothing."""

    probed: Probed
    reused: bool = False
    full_check_at: float | None = None


@dataclass(slots=True)
class Kept:
    """What a healthy full check of one target left for the scrapes after it."""

    probed: Probed
    """The full check: its report and its evidence, every target's kept whole."""
    run: Prepared
    """The full check's run: its URIs, probe settings, notes, and the certificate
    verdicts it reached, which the reused scrapes' judgements find again."""
    connections: dict[Target, StreamConnection]
    """Each probed target's open connection."""
    policy: OptionsPolicy
    """The module's policy at the full check's instant: every reused scrape judges the
    certificates at that instant, so that it reads the full check's verdicts."""
    checked_at: float
    """The event loop's time of the full check."""
    full_check_at: float
    """When the full check started, Unix seconds."""
    stale_at: float
    """Unix seconds from which a certificate verdict of the full check may be another."""

    def usable(self, now: float, unix_now: float, interval: float) -> bool:
        """Whether a scrape may reuse it now: recent enough, no certificate edge passed,
        every connection still open."""
        if now - self.checked_at >= interval or unix_now >= self.stale_at:
            return False
        return all(_open(connection) for connection in self.connections.values())

    def abort(self) -> None:
        for connection in self.connections.values():
            connection.abort()
        self.connections.clear()


def _open(connection: StreamConnection) -> bool:
    """Nothing says the far end has gone: no EOF, no error, not closing."""
    reader = connection.reader
    return not (reader.at_eof() or reader.exception() is not None or connection.writer.is_closing())


class KeptConnections:
    """One exporter's kept connections, by module and target, least recently used first
    (see the module's docstring)."""

    def __init__(self, capacity: int = MAX_KEPT_TARGETS) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[tuple[str, str], tuple[Kept, float]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = False
        """Closed by `close_all`: what a scrape still in flight would keep is closed."""

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def connections(self) -> int:
        """Connections open in the table now."""
        return sum(len(kept.connections) for kept, _ in self._kept.values())

    def take(self, module: str, target: str) -> Kept | None:
        """The target's kept state, taken out of the table (the caller puts it back, or
        closes it); expired entries of other targets are closed on the way."""
        self._expire(asyncio.get_running_loop().time())
        entry = self._kept.pop((module, target), None)
        return None if entry is None else entry[0]

    def put(self, module: str, target: str, kept: Kept, interval: float) -> None:
        if self.closed:
            self.close(kept)  # its configuration was replaced while it ran
            return
        self._kept[module, target] = (kept, interval)
        while len(self._kept) > self.capacity:
            _, (oldest, _) = self._kept.popitem(last=False)
            self.close(oldest)

    def _expire(self, now: float) -> None:
        while self._kept:
            key, (kept, interval) = next(iter(self._kept.items()))
            if now - kept.checked_at < interval:
                return  # the rest were used more recently
            del self._kept[key]
            self.close(kept)

    def close(self, kept: Kept) -> None:
        """Close `kept`'s connections politely, without making a scrape wait for it."""
        self.close_connections(list(kept.connections.values()))
        kept.connections.clear()

    def close_connections(self, connections: Sequence[StreamConnection]) -> None:
        if connections:
            task = asyncio.get_running_loop().create_task(_close_all(connections))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """Close every kept connection (a reload, the exporter stopping), and wait for
        those already closing."""
        self.closed = True
        while self._kept:
            _, (kept, _) = self._kept.popitem()
            self.close(kept)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=CLOSE_TIMEOUT * 2)


async def _close_all(connections: Sequence[StreamConnection]) -> None:
    await asyncio.gather(*(connection.close(timeout=CLOSE_TIMEOUT) for connection in connections))


# --- a full check that keeps its connections --------------------------------------------

FullCheck = Callable[["ConnectionKeeper"], Awaitable[tuple["Probed", "Prepared"]]]
"""Runs a full probe whose finished connections the given hook is offered; the probe and
the run it was."""


async def full_check(
    run: FullCheck, table: KeptConnections, edges: Edges, anchor_edges: Sequence[float]
) -> tuple[Probed, Kept | None]:
    """Run a full probe, keeping its connections when its verdict is pass or warn and
    every probed target's connection was offered, one connection each (two probes never
    share one); otherwise they are closed.
    `anchor_edges`: the trust anchors' validity edges (`Edges.of_anchors`), in order."""
    offered: dict[Target, StreamConnection] = {}

    def keep(evidence: ProbeEvidence, connection: StreamConnection) -> bool:
        if evidence.target in offered:
            return False  # one target twice (an address listed twice): keep nothing
        offered[evidence.target] = connection
        connection.trim_read_buffer()  # it waits for one answer at a time from now on
        return True

    try:
        probed, prepared = await run(keep)
    except BaseException:
        for connection in offered.values():
            connection.abort()
        raise
    evidence = probed.evidence
    probed_targets = evidence.probed()
    targets = [p.evidence for p in probed_targets if p.evidence is not None]
    if not (
        probed.report.verdict in _HEALTHY
        and evidence.stopped is None
        and targets
        and len(targets) == len(probed_targets) == len(offered)
        and all(target.target in offered for target in targets)
    ):
        table.close_connections(list(offered.values()))
        return probed, None
    chains = [t.tls.presented_chain for t in targets if t.tls is not None]
    instant = dt.datetime.fromisoformat(evidence.started_at)
    # The certificates were judged at `instant`: the first edge after it ends the reuse,
    # even one passed while the check was still running.
    judged_at = instant.timestamp()
    kept = Kept(
        probed=probed,
        run=prepared,
        connections=dict(offered),
        policy=prepared.policy.at(instant),
        checked_at=asyncio.get_running_loop().time(),
        full_check_at=judged_at,
        stale_at=min(
            _next_edge(anchor_edges, judged_at),
            _next_edge(sorted(edges.of_chains(chains)), judged_at),
        ),
    )
    return probed, kept


# --- a reused scrape ----------------------------------------------------------------------


async def reused_probe(kept: Kept, max_time: float) -> Probed:
    """OPTIONS over every kept connection of a target, all at once, each phase within
    `max_time` seconds; judged as the full check was, the certificates at its instant."""
    from probe.api import Probed
    from probe.verdict.judging import TargetJudge, judge_run

    settings = kept.run.settings
    phases = settings.phases
    capped = Deadlines(**{phase: min(getattr(phases, phase), max_time) for phase in PHASES})
    settings = replace(settings, deadlines=capped)
    full = kept.probed.evidence
    began = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    places = [
        (index, number, probed)
        for index, entry in enumerate(full.uris)
        for number, probed in enumerate(entry.targets)
    ]
    answers = await asyncio.gather(
        *(
            options_over(
                kept.run.uris[index][1],
                _evidence(probed),
                kept.connections[probed.target],
                settings,
            )
            for index, _, probed in places
        )
    )
    judge = TargetJudge(kept.policy, keep_evidence=True)
    judge.verdicts = kept.run.judge.verdicts
    targets: dict[int, list[ProbedTarget]] = {}
    for (index, number, probed), answer in zip(places, answers, strict=True):
        judged = judge.finished(
            (index, number), full.uris[index].locate, replace(probed, evidence=answer)
        )
        targets.setdefault(index, []).append(judged)
    uris = tuple(
        replace(entry, targets=tuple(targets.get(index, entry.targets)))
        for index, entry in enumerate(full.uris)
    )
    run = replace(
        full,
        started_at=started_at,
        duration_ms=(time.perf_counter() - began) * 1000,
        uris=uris,
    )
    report = judge_run(run, kept.policy, notes=kept.run.notes, judged=judge.results)
    return Probed(report, run)


def _evidence(probed: ProbedTarget) -> ProbeEvidence:
    assert probed.evidence is not None
    return probed.evidence


def same_answer(before: Probed, now: Probed) -> bool:
    """The reused scrape found what the full check found: the same verdict, and every
    target answered with the same final status code."""
    if now.report.verdict is not before.report.verdict:
        return False
    return _final_statuses(before.evidence.uris) == _final_statuses(now.evidence.uris)


def _final_statuses(uris: Iterable[ProbedUri]) -> list[tuple[int | None, ...]]:
    statuses = []
    for entry in uris:
        for probed in entry.targets:
            exchanges = () if probed.evidence is None else probed.evidence.exchanges
            statuses.append(
                tuple(e.final_status if e.outcome == "answered" else None for e in exchanges)
            )
    return statuses


# --- when a certificate verdict can change ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edges:
    """The instants at which a certificate's validity verdict changes, for a policy's
    warning windows: notBefore, notAfter, and the first instant inside the critical and
    the warning window (probe.tls.quality.judge_validity counts whole days left, rounded
    down: inside an N-day window from notAfter - (N + 1) days)."""

    warn_days: int
    critical_days: int
    _seen: dict[bytes, tuple[float, ...]] = field(default_factory=dict, compare=False)

    def of_certificate(self, certificate: x509.Certificate) -> tuple[float, ...]:
        not_after = certificate.not_valid_after_utc.timestamp()
        return (
            certificate.not_valid_before_utc.timestamp(),
            not_after,
            not_after - (self.critical_days + 1) * _DAY,
            not_after - (self.warn_days + 1) * _DAY,
        )

    def of_chains(self, chains: Iterable[Sequence[bytes]]) -> list[float]:
        """Every edge of the presented certificates (parsed once per distinct DER)."""
        from cryptography import x509

        edges: list[float] = []
        for chain in chains:
            for der in chain:
                if der not in self._seen:
                    try:
                        certificate = x509.load_der_x509_certificate(der)
                        self._seen[der] = self.of_certificate(certificate)
                    except ValueError:
                        self._seen[der] = ()  # unreadable: tls.chain fails, nothing is kept
                    if len(self._seen) > 64:
                        self._seen.pop(next(iter(self._seen)))
                edges.extend(self._seen[der])
        return edges

    def of_anchors(self, anchors: TrustAnchors | None) -> list[float]:
        """Every edge of the trust anchors, in order."""
        if anchors is None:
            return []
        return sorted(
            edge for anchor in anchors.certificates for edge in self.of_certificate(anchor)
        )


def _next_edge(edges: Sequence[float], after: float) -> float:
    """The first of the sorted `edges` later than `after`; infinity when none is."""
    position = bisect.bisect_right(edges, after)
    return edges[position] if position < len(edges) else math.inf
