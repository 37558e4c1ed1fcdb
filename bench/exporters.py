"""Workloads 8 and 9: sipprobe's exporter against Debian's blackbox_exporter, and a soak.

Both exporters run as long-lived processes, started as a user starts them, probing the
fleet's TLS listeners; the scrapers (`python -m bench.scrape`, a process of their own)
ask for the probes at a fixed concurrency over kept-alive HTTP connections, each answer
checked for `probe_success 1`. An exporter's CPU is its own process's, read from
`/proc/PID/stat` before and after each round (user + system), so the scrapers' CPU is
never counted for it; the servers' CPU (every Kamailio process) is read the same way.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

from bench import contenders as c
from bench.measure import InvalidMeasurement, Sample, Series, Step, run, unwatch, watch
from bench.model import Bench, Comparison, Contender, WorkloadResult, rate_ratio
from bench.servers import NAME, Listener

BLACKBOX = "prometheus-blackbox-exporter"
READY_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIXED_FULL_SHARE = 0.2
"""One scrape in five a full check: a 60 s scrape interval and the default 300 s
full_check_interval (a figure computed from the measured ones, and said to be)."""
SOAK_WARMUP_SHARE = 0.2
"""The first fifth of the soak's segments is its warm-up: caches fill, the connections
to keep are made."""
SOAK_SLOPE_LIMIT = 20.0
"""Bytes of resident memory per probe after warm-up, at most (2 MB per 100,000 probes):
a leak of anything a probe makes (its evidence is tens of kB) is far above it."""
SOAK_GROWTH_LIMIT = 5
"""File descriptors, or asyncio tasks, the exporter may hold more at rest at the end of
the soak than after its warm-up (a leak of one per 10,000 probes would show 8 or more)."""


@dataclass
class Running:
    """A long-lived exporter process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        return _ticks(self.process.pid) / CLOCK_TICKS

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return -1

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise InvalidMeasurement(f"{self.name} exited with {self.process.returncode}")


def _ticks(pid: int) -> int:
    """User + system clock ticks of one process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def servers_cpu_s(bench: Bench) -> float:
    """CPU seconds of every Kamailio process of the fleet so far (main and workers)."""
    roots = {instance.process.pid for instance in bench.fleet.instances}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    total = 0
    for pid, parent in parents.items():
        if pid in roots or parent in roots:
            try:
                total += _ticks(pid)
            except OSError:
                continue
    return total / CLOCK_TICKS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_get(url: str, timeout: float = 30.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return str(answer.read().decode())


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InvalidMeasurement(f"{url}: the exporter exited with {process.returncode}")
        try:
            _http_get(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise InvalidMeasurement(f"{url}: no answer within {timeout:g} s")


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a child's pipe, or what came before `timeout` seconds or its end."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            chunk = os.read(stream.fileno(), 1)
            if not chunk:
                break
            line += chunk
    return line


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    unwatch(process.pid)


@contextmanager
def blackbox(bench: Bench) -> Iterator[Running]:
    """Debian's blackbox_exporter with a `tcp` module that speaks TLS (the lab CA, the
    lab name as server_name) and sends one OPTIONS, expecting `SIP/2.0 200`; and the
    same module trusting an unrelated CA, for the preflight."""
    binary = shutil.which(BLACKBOX) or f"/usr/bin/{BLACKBOX}"
    if not Path(binary).exists():
        raise InvalidMeasurement(f"{BLACKBOX} is not installed (`make peers` installs it)")
    config = bench.workdir / "blackbox.yml"
    config.write_text(
        "modules:\n"
        + _blackbox_module("sip_options", bench.fleet.lab.ca)
        + _blackbox_module("sip_options_other_ca", bench.fleet.lab.other_ca)
    )
    port = _free_port()
    log = (bench.workdir / "blackbox.log").open("wb")
    argv = [
        binary,
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    watch(process.pid)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/-/healthy", process, READY_TIMEOUT)
        yield Running("blackbox_exporter", process, port)
    finally:
        _stop(process)
        log.close()


def blackbox_options() -> str:
    """The OPTIONS blackbox_exporter sends (RFC 3261 §11): complete but for its last
    line feed, since its `send` writes each string followed by a newline (`\\n`), which
    completes the blank line that ends the message."""
    return (
        f"OPTIONS sip:{NAME};transport=tls SIP/2.0\\r\\n"
        "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-blackbox\\r\\n"
        "Max-Forwards: 70\\r\\n"
        "From: <sip:blackbox@127.0.0.1>;tag=bb1\\r\\n"
        f"To: <sip:{NAME}>\\r\\n"
        "Call-ID: blackbox-bench@127.0.0.1\\r\\n"
        "CSeq: 1 OPTIONS\\r\\n"
        "Content-Length: 0\\r\\n\\r"
    )


def _blackbox_module(name: str, ca: Path) -> str:
    return (
        f"  {name}:\n"
        "    prober: tcp\n"
        "    timeout: 10s\n"
        "    tcp:\n"
        "      tls: true\n"
        "      tls_config:\n"
        f"        ca_file: {ca}\n"
        f"        server_name: {NAME}\n"
        "      query_response:\n"
        f'        - send: "{blackbox_options()}"\n'
        '        - expect: "^SIP/2.0 200"\n'
    )


@contextmanager
def sipprobe_exporter(bench: Bench, name: str, modules: str) -> Iterator[Running]:
    """`sipprobe exporter` with `modules` (TOML), at the scrapers' concurrency."""
    config = bench.workdir / f"exporter-{name}.toml"
    config.write_text(modules)
    argv = [
        str(bench.tools.sipprobe),
        "exporter",
        "--config",
        str(config),
        "--listen",
        "127.0.0.1:0",
        "--concurrency",
        str(bench.plan.exporter_concurrency),
    ]
    log = (bench.workdir / f"exporter-{name}.log").open("wb")
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=bench.tools.root,
    )
    watch(process.pid)
    try:
        assert process.stdout is not None
        line = _read_line(process.stdout, READY_TIMEOUT).decode()
        if not line.startswith("listening on http 127.0.0.1:"):
            raise InvalidMeasurement(f"sipprobe exporter did not start: {line!r}")
        yield Running(f"sipprobe exporter ({name})", process, int(line.rsplit(":", 1)[1]))
    finally:
        _stop(process)
        log.close()


def sipprobe_module(bench: Bench, name: str, extra: str = "") -> str:
    pins = ", ".join(f'"{listener.pin}"' for listener in bench.fleet.listeners("tls"))
    return (
        f'[modules.{name}]\nkind = "options"\nca = "{bench.fleet.lab.ca}"\n'
        f"resolve = [{pins}]\n{extra}\n"
    )


def queries(bench: Bench, path: Path, module: str, *, blackbox: bool = False) -> Path:
    """One scrape's query per listener, round-robin over the fleet's TLS listeners."""
    lines = [_query(listener, module, blackbox) for listener in bench.fleet.listeners("tls")]
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _query(listener: Listener, module: str, blackbox: bool) -> str:
    if blackbox:
        target = f"{listener.address}:{listener.port}"
    else:
        target = f"sip:{NAME}:{listener.port};transport=tls"
    return f"target={quote(target, safe='')}&module={module}"


def scrapers(
    bench: Bench,
    exporter: Running,
    query_file: Path,
    count: int,
    out: Path,
    *,
    segments: int = 1,
) -> list[str]:
    argv = [
        str(bench.tools.python),
        "-m",
        "bench.scrape",
        "--base",
        exporter.base,
        "--queries",
        str(query_file),
        "--count",
        str(count),
        "--concurrency",
        str(bench.plan.exporter_concurrency),
        "--out",
        str(out),
    ]
    if segments > 1:
        argv += ["--segments", str(segments), "--metrics", "/metrics"]
    return argv


def scrape_round(
    bench: Bench, exporter: Running, query_file: Path, count: int, tag: str
) -> tuple[Sample, dict[str, float]]:
    """One round: `count` scrapes; the exporter's CPU and the servers' around them."""
    out = bench.workdir / f"scrape-{tag}.json"
    out.unlink(missing_ok=True)
    argv = scrapers(bench, exporter, query_file, count, out)
    exporter.alive()
    cpu_before, servers_before = exporter.cpu_s(), servers_cpu_s(bench)
    done = run(argv, timeout=60 + count, cwd=bench.tools.root, rss=False)
    cpu_after, servers_after = exporter.cpu_s(), servers_cpu_s(bench)
    exporter.alive()
    outcome = c.load_json(out, "the scrapers")
    if done.exit_code != 0 or outcome.get("ok") != count or outcome.get("failed"):
        raise InvalidMeasurement(
            f"{exporter.name}: {outcome.get('ok')}/{count} scrapes answered probe_success 1; "
            f"{outcome.get('errors', [])[:2]}"
        )
    sample = Sample(
        wall_s=float(outcome["inner_s"]),
        cpu_s=cpu_after - cpu_before,
        maxrss_kib=exporter.peak_rss_kib(),
        exit_code=done.exit_code,
    )
    return sample, {
        "p50_ms": float(outcome["p50_ms"]),
        "p99_ms": float(outcome["p99_ms"]),
        "reused_share": float(outcome["reused"]) / count,
        "servers_cpu_ms_per_probe": (servers_after - servers_before) * 1000 / count,
        "scrapers_cpu_s": done.cpu_s,
    }


def blackbox_preflight(bench: Bench, exporter: Running) -> list[str]:
    """Untimed: blackbox_exporter's module verifies the chain (an unrelated CA fails)."""
    listener = bench.fleet.listeners("tls")[0]
    found = {}
    for module in ("sip_options", "sip_options_other_ca"):
        query = _query(listener, module, blackbox=True)
        body = _http_get(f"{exporter.base}/probe?{query}")
        found[module] = "\nprobe_success 1\n" in f"\n{body}"
    if not found["sip_options"] or found["sip_options_other_ca"]:
        raise InvalidMeasurement(f"blackbox_exporter preflight: {found}")
    binary = shutil.which(BLACKBOX) or f"/usr/bin/{BLACKBOX}"
    return [
        f"{c.tool_version([binary, '--version'])}, Debian's package.",
        "blackbox_exporter verifies the chain: the same probe with an unrelated CA "
        "(`ca_file: other-ca.pem`) answers probe_success 0, with the lab CA 1.",
    ]


def _ratio_of(a: Series, b: Series, key: str) -> tuple[float, tuple[float, ...]]:
    value = statistics.median(x[key] for x in a.extra) / statistics.median(y[key] for y in b.extra)
    per_round = tuple(x[key] / y[key] for x, y in zip(a.extra, b.extra, strict=True))
    return value, per_round


def _cpu_ratio(a: Series, b: Series, label: str) -> Comparison:
    value = a.cpu().median / b.cpu().median
    per_round = tuple(x.cpu_s / y.cpu_s for x, y in zip(a.samples, b.samples, strict=True))
    return Comparison(label, value, per_round)


# --- 8. exporter speed ---------------------------------------------------------------


def exporter_speed(bench: Bench) -> WorkloadResult:
    plan = bench.plan
    n, conc = plan.exporter_probes, plan.exporter_concurrency
    fresh_modules = sipprobe_module(bench, "options")
    kept_modules = sipprobe_module(bench, "options", 'reuse = "connection"')
    with (
        blackbox(bench) as box,
        sipprobe_exporter(bench, "fresh", fresh_modules) as fresh,
        sipprobe_exporter(bench, "reuse", kept_modules) as kept,
    ):
        facts = blackbox_preflight(bench, box)
        files = {
            "blackbox": queries(
                bench, bench.workdir / "q-blackbox.txt", "sip_options", blackbox=True
            ),
            "fresh": queries(bench, bench.workdir / "q-fresh.txt", "options"),
            "reuse": queries(bench, bench.workdir / "q-reuse.txt", "options"),
        }
        exporters = {"blackbox": box, "fresh": fresh, "reuse": kept}

        def step(key: str) -> Step:
            return lambda: scrape_round(bench, exporters[key], files[key], n, key)

        series = bench.rounds({key: step(key) for key in exporters})
    shown = {
        "blackbox": f"{BLACKBOX} --config.file=$WORK/blackbox.yml (module sip_options: "
        "prober tcp, tls: true, tls_config {ca_file: lab CA, server_name: "
        f"{NAME}}}, query_response [send: OPTIONS …, expect: ^SIP/2.0 200])",
        "fresh": "sipprobe exporter --config $WORK/exporter-fresh.toml "
        f'--concurrency {conc} (module options: kind = "options", ca = lab CA, '
        "one resolve pin per listener)",
        "reuse": "sipprobe exporter --config $WORK/exporter-reuse.toml "
        f'--concurrency {conc} (the same module with reuse = "connection", '
        "full_check_interval left at its default, 300 s)",
    }
    reuse_share = statistics.median(x["reused_share"] for x in series["reuse"].extra)
    servers = {
        key: statistics.median(x["servers_cpu_ms_per_probe"] for x in series[key].extra)
        for key in exporters
    }
    cpu_ms = {key: series[key].cpu().median * 1000 / n for key in exporters}
    mixed = (1 - MIXED_FULL_SHARE) * cpu_ms["reuse"] + MIXED_FULL_SHARE * cpu_ms["fresh"]
    facts += [
        f"Share of the reuse mode's scrapes sent over a kept connection (the rest were full "
        f"checks), median over the rounds: {reuse_share:.1%}. Every target's first scrape "
        "was a full check in the untimed warm-up round; a full check then comes back "
        "after 300 s, or at once on any change.",
        "Computed from the medians above, not measured: a Prometheus scraping each target "
        "every 60 s with the default full_check_interval (300 s) gets one full check in "
        f"{round(1 / MIXED_FULL_SHARE)} scrapes, about {mixed:.2f} ms of the exporter's "
        f"CPU per probe ({mixed / cpu_ms['blackbox']:.2f}× blackbox_exporter's "
        f"{cpu_ms['blackbox']:.2f} ms).",
        "Servers' CPU per probe (every Kamailio process, median): "
        + ", ".join(f"{key} {value:.2f} ms" for key, value in servers.items())
        + ": each blackbox and fresh probe costs the server a full TLS handshake.",
    ]
    p99_fresh = Comparison(
        "p99 latency: sipprobe (fresh) ÷ blackbox_exporter",
        *_ratio_of(series["fresh"], series["blackbox"], "p99_ms"),
        op="<=",
        threshold=1.2,
    )
    p99_reuse = Comparison(
        "p99 latency: sipprobe (reuse) ÷ blackbox_exporter",
        *_ratio_of(series["reuse"], series["blackbox"], "p99_ms"),
        op="<=",
        threshold=1.2,
    )
    return WorkloadResult(
        key="exporter",
        title=(
            f"8. Exporter speed: {n} scrapes per round, {conc} scrapers, versus blackbox_exporter"
        ),
        what=(
            f"{conc} scrapers (`python -m bench.scrape`: asyncio, one kept-alive HTTP/1.1 "
            f"connection each, a scrape sent as soon as the last answer was read) ask each "
            f"exporter for {n} probes per round, round-robin over the "
            f"{len(bench.fleet.listeners('tls'))} TLS listeners; every answer must be 200 "
            "with `probe_success 1`, or the round is refused. Wall time is the scrapers' own "
            "clock from the first request to the last answer; CPU is the exporter "
            "process's own (user + system from /proc/PID/stat around the round); latency "
            "is each request to its whole answer, as the scrapers saw it; peak RSS is the "
            "exporter's (VmHWM) so far. sipprobe runs in its default mode (every scrape a "
            'full check) and with `reuse = "connection"`.'
        ),
        fairness=[
            "Same listeners, same concurrency (the scrapers'; sipprobe's `--concurrency` "
            f"is {conc}, blackbox_exporter has no bound of its own), the same scrapers for "
            "every contender, interleaved rounds in turning order after one untimed "
            "warm-up round each.",
            "Both verify the chain against the lab CA with the lab name (blackbox's "
            "`server_name`, sipprobe's SNI and RFC 5922 identity) and send one complete "
            "OPTIONS over TLS; blackbox_exporter matches the status line; sipprobe judges "
            "the chain, identity, validity, key, signature, EKU and the whole answer, and "
            "renders its series (about 90 per probe against blackbox's 20).",
            "blackbox_exporter is Go and uses both cores; sipprobe's exporter is one "
            "Python process on one. The scrapers (Python) share the machine with both.",
            "The reuse mode does less per scrape by design: OPTIONS over the kept "
            "connection, the connect, handshake and certificate findings those of the "
            "last full check (docs/prometheus/README.md); each scrape says which it did.",
        ],
        contenders=[
            Contender("blackbox", "blackbox_exporter, tcp module", shown["blackbox"], n),
            Contender("fresh", "sipprobe exporter, default (full check)", shown["fresh"], n),
            Contender("reuse", 'sipprobe exporter, reuse = "connection"', shown["reuse"], n),
        ],
        series=series,
        comparisons=[
            rate_ratio(
                series["fresh"],
                n,
                series["blackbox"],
                n,
                "throughput: sipprobe (fresh) ÷ blackbox_exporter",
                op=">=",
                threshold=1.0,
            ),
            rate_ratio(
                series["reuse"],
                n,
                series["blackbox"],
                n,
                "throughput: sipprobe (reuse) ÷ blackbox_exporter",
                op=">=",
                threshold=1.0,
            ),
            p99_fresh,
            p99_reuse,
            _cpu_ratio(
                series["fresh"], series["blackbox"], "CPU per probe: sipprobe (fresh) ÷ blackbox"
            ),
            _cpu_ratio(
                series["reuse"], series["blackbox"], "CPU per probe: sipprobe (reuse) ÷ blackbox"
            ),
        ],
        facts=facts,
    )


# --- 9. soak -----------------------------------------------------------------------------


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def soak(bench: Bench) -> WorkloadResult:
    plan = bench.plan
    n, segments, conc = plan.soak_probes, plan.soak_segments, plan.exporter_concurrency
    modules = sipprobe_module(bench, "options") + sipprobe_module(
        bench, "kept", 'reuse = "connection"'
    )
    # Every other scrape is a full check of one module and a scrape of the other's
    # kept connection, so that both ways through the exporter run all along.
    listeners = bench.fleet.listeners("tls")
    query_file = bench.workdir / "q-soak.txt"
    query_file.write_text(
        "".join(
            f"{_query(listener, module, False)}\n"
            for listener in listeners
            for module in ("options", "kept")
        )
    )
    out = bench.workdir / "scrape-soak.json"
    with sipprobe_exporter(bench, "soak", modules) as exporter:
        argv = scrapers(bench, exporter, query_file, n, out, segments=segments)
        cpu_before = exporter.cpu_s()
        done = run(argv, timeout=120 + n * 0.1, cwd=bench.tools.root, rss=False)
        cpu = exporter.cpu_s() - cpu_before
        exporter.alive()
        peak = exporter.peak_rss_kib()
    bench.fleet.check()
    outcome = c.load_json(out, "the scrapers")
    if done.exit_code != 0 or outcome.get("ok") != n or outcome.get("failed"):
        raise InvalidMeasurement(
            f"soak: {outcome.get('ok')}/{n} scrapes answered probe_success 1; "
            f"{outcome.get('errors', [])[:2]}"
        )
    samples = outcome["samples"]
    if len(samples) != segments:
        raise InvalidMeasurement(f"soak: {len(samples)} samples of the exporter for {segments}")
    warmup = max(1, round(segments * SOAK_WARMUP_SHARE))
    after = samples[warmup - 1 :]  # from the end of the warm-up on
    rss = [(s["probes"], s["process_resident_memory_bytes"]) for s in after]
    slope = _slope(rss)
    fds = [s["process_open_fds"] for s in after]
    tasks = [s["sipprobe_exporter_asyncio_tasks"] for s in after]
    kept = [s["sipprobe_exporter_kept_connections"] for s in after]
    sample = Sample(float(outcome["inner_s"]), cpu, peak, done.exit_code)
    series = Series("soak", [sample], [{"slope_bytes_per_probe": slope}])

    def listed(values: list[float], scale: float = 1.0) -> str:
        return ", ".join(f"{value / scale:.4g}" for value in values)

    every = n // segments
    return WorkloadResult(
        key="soak",
        title=f"9. Soak: one exporter, {n} probes",
        what=(
            f"One sipprobe exporter with two options modules on the fleet's "
            f"{len(listeners)} TLS listeners: `options` (every scrape a full check) and "
            f'`kept` (`reuse = "connection"`), scraped in turn by {conc} scrapers, {n} '
            f"probes in all, every answer `probe_success 1`. After every {every} probes the "
            "scrapers stop and read the exporter's own `/metrics` at rest: resident memory "
            "(`process_resident_memory_bytes`), open file descriptors (`process_open_fds`), "
            "asyncio tasks (`sipprobe_exporter_asyncio_tasks`) and kept connections. The "
            f"first {warmup} of the {segments} samples are the warm-up; the figures are "
            "taken from the last of them on."
        ),
        fairness=[
            "Memory is judged by its least-squares slope over the probes after warm-up "
            f"(at most {SOAK_SLOPE_LIMIT:g} bytes per probe, 2 MB per 100,000); file "
            "descriptors and tasks by how many more the exporter holds at rest at the end "
            f"than after the warm-up (at most {SOAK_GROWTH_LIMIT}).",
        ],
        contenders=[
            Contender(
                "soak",
                "sipprobe exporter, full checks and kept connections in turn",
                f"sipprobe exporter --config $WORK/exporter-soak.toml --concurrency {conc}",
                n,
            )
        ],
        series={"soak": series},
        comparisons=[
            Comparison(
                "resident memory slope after warm-up, per probe",
                slope,
                (),
                "<=",
                SOAK_SLOPE_LIMIT,
                " bytes",
            ),
            Comparison("the same, over 100,000 probes", slope * 100_000 / 1e6, (), unit=" MB"),
            Comparison(
                "open file descriptors at rest: end minus end of warm-up",
                fds[-1] - fds[0],
                (),
                "<=",
                SOAK_GROWTH_LIMIT,
                "",
            ),
            Comparison(
                "asyncio tasks at rest: end minus end of warm-up",
                tasks[-1] - tasks[0],
                (),
                "<=",
                SOAK_GROWTH_LIMIT,
                "",
            ),
        ],
        facts=[
            f"Resident memory at rest, MB, after each {every} probes: "
            + listed([s["process_resident_memory_bytes"] for s in samples], 1e6),
            "Open file descriptors at rest: " + listed([s["process_open_fds"] for s in samples]),
            "asyncio tasks at rest: "
            + listed([s["sipprobe_exporter_asyncio_tasks"] for s in samples]),
            "Kept connections: "
            + listed([s["sipprobe_exporter_kept_connections"] for s in samples]),
            f"After warm-up: file descriptors {min(fds):.0f}–{max(fds):.0f}, tasks "
            f"{min(tasks):.0f}–{max(tasks):.0f}, kept connections "
            f"{min(kept):.0f}–{max(kept):.0f}.",
            f"Scrapers' latency: p50 {outcome['p50_ms']:.1f} ms, p99 {outcome['p99_ms']:.1f} ms; "
            f"{outcome['reused']} of {n} scrapes over a kept connection.",
        ],
    )
