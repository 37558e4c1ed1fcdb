"""`sipprobe exporter`: probes on demand for Prometheus, as blackbox_exporter does.

    GET  /probe?target=URI&module=NAME   one probe, its judgement as metrics
    GET  /metrics                        the exporter's own metrics
    GET  /-/healthy                      200 while it serves
    POST /-/reload                       read the configuration again (SIGHUP too)

A probe answers within the deadline its scraper sends (`X-Prometheus-Scrape-Timeout-
Seconds`, less `SCRAPE_MARGIN`; `DEFAULT_SCRAPE_TIMEOUT` without one), capped by the
module's `max_time`. The run stops itself there (every connection closed, every call
ended), and what did not finish is reported as such: `probe_success 0` and the verdict
`incomplete`, never a pass. A failover module's target is the ordered endpoint list,
comma-separated (a comma inside one URI is written `%2C`, RFC 3261 §19.1.2).

Probes are bounded: at most `concurrency` run at once, one at a time per target (a
second scrape of a target waits for the first, within its own deadline), and an `invite`
module calls one target at most once per `min_call_interval` (a scrape inside it gets
429 and no call). Every wait has a deadline, so a black-hole target or a slow client
holds a slot for a bounded time and never the exporter.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from probe.errors import SettingsError
from probe.exporter.http import Connections, HttpLimits, Request, Response, serve_connection
from probe.exporter.modules import ConfigError, ExporterConfig, check_targets, load_config
from probe.exporter.probing import (
    JUDGE_RESERVE,
    SCRAPE_TIMEOUT_HEADER,
    CallSpacing,
    ModuleRuns,
    TargetGates,
    Unfinished,
    run_probe,
    scrape_budget,
    split_targets,
    unfinished_exposition,
)
from probe.exporter.reuse import MAX_KEPT_TARGETS, KeptConnections, Scraped
from probe.report.exit_codes import EXIT_SIGNAL_BASE, signal_name
from probe.verdict.findings import Verdict

if TYPE_CHECKING:
    from probe.evidence.run import RunEvidence
    from probe.report.model import Report

DEFAULT_LISTEN = ("127.0.0.1", 9753)
DEFAULT_CONCURRENCY = 32
STOP_GRACE = 15.0
"""Seconds in-flight probes get to end their calls when the exporter stops (a call's
own clean-up is bounded below that, probe.net.call)."""
RELOAD_DEADLINE = 30.0
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Render = Callable[["Report", "RunEvidence"], bytes]
Say = Callable[[str], None]


class OwnMetrics:
    """The exporter's own metrics, in a registry of its own (never the process-wide
    default one: two exporters in one process, as in tests, stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.probes = Counter(
            "sipprobe_exporter_probes",
            "Probes answered, by module and result (error: the exporter could not probe).",
            ["module", "result"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "sipprobe_exporter_probes_in_flight", "Probes running now.", registry=self.registry
        )
        self.duration = Histogram(
            "sipprobe_exporter_probe_duration_seconds",
            "Time from a probe request to its answer.",
            ["module"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "sipprobe_exporter_config_reloads",
            "Configuration reloads, by result.",
            ["result"],
            registry=self.registry,
        )
        self.last_reload_ok = Gauge(
            "sipprobe_exporter_config_last_reload_successful",
            "1 when the last configuration load succeeded.",
            registry=self.registry,
        )
        self.last_reload_time = Gauge(
            "sipprobe_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, in Unix seconds.",
            registry=self.registry,
        )
        self.tasks = Gauge(
            "sipprobe_exporter_asyncio_tasks",
            "asyncio tasks alive in the exporter's event loop (steady under a steady load).",
            registry=self.registry,
        )
        self.kept = Gauge(
            "sipprobe_exporter_kept_connections",
            'Connections kept between scrapes by modules with reuse = "connection".',
            registry=self.registry,
        )
        for result in ("success", "failure"):
            self.reloads.labels(result)

    def modules_known(self, names: Iterable[str]) -> None:
        """Every module's series exists from the start, at 0 (a rate needs two points)."""
        for name in names:
            for result in ("success", "failure", "error"):
                self.probes.labels(name, result)


def _say(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"sipprobe exporter: {text}\n".encode())


def _first_line(error: BaseException | None) -> str:
    """An error's first line: a refusal is one line (a target's may quote it)."""
    return next(iter(str(error).splitlines()), "the request cannot be probed")


def _one(request: Request, name: str) -> str | None:
    """A query field given once; ValueError when it is given twice."""
    values = request.query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"{name}= is given {len(values)} times; give it once")
    return values[0]


class Exporter:
    """The routes, the probes' bounds and the configuration, for one listening socket."""

    def __init__(
        self,
        config_path: Path,
        config: ExporterConfig,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        render: Render | None = None,
        say: Say = _say,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.concurrency = concurrency
        self.render = render or _metrics_render
        self.say = say
        self.metrics = OwnMetrics()
        self.metrics.modules_known(config.modules)
        self.metrics.last_reload_ok.set(1)
        self.metrics.last_reload_time.set(time.time())
        self.gates = TargetGates()
        self.calls = CallSpacing()
        self._slots = asyncio.Semaphore(concurrency)
        self._reloading = asyncio.Lock()
        self.probes: set[asyncio.Task[Scraped | Unfinished]] = set()
        self.kept, self.runs = self._runs(config)
        self.metrics.tasks.set_function(lambda: len(asyncio.all_tasks()))
        self.metrics.kept.set_function(lambda: self.kept.connections)

    @staticmethod
    def _runs(config: ExporterConfig) -> tuple[KeptConnections, dict[str, ModuleRuns]]:
        """What the modules of a configuration keep while it is loaded: a table of kept
        connections of its own (closed when it is replaced) and each module's runs."""
        kept = KeptConnections()
        return kept, {name: ModuleRuns(module, kept) for name, module in config.modules.items()}

    async def handle(self, request: Request) -> Response:
        route = (request.method if request.method != "HEAD" else "GET", request.path)
        if route == ("GET", "/probe"):
            return await self.probe(request)
        if route == ("GET", "/metrics"):
            body = generate_latest(self.metrics.registry)
            return Response(200, body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
        if route == ("GET", "/-/healthy"):
            return Response.text(200, "OK")
        if route in (("POST", "/-/reload"), ("PUT", "/-/reload")):
            refused = await self.reload("/-/reload")
            if refused is None:
                return Response.text(200, f"configuration reloaded from {self.config_path}")
            return Response.text(500, refused)
        if route == ("GET", "/"):
            return Response.text(200, _INDEX.format(modules=", ".join(self.config.modules)))
        if request.path in ("/probe", "/metrics", "/-/healthy", "/-/reload", "/"):
            allowed = "POST, PUT" if request.path == "/-/reload" else "GET, HEAD"
            text = f"{request.method} is not allowed on {request.path}"
            return Response.text(405, text, ("allow", allowed))
        return Response.text(404, f"no such page: {request.path[:64]!r}")

    def _refused(self, module: str, status: int, text: str, *headers: tuple[str, str]) -> Response:
        self.metrics.probes.labels(module, "error").inc()
        return Response.text(status, text, *headers)

    async def probe(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        started = loop.time()
        modules = self.config.modules
        try:
            name, target = _one(request, "module"), _one(request, "target")
        except ValueError as exc:
            return self._refused("", 400, str(exc))
        if name is None:
            return self._refused("", 400, f"module= is missing; modules: {', '.join(modules)}")
        module = modules.get(name)
        if module is None:
            known = ", ".join(modules)
            return self._refused("", 400, f"no module {name[:64]!r}; modules: {known}")
        if not target:
            return self._refused(name, 400, "target= is missing: the SIP URI to probe")
        try:
            budget = scrape_budget(request.headers.get(SCRAPE_TIMEOUT_HEADER), module.max_time)
            targets = split_targets(target, module)
            check_targets(module, targets)
        except (ValueError, SettingsError) as exc:
            return self._refused(name, 400, _first_line(exc))
        if module.kind == "invite":
            wait = self.calls.reserve(targets[0], module.min_call_interval, started)
            if wait > 0:
                text = (
                    f"module {name}: {targets[0]} was called less than "
                    f"{module.min_call_interval:g} s ago (min_call_interval); no call placed, "
                    f"next one possible in {wait:.0f} s"
                )
                return self._refused(name, 429, text, ("retry-after", str(math.ceil(wait))))
        deadline = started + budget
        task = loop.create_task(self._run(self.runs[name], targets, deadline))
        self.probes.add(task)
        task.add_done_callback(self._finished)
        await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        outcome: Scraped | Unfinished
        if not task.done():
            outcome = Unfinished("the probe was still ending its connections at the deadline")
        elif task.cancelled():
            outcome = Unfinished("the exporter is stopping")
        elif isinstance(task.exception(), SettingsError):
            return self._refused(name, 400, _first_line(task.exception()))
        elif (failure := task.exception()) is not None:  # said on stderr by _finished
            return self._refused(name, 500, f"internal error: {type(failure).__name__}: {failure}")
        else:
            outcome = task.result()
        seconds = loop.time() - started
        self.metrics.duration.labels(name).observe(seconds)
        if isinstance(outcome, Unfinished):
            self.metrics.probes.labels(name, "failure").inc()
            headers = (("x-sipprobe-unfinished", outcome.reason),)
            return Response(
                200,
                unfinished_exposition(seconds),
                content_type=CONTENT_TYPE_PLAIN_0_0_4,
                headers=headers,
            )
        report, evidence = outcome.probed.report, outcome.probed.evidence
        success = report.verdict in (Verdict.PASS, Verdict.WARN)
        self.metrics.probes.labels(name, "success" if success else "failure").inc()
        body = self.render(report, evidence)
        if outcome.full_check_at is not None:
            body += _reuse_render(outcome.reused, outcome.full_check_at)
        return Response(200, body, content_type=CONTENT_TYPE_PLAIN_0_0_4)

    async def _run(
        self, runs: ModuleRuns, targets: Sequence[str], deadline: float
    ) -> Scraped | Unfinished:
        """Wait for a slot and for the targets, within the deadline; then run, stopping
        in time to be judged and rendered before it."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            return Unfinished(f"the exporter was busy: {self.concurrency} probes running")
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    release = await self.gates.acquire(targets)
            except TimeoutError:
                return Unfinished("another probe of this target was still running")
            self.metrics.in_flight.inc()
            try:
                remaining = deadline - loop.time()
                run_time = remaining - min(JUDGE_RESERVE, remaining / 5)
                if run_time < 0.05:
                    return Unfinished("no time was left for the probe after waiting its turn")
                return await run_probe(runs, targets, run_time)
            finally:
                self.metrics.in_flight.dec()
                release()
        finally:
            self._slots.release()

    def _finished(self, task: asyncio.Task[Scraped | Unfinished]) -> None:
        self.probes.discard(task)
        if task.cancelled():
            return
        failure = task.exception()  # retrieved, so that a late one is not lost unseen
        if failure is not None and not isinstance(failure, SettingsError):
            self.say(f"a probe ended with an internal error: {type(failure).__name__}: {failure}")

    async def reload(self, why: str) -> str | None:
        """Read the configuration again; None when it was taken, else every problem
        (also on stderr), the old configuration kept."""
        async with self._reloading:
            try:
                async with asyncio.timeout(RELOAD_DEADLINE):
                    config = await asyncio.to_thread(load_config, self.config_path)
            except (ConfigError, TimeoutError) as exc:
                problems = str(exc) if isinstance(exc, ConfigError) else "reading it timed out"
                refused = f"configuration refused ({why}), the old one is kept:\n{problems}"
                self.metrics.reloads.labels("failure").inc()
                self.metrics.last_reload_ok.set(0)
                self.say(refused)
                return refused
            self.config = config
            replaced = self.kept
            self.kept, self.runs = self._runs(config)
            await replaced.close_all()  # a module's kept connections end with its config
            self.metrics.modules_known(config.modules)
            self.metrics.reloads.labels("success").inc()
            self.metrics.last_reload_ok.set(1)
            self.metrics.last_reload_time.set(time.time())
            self.say(f"configuration reloaded ({why}): modules {', '.join(config.modules)}")
            return None

    async def stop_probes(self) -> None:
        """Cancel every probe: each ends its connections and calls (within STOP_GRACE);
        then close every kept connection."""
        for task in list(self.probes):
            task.cancel()
        if self.probes:
            await asyncio.wait(set(self.probes), timeout=STOP_GRACE)
        await self.kept.close_all()


_INDEX = """sipprobe exporter
  /probe?target=URI&module=NAME   one probe (modules: {modules})
  /metrics                        the exporter's own metrics
  /-/healthy                      200 while serving
  /-/reload                       POST: read the configuration again"""


def _metrics_render(report: Report, evidence: RunEvidence) -> bytes:
    from probe.exporter.metrics import probe_samples, text_exposition

    return text_exposition(probe_samples(report, evidence))


def _reuse_render(reused: bool, full_check_at: float) -> bytes:
    from probe.exporter.metrics import reuse_samples, text_exposition

    return text_exposition(reuse_samples(reused, full_check_at))


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPV6]:PORT` → (host, port); ValueError with a sentence."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9753")
    return host, int(port)


async def serve(
    exporter: Exporter,
    host: str,
    port: int,
    *,
    limits: HttpLimits | None = None,
    ready: Callable[[str, int], None] | None = None,
    signals: bool = True,
) -> int:
    """Serve until SIGINT or SIGTERM (the exit code: 128 + its number), or until
    cancelled; SIGHUP reloads. Without `signals` (a caller that owns them, a test) only
    cancelling stops it. Either way the probes in flight end their connections and calls
    (within STOP_GRACE) and every connection is closed before it returns."""
    limits = limits or HttpLimits()
    loop = asyncio.get_running_loop()
    connections = Connections(limits.max_connections)
    handlers: set[asyncio.Task[None]] = set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await serve_connection(reader, writer, exporter.handle, limits, connections)
        finally:
            handlers.discard(task)

    server = await asyncio.start_server(client, host, port, reuse_address=True)
    stopping: asyncio.Future[int] = loop.create_future()
    installed = _signals(loop, exporter, stopping) if signals else []
    try:
        bound = server.sockets[0].getsockname()
        if ready is not None:
            ready(bound[0], bound[1])
        number = await stopping
        exporter.say(f"stopping ({signal_name(number)}): ending the probes in flight")
        return EXIT_SIGNAL_BASE + number
    finally:
        server.close()
        await exporter.stop_probes()
        connections.close_all()
        for task in list(handlers):
            task.cancel()
        if handlers:
            await asyncio.wait(set(handlers), timeout=limits.write)
        for signal_number in installed:
            loop.remove_signal_handler(signal_number)


def _signals(
    loop: asyncio.AbstractEventLoop, exporter: Exporter, stopping: asyncio.Future[int]
) -> list[int]:
    """SIGHUP reloads; SIGINT or SIGTERM stops (a second one exits at once, as a
    command's run does, probe.cli.signals). A signal ignored when we started (nohup's
    SIGHUP) stays ignored."""
    reloads: set[asyncio.Task[str | None]] = set()

    def on_stop(number: int) -> None:
        if stopping.done():
            exporter.say(f"{signal_name(number)} again: exiting now")
            os._exit(EXIT_SIGNAL_BASE + number)
        stopping.set_result(number)

    def on_hangup() -> None:
        task = loop.create_task(exporter.reload("SIGHUP"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    installed: list[int] = []
    for number, callback, arguments in (
        (signal.SIGINT, on_stop, (signal.SIGINT,)),
        (signal.SIGTERM, on_stop, (signal.SIGTERM,)),
        (signal.SIGHUP, on_hangup, ()),
    ):
        if signal.getsignal(number) is signal.SIG_IGN:
            continue
        try:
            loop.add_signal_handler(number, callback, *arguments)
        except (ValueError, RuntimeError, NotImplementedError):
            continue  # not the main thread: the caller stops us by cancelling
        installed.append(number)
    return installed


def run_exporter(config_path: Path, listen: str, concurrency: int) -> int:
    """The command: load, listen, say where, serve until stopped; the exit code."""
    try:
        host, port = parse_listen(listen)
        config = load_config(config_path)
    except (ValueError, ConfigError) as exc:
        print(f"sipprobe: exporter: {exc}", file=sys.stderr)
        return 2

    def ready(host: str, port: int) -> None:
        where = f"[{host}]" if ":" in host else host
        print(f"listening on http {where}:{port}", flush=True)

    async def main() -> int:
        from prometheus_client import disable_created_metrics

        from probe.net.pacing import FDS_PER_PROBE, bound_concurrency

        # The `_created` series of every counter say when the process started, which
        # process_start_time_seconds already says; the command owns its process, so the
        # switch (process-wide in prometheus_client) is its to throw.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        # Each probe holds its connections, each scrape its own, and modules that keep
        # connections hold up to MAX_KEPT_TARGETS: room for all of them.
        kept = -(-MAX_KEPT_TARGETS // FDS_PER_PROBE)
        bound_concurrency(concurrency * 2 + kept, fds_per_probe=FDS_PER_PROBE)
        exporter = Exporter(config_path, config, concurrency=concurrency)
        try:
            return await serve(exporter, host, port, ready=ready)
        except OSError as exc:  # asyncio's own message repeats the address: the errno's
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            print(f"sipprobe: exporter: cannot listen on {listen}: {why}", file=sys.stderr)
            return 2

    return asyncio.run(main())
