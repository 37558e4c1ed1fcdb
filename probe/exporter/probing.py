"""One probe of the exporter, and the bounds around it: how long it may take, one at a
time per target, one call per interval per target for invite modules, and the answer of
a probe that has no report.

A probe answers within the deadline its scraper sends (`X-Prometheus-Scrape-Timeout-
Seconds`, less `SCRAPE_MARGIN`; `DEFAULT_SCRAPE_TIMEOUT` without one), capped by the
module's `max_time`. The run stops itself there (every connection closed, every call
ended, probe.run.collect) and what did not finish is reported as such: incomplete,
never a pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest

from probe.errors import SettingsError
from probe.exporter.modules import Module
from probe.exporter.reuse import (
    Edges,
    KeptConnections,
    Scraped,
    full_check,
    reused_probe,
    same_answer,
)
from probe.verdict.findings import Verdict

if TYPE_CHECKING:
    from probe.api import Probed
    from probe.net.options import ConnectionKeeper
    from probe.run.commands import Prepared

SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"
SCRAPE_MARGIN = 0.5
"""Seconds kept from the scraper's timeout for the answer to reach it (as
blackbox_exporter's `--timeout-offset`)."""
DEFAULT_SCRAPE_TIMEOUT = 10.0
"""Without the header (a person with curl): Prometheus's own default scrape timeout."""
JUDGE_RESERVE = 0.2
"""Seconds of a probe's deadline kept for judging and rendering once the run stops."""
LONGEST_PROBE = 600.0
"""Seconds no probe takes, whatever a scraper asks: a waiting scrape holds a connection."""


def scrape_budget(header: str | None, module_cap: float | None) -> float:
    """Seconds one probe may take: the scraper's timeout less the margin (at most half
    of it goes to the margin), capped by the module's `max_time` and by LONGEST_PROBE;
    ValueError when the header is not a number of seconds above 0."""
    if header is None:
        scrape = DEFAULT_SCRAPE_TIMEOUT
    else:
        try:
            scrape = float(header)
        except ValueError:
            scrape = math.nan
        if not 0 < scrape < math.inf:
            raise ValueError(f"{SCRAPE_TIMEOUT_HEADER} {header[:32]!r}: not seconds above 0")
    budget = min(max(scrape - SCRAPE_MARGIN, scrape / 2), LONGEST_PROBE)
    return budget if module_cap is None else min(budget, module_cap)


def split_targets(target: str, module: Module) -> list[str]:
    """A failover module's comma-separated endpoint list, in order; else the one URI."""
    if module.kind != "failover":
        return [target.strip()]
    return [part.strip() for part in target.split(",")]


class TargetGates:
    """One probe at a time per target: scrapes of one target (by several Prometheus
    servers, or several modules) queue instead of opening connections side by side, as a
    sweep's per-target bound does (probe.net.pacing.PoliteQueue)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._locks)

    async def acquire(self, targets: Iterable[str]) -> Callable[[], None]:
        """Hold every target (in sorted order: two lists never wait on each other); the
        function that lets them go. Cancelled while waiting, it holds nothing."""
        keys = sorted(set(targets))
        for key in keys:
            self._locks.setdefault(key, asyncio.Lock())
            self._users[key] = self._users.get(key, 0) + 1
        held: list[str] = []

        def release() -> None:
            for key in reversed(held):
                self._locks[key].release()
            held.clear()
            for key in keys:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key], self._locks[key]

        try:
            for key in keys:
                await self._locks[key].acquire()
                held.append(key)
        except BaseException:
            release()
            raise
        return release


class CallSpacing:
    """When each target was last called by an invite module: one call per interval."""

    def __init__(self) -> None:
        self._called: dict[str, tuple[float, float]] = {}

    def reserve(self, target: str, interval: float, now: float) -> float:
        """0 when a call may start now (and is booked), else the seconds still to wait."""
        last = self._called.get(target)
        if last is not None and now - last[0] < last[1]:
            return last[1] - (now - last[0])
        if len(self._called) > 1024:  # forget what no longer limits anything
            self._called = {k: v for k, v in self._called.items() if now - v[0] < v[1]}
        self._called[target] = (now, interval)
        return 0.0


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A probe that could not run or finish in its time, and why."""

    reason: str


def unfinished_exposition(seconds: float) -> bytes:
    """The answer of a probe that has no report (it never started, or was still
    ending its connections at the deadline): not a success, and incomplete."""
    from probe.exporter.metrics import HELP

    registry = CollectorRegistry()
    Gauge("probe_success", HELP["probe_success"], registry=registry).set(0)
    duration = Gauge("probe_duration_seconds", HELP["probe_duration_seconds"], registry=registry)
    duration.set(seconds)
    verdict = Gauge("sipprobe_verdict", HELP["sipprobe_verdict"], ["verdict"], registry=registry)
    for value in Verdict:
        verdict.labels(value.value).set(1 if value is Verdict.INCOMPLETE else 0)
    return generate_latest(registry)


class ModuleRuns:
    """One module's runs while its configuration is loaded, and what they share: the run
    prepared when the module loaded (its trust anchors, pins and TLS client settings, read
    once, probe.run.commands.prepare_targets), the TLS contexts of its handshakes, and
    for a module with `reuse = "connection"` its targets' kept connections, in the
    exporter's table (probe.exporter.reuse). Made by the exporter for each configuration
    it loads; nothing of it outlives the configuration."""

    def __init__(self, module: Module, kept: KeptConnections) -> None:
        from probe.net.options import RunResources

        self.module = module
        self.kept = kept
        self.resources = RunResources()
        self.edges = Edges(module.settings.tls.warn_days, module.settings.tls.critical_days)
        anchors = module.prepared.policy.anchors if module.prepared is not None else None
        self.anchor_edges = self.edges.of_anchors(anchors) if module.reuse else []

    async def probe(self, targets: Sequence[str], max_time: float) -> Scraped:
        """One scrape's probe of the targets, stopping itself after `max_time` seconds:
        what did not finish by then is reported as such."""
        module = self.module
        if module.kind == "invite" or module.prepared is None:
            from probe import api

            settings = module.settings.with_flat({"max_time": max_time})
            return Scraped(await api.call_probed(targets[0], settings))
        if not module.reuse:
            return Scraped((await self.run(targets, max_time))[0])
        return await self._reusing(targets[0], max_time)

    async def run(
        self, targets: Sequence[str], max_time: float, keep: ConnectionKeeper | None = None
    ) -> tuple[Probed, Prepared]:
        """A full probe, as probe.api's, from the module's prepared run; its finished
        connections offered to `keep` when given."""
        from probe.api import Probed
        from probe.run.commands import (
            FailoverRequest,
            OptionsRequest,
            failover_collection,
            judge_collected,
            options_collection,
            prepare_targets,
        )

        module = self.module
        assert module.prepared is not None
        request = OptionsRequest(targets=tuple(targets), settings=module.settings)
        run = prepare_targets(module.prepared, request, _refuse)
        run = replace(run, controls=replace(run.controls, max_time=max_time))
        run.judge.keep_evidence = True  # the metrics read the whole evidence
        resources = self.resources if keep is None else self.resources.keeping(keep)
        if module.kind == "failover":
            shape = FailoverRequest(request, module.priorities, module.weights, module.order)
            evidence = await failover_collection(shape, run, _refuse, resources=resources)
        else:
            evidence = await options_collection(run, resources=resources)
        return Probed(judge_collected(evidence, run, run.notes, request, _refuse), evidence), run

    async def _reusing(self, target: str, max_time: float) -> Scraped:
        """Over the kept connection when it may be (probe.exporter.reuse), with the
        full check in the same scrape when it may not or when the answer changed."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        name, interval = self.module.name, self.module.full_check_interval
        kept = self.kept.take(name, target)
        if kept is not None:
            if kept.usable(started, time.time(), interval):
                try:
                    # Half the time at most: a connection gone silent leaves the other
                    # half to the full check that follows.
                    probed = await reused_probe(kept, max_time / 2)
                except BaseException:
                    kept.abort()
                    raise
                if same_answer(kept.probed, probed):
                    self.kept.put(name, target, kept, interval)
                    return Scraped(probed, reused=True, full_check_at=kept.full_check_at)
            self.kept.close(kept)
        # What the reused attempt left; a run shorter than this stops before it starts.
        remaining = max(max_time - (loop.time() - started), 0.05)

        def run(keep: ConnectionKeeper) -> Awaitable[tuple[Probed, Prepared]]:
            return self.run([target], remaining, keep)

        probed, fresh = await full_check(run, self.kept, self.edges, self.anchor_edges)
        if fresh is not None:
            self.kept.put(name, target, fresh, interval)
        started_at = dt.datetime.fromisoformat(probed.evidence.started_at).timestamp()
        return Scraped(probed, reused=False, full_check_at=started_at)


def _refuse(message: str) -> NoReturn:
    raise SettingsError(message)


async def run_probe(runs: ModuleRuns, targets: Sequence[str], max_time: float) -> Scraped:
    """One run of the module over the targets, stopping itself after `max_time` seconds:
    what did not finish by then is reported as such."""
    return await runs.probe(targets, max_time)
