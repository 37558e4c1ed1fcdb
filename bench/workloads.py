"""The workloads of the issue, each a set of interleaved contenders and the figures judged
against its targets. Every number comes from `bench.measure` samples."""

from __future__ import annotations

from collections.abc import Callable

from bench import contenders as c
from bench.budget import budget
from bench.capture_audit import capture_audit
from bench.exporters import exporter_speed, soak
from bench.instructions import instructions
from bench.measure import GNU_TIME, InvalidMeasurement, Sample
from bench.model import (
    Bench,
    Comparison,
    Contender,
    WorkloadResult,
    inner_ratio,
    rate_ratio,
    sweep_steps,
    time_ratio,
)
from bench.servers import NAME
from bench.sipsak import versus_sipsak

WORKLOADS = (
    "sweep",
    "sipsak",
    "coldstart",
    "ping",
    "growth",
    "budget",
    "instructions",
    "exporter",
    "soak",
    "capture",
)


# --- 1. sweep ------------------------------------------------------------------------


def sweep(bench: Bench) -> WorkloadResult:
    n = bench.plan.sweep_n
    sipprobe, sipprobe_cmd = sweep_steps(bench, "tls", n, f"sweep-{n}")
    targets = c.target_uris(bench.fleet, "tls", n)
    floor_targets = c.write_floor_targets(bench.workdir / f"floor-targets-{n}.txt", targets)
    floor_out = bench.workdir / "floor-sweep.json"
    floor_argv = c.floor(
        bench.tools,
        bench.fleet,
        "sweep",
        floor_targets,
        floor_out,
        concurrency=bench.plan.concurrency,
    )
    floor = bench.step(
        "floor-sweep",
        floor_argv,
        lambda sample: c.check_floor(floor_out, n, sample),
        timeout=60 + n * 0.2,
        fresh=[floor_out],
    )
    series = bench.rounds({"sipprobe": sipprobe, "floor": floor})
    return WorkloadResult(
        key="sweep",
        title=f"1. Sweep: {n} fresh TLS connections, concurrency {bench.plan.concurrency}",
        what=(
            f"Each of {n} targets gets its own TCP+TLS connection (full handshake, TLS 1.3), "
            "the server's chain, one OPTIONS and its 200. sipprobe also captures and judges "
            "the chain, identity, validity, key, signature, EKU and the response, and writes "
            "its JSON report; the bare loop only verifies (OpenSSL, check_hostname) and reads "
            "the response. Wall time of the whole process, interpreter start included."
        ),
        fairness=[
            "Same interpreter (.venv/bin/python), same targets in the same order, same "
            f"concurrency bound ({bench.plan.concurrency}). The targets are spread round-robin "
            f"over {len(bench.fleet.listeners('tls'))} distinct address:port endpoints on "
            f"{bench.fleet.servers('tls')} Kamailio instances, so sipprobe's one connection "
            "per endpoint at a time (`--per-target 1`, its default) never holds it below the "
            "concurrency asked.",
            "Both verify the chain against the lab CA and check the host name, so both do the "
            "same public-key work per handshake; only sipprobe's judgement and report are extra.",
            "sipprobe writes `--format json` to a file (the CI/monitoring use); no terminal "
            "is involved, so no terminal I/O is measured.",
        ],
        contenders=[
            Contender("sipprobe", "sipprobe options", sipprobe_cmd, n),
            Contender("floor", "bare asyncio + ssl loop", bench.shown(floor_argv), n),
        ],
        series=series,
        comparisons=[
            rate_ratio(
                series["sipprobe"],
                n,
                series["floor"],
                n,
                "sipprobe throughput ÷ bare loop throughput",
                op=">=",
                threshold=0.85,
            ),
            inner_ratio(
                series["sipprobe"],
                series["floor"],
                "same, by each program's own clock (sipprobe's duration_ms: locate + "
                "collect, before judging and the report; the floor's loop)",
            ),
        ],
    )


# --- 3. cold start ----------------------------------------------------------------------


def cold_start(bench: Bench) -> WorkloadResult:
    python = str(bench.tools.python)
    report = bench.workdir / "report-single.json"
    listener = bench.fleet.listeners("tls")[0]
    floor_target = c.write_floor_targets(
        bench.workdir / "floor-single.txt",
        [(f"sip:{NAME}:{listener.port};transport=tls", listener)],
    )
    commands = {
        "python": [python, "-c", "pass"],
        "version": [str(bench.tools.sipprobe), "--version"],
        "options": c.sipprobe_single(bench.tools, bench.fleet),
        "options-json": c.sipprobe_single(
            bench.tools, bench.fleet, "--format", "json", "--output", f"json={report}"
        ),
        # The runtime's own floor for the same probe: asyncio + ssl, one handshake, one
        # OPTIONS, nothing judged.
        "floor": c.floor(
            bench.tools,
            bench.fleet,
            "sweep",
            floor_target,
            bench.workdir / "floor-single.json",
            concurrency=1,
        ),
        # The same floor after importing every third-party module the sipprobe probe
        # loads: what the libraries alone add, whatever sipprobe itself does.
        "floor-libraries": c.floor(
            bench.tools,
            bench.fleet,
            "sweep",
            floor_target,
            bench.workdir / "floor-libraries.json",
            concurrency=1,
            preload=c.third_party_modules(bench.tools, bench.fleet, bench.workdir),
        ),
    }

    def exit0(name: str) -> Callable[[Sample], dict[str, float]]:
        def check(sample: Sample) -> dict[str, float]:
            c.check_exit(name, sample)
            return {}

        return check

    steps = {
        name: bench.step(f"cold-{name}", argv, exit0(name), timeout=30, rss=False)
        for name, argv in commands.items()
    }
    series = bench.rounds(steps, bench.plan.coldstart_runs)
    labels = {
        "python": "python -c pass",
        "version": "sipprobe --version",
        "options": "sipprobe options, 1 probe, console report",
        "options-json": "sipprobe options, 1 probe, JSON report to a file",
        "floor": "bare asyncio + ssl loop, 1 probe",
        "floor-libraries": "the same bare probe after importing sipprobe's libraries",
    }
    base = series["python"]
    return WorkloadResult(
        key="coldstart",
        title="3. Cold start",
        what=(
            f"{bench.plan.coldstart_runs} runs of each command, interleaved, wall time from "
            "spawn to exit. The probe goes to a local Kamailio TLS listener (TLS 1.3, full "
            "chain judgement)."
        ),
        fairness=[
            "All run by the same interpreter (.venv/bin/python; the console script is its "
            "entry point), stdout to /dev/null (the console report is rendered as for a "
            "pipe, but no terminal I/O is measured).",
            "A warm-up run of each first, so byte-code caches exist for all.",
        ],
        contenders=[
            Contender(name, labels[name], bench.shown(argv), 1) for name, argv in commands.items()
        ],
        series=series,
        comparisons=[
            time_ratio(
                series["version"],
                base,
                "sipprobe --version ÷ python -c pass",
                op="<=",
                threshold=1.3,
            ),
            time_ratio(
                series["options"],
                series["floor"],
                "one sipprobe probe ÷ bare probe",
                op="<=",
                threshold=1.5,
            ),
            time_ratio(series["options-json"], series["floor"], "same, JSON report ÷ bare probe"),
            time_ratio(
                series["floor-libraries"],
                series["floor"],
                "the libraries' share: bare probe with sipprobe's libraries imported ÷ bare probe",
            ),
            time_ratio(
                series["options"],
                series["floor-libraries"],
                "sipprobe's own share: one sipprobe probe ÷ bare probe with its libraries",
            ),
            time_ratio(series["options"], base, "one sipprobe options probe ÷ python -c pass"),
            time_ratio(series["floor"], base, "the runtime's floor: bare probe ÷ python -c pass"),
        ],
        rate_unit=None,
    )


# --- 4. ping mode -----------------------------------------------------------------------


def ping(bench: Bench) -> WorkloadResult:
    count = bench.plan.ping_count
    report = bench.workdir / "report-ping.json"
    argv = c.sipprobe_ping(bench.tools, bench.fleet, count, report)
    listener = bench.fleet.listeners("tls")[0]
    target = [(f"sip:{NAME}:{listener.port};transport=tls", listener)]
    floor_targets = c.write_floor_targets(bench.workdir / "floor-ping.txt", target)
    floor_out = bench.workdir / "floor-ping.json"
    floor_argv = c.floor(bench.tools, bench.fleet, "ping", floor_targets, floor_out, count=count)

    def check(sample: Sample) -> dict[str, float]:
        c.check_exit("sipprobe ping", sample)
        return c.check_ping_report(report, count)

    steps = {
        "sipprobe": bench.step("sipprobe-ping", argv, check, timeout=120, fresh=[report]),
        "floor": bench.step(
            "floor-ping",
            floor_argv,
            lambda sample: c.check_floor(floor_out, count, sample),
            timeout=120,
            fresh=[floor_out],
        ),
    }
    series = bench.rounds(steps)
    return WorkloadResult(
        key="ping",
        title=f"4. Ping mode: {count} OPTIONS over one TLS connection",
        what=(
            f"One connection, {count} OPTIONS one after another (each answer read before the "
            "next request). Throughput = requests per wall second of the whole process."
        ),
        fairness=[
            "Same interpreter, listener and TLS version; both wait for each response before "
            "sending the next request (no pipelining).",
            "sipprobe also matches each response to its transaction, keeps every RTT, and "
            "judges the handshake and chain once.",
        ],
        contenders=[
            Contender("sipprobe", "sipprobe options --count", bench.shown(argv), count),
            Contender("floor", "bare asyncio + ssl loop", bench.shown(floor_argv), count),
        ],
        series=series,
        comparisons=[
            rate_ratio(
                series["sipprobe"],
                count,
                series["floor"],
                count,
                "sipprobe throughput ÷ bare loop throughput",
                op=">=",
                threshold=0.8,
            ),
            inner_ratio(
                series["sipprobe"],
                series["floor"],
                "same, by each program's own clock (sipprobe's duration_ms; the floor's loop)",
            ),
        ],
    )


# --- 5. growth and memory ---------------------------------------------------------------


def growth(bench: Bench) -> WorkloadResult:
    small, large = bench.plan.growth
    concurrency = bench.plan.concurrency
    step_small, cmd_small = sweep_steps(bench, "tls", small, f"growth-{small}")
    step_large, cmd_large = sweep_steps(bench, "tls", large, f"growth-{large}")
    series = bench.rounds(
        {f"n{small}": step_small, f"n{large}": step_large},
        bench.plan.growth_rounds,
        warmup=[f"n{small}"],
    )
    a, b = series[f"n{small}"], series[f"n{large}"]
    rss_a, rss_b = a.rss_mb(), b.rss_mb()
    if rss_a is None or rss_b is None:
        raise InvalidMeasurement(f"peak RSS needs GNU time ({GNU_TIME}, Debian package `time`)")
    peak = max(rss_a.high, rss_b.high)
    per_target_kb = (rss_b.median - rss_a.median) * 1000 / (large - small)
    scale = large / small
    return WorkloadResult(
        key="growth",
        title=f"5. Growth and memory: N = {small} and {large}, concurrency {concurrency}",
        what=(
            "The same sipprobe sweep at two sizes, interleaved. Peak RSS is the sipprobe "
            "process's own ru_maxrss, as GNU time (`/usr/bin/time -f %M`) reports it."
        ),
        fairness=[
            f"Time should grow linearly: N grows {scale:g}×, the bound allows {scale * 1.1:g}×."
        ],
        contenders=[
            Contender(f"n{small}", f"sipprobe, N = {small}", cmd_small, small),
            Contender(f"n{large}", f"sipprobe, N = {large}", cmd_large, large),
        ],
        series=series,
        comparisons=[
            time_ratio(b, a, f"time N={large} ÷ time N={small}", op="<=", threshold=scale * 1.1),
            Comparison(
                f"peak RSS N={large} ÷ peak RSS N={small}",
                rss_b.median / rss_a.median,
                tuple(
                    y.maxrss_kib / x.maxrss_kib for x, y in zip(a.samples, b.samples, strict=True)
                ),
                "<=",
                1.2,
            ),
            Comparison("highest peak RSS of any run", peak, (), "<=", 150.0, " MB"),
            Comparison(
                f"RSS per extra target (median N={large} minus N={small})",
                per_target_kb,
                (),
                unit=" kB",
            ),
        ],
    )


RUNNERS: dict[str, Callable[[Bench], WorkloadResult]] = {
    "sweep": sweep,
    "sipsak": versus_sipsak,
    "coldstart": cold_start,
    "ping": ping,
    "growth": growth,
    "budget": budget,
    "instructions": instructions,
    "exporter": exporter_speed,
    "soak": soak,
    "capture": capture_audit,
}
