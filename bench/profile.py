"""`--profile`: where sipprobe's time goes in a sweep (cProfile, the standard library's).

The sweep of workload 1 is run once as `python -m cProfile -o FILE -m probe options …`
(the same command line as the measured run, under the profiler) and summarised into
`bench/profile-sweep.txt`: self time by area (package or C extension), then the top
functions by self time and by cumulative time. cProfile measures wall time in every
function, so time spent waiting in the event loop (epoll) is time the client was idle,
waiting for the servers. On a machine with fewer cores than busy processes, a system call
that wakes a server (a loopback `send`) can also be charged the time the client then
spends preempted by it. And cProfile slows Python code down (deterministic tracing), so
absolute times are inflated: compare shares, not seconds.
"""

from __future__ import annotations

import io
import pstats
import re
from collections import defaultdict
from pathlib import Path

from bench import contenders as c
from bench.measure import run
from bench.model import Bench

TOP = 40
CALLERS = 12

_AREAS: tuple[tuple[str, str], ...] = (
    (r"/probe/report/", "probe.report (rendering)"),
    (r"/probe/tls/", "probe.tls (capture, judgement)"),
    (r"/probe/verdict/", "probe.verdict (checks, verdicts)"),
    (r"/probe/net/", "probe.net"),
    (r"/probe/sip/", "probe.sip"),
    (r"/probe/locate/", "probe.locate"),
    (r"/probe/evidence/", "probe.evidence"),
    (r"/probe/run/", "probe.run (locate, collect)"),
    (r"/probe/cli/", "probe.cli"),
    (r"/probe/", "probe (other)"),
    (r"/cryptography/", "cryptography (Python side)"),
    (r"/asyncio/", "asyncio"),
    (r"/json/", "json"),
    (r"/(click|rich|pydantic|dns)/", "click / rich / pydantic / dnspython"),
    (r"<frozen importlib|importlib/", "imports"),
    (r"ssl\.py$", "ssl.py"),
)
_BUILTIN_AREAS: tuple[tuple[str, str], ...] = (
    (r"_ssl\.|SSLObject|do_handshake", "OpenSSL (_ssl, C)"),
    (r"cryptography|rust", "cryptography (Rust)"),
    (r"'poll' of 'select\.epoll'", "waiting in the event loop (epoll_wait)"),
    (r"select\.epoll", "event-loop bookkeeping (epoll_ctl)"),
    (r"_socket\.socket", "socket calls (loopback kernel work, preemption)"),
    (r"marshal|_imp\.|builtins.exec|_io\.open_code|compile", "imports"),
    (r"json|_json", "json"),
)


def area(filename: str, function: str) -> str:
    if filename == "~":
        for pattern, name in _BUILTIN_AREAS:
            if re.search(pattern, function):
                return name
        return "other C built-ins"
    for pattern, name in _AREAS:
        if re.search(pattern, filename):
            return name
    return "other Python"


def summarise(stats_file: Path, header: list[str]) -> str:
    stats = pstats.Stats(str(stats_file))
    raw = stats.stats  # type: ignore[attr-defined]
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        by_area[area(filename, function)] += tottime
        total += tottime
    lines = [*header, "", "Self time by area (share of all profiled time):", ""]
    for name, seconds in sorted(by_area.items(), key=lambda item: -item[1]):
        lines.append(f"  {seconds:8.3f} s  {seconds / total:6.1%}  {name}")
    for order, title in (("tottime", "self"), ("cumulative", "cumulative")):
        buffer = io.StringIO()
        pstats.Stats(str(stats_file), stream=buffer).sort_stats(order).print_stats(TOP)
        text = buffer.getvalue()
        start = text.find("   ncalls")
        lines += ["", f"Top {TOP} functions by {title} time:", "", text[start:].rstrip()]
    buffer = io.StringIO()
    pstats.Stats(str(stats_file), stream=buffer).sort_stats("tottime").print_callers(CALLERS)
    text = buffer.getvalue()
    start = text.find("Function ")
    lines += ["", f"Who calls the top {CALLERS} by self time:", "", text[start:].rstrip()]
    return "\n".join(lines) + "\n"


def profile_sweep(bench: Bench, out: Path) -> Path:
    n = bench.plan.sweep_n
    targets = c.target_uris(bench.fleet, "tls", n)
    uris = [uri for uri, _ in targets]
    target_file = c.write_sipprobe_targets(bench.workdir / f"targets-profile-{n}.txt", targets)
    report = bench.workdir / "report-profile.json"
    argv = c.sipprobe_sweep(
        bench.tools, bench.fleet, "tls", target_file, report, bench.plan.concurrency
    )
    stats_file = bench.workdir / "sweep.pstats"
    profiled = [str(bench.tools.python), "-m", "cProfile", "-o", str(stats_file), "-m", "probe"]
    # A plain run first, for the profiler's overhead to be visible next to it.
    plain = run(argv, timeout=60 + n * 0.2, cwd=bench.tools.root)
    c.check_exit("sipprobe", plain)
    c.check_sweep_report(report, uris)
    report.unlink()
    sample = run([*profiled, *argv[1:]], timeout=120 + n * 0.5, cwd=bench.tools.root)
    c.check_exit("sipprobe under cProfile", sample)
    facts = c.check_sweep_report(report, uris)
    header = [
        f"sipprobe sweep profile: {n} targets, concurrency {bench.plan.concurrency}, "
        f"{len(bench.fleet.listeners('tls'))} listeners on {bench.fleet.servers('tls')} "
        "Kamailio instances (generated by `python -m bench.run "
        "--profile`).",
        f"Command: {bench.shown([*profiled, *argv[1:]])}",
        f"Wall time: {plain.wall_s:.2f} s without the profiler, {sample.wall_s:.2f} s under "
        f"it; CPU {plain.cpu_s:.2f} s without ({plain.cpu_s * 1000 / n:.2f} ms per target); "
        f"{facts['findings_per_target']:.0f} findings per target, all green.",
        "cProfile counts wall time: 'waiting in the event loop' is the client idle, waiting "
        "for the servers; on 2 cores shared with the Kamailio instances, a loopback socket "
        "`send` that wakes a server is also charged the time the client then sits "
        "preempted by it. The rest is the client's own work.",
    ]
    out.write_text(summarise(stats_file, header))
    return out
