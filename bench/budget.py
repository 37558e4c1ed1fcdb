"""The budget the targets leave, against what sipprobe's own work costs.

The sweep and ping targets allow sipprobe a little more wall time than the runtime's floor
(a bare asyncio + ssl loop that judges nothing): 1/0.85 of the floor's time for the sweep,
1/0.8 for ping mode. This workload turns that allowance into milliseconds, from the floor's
medians of the same run, and sets beside it what the work the floor does not do costs:
sipprobe's start-up beyond the floor's (from the cold-start workload), and, timed here in
one process on the evidence of a real sweep, judging a target, parsing an answer strictly
and writing a target's report. The in-process figures are best-of-several with warm caches,
a lower bound of what the same work costs inside a sweep; if even that exceeds the
budget, no implementation of this work on one core of this runtime meets the target.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from bench import contenders as c
from bench.measure import InvalidMeasurement, Sample, run
from bench.model import Bench, Comparison, WorkloadResult

REPEATS = 5
"""Each in-process measurement is the best of this many passes."""


def _best(action: Callable[[], object]) -> float:
    """Seconds of the fastest of REPEATS runs of `action`."""
    best = float("inf")
    for _ in range(REPEATS):
        began = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - began)
    return best


def _refuse(message: str) -> NoReturn:
    raise InvalidMeasurement(message)


def _sweep_evidence(bench: Bench, n: int) -> tuple[Path, list[str]]:
    """One sipprobe sweep of `n` targets with `--evidence-out` (not timed)."""
    targets = c.target_uris(bench.fleet, "tls", n)
    uris = [uri for uri, _ in targets]
    target_file = c.write_sipprobe_targets(bench.workdir / "targets-budget.txt", targets)
    report = bench.workdir / "report-budget.json"
    evidence = bench.workdir / "evidence-budget.json"
    argv = [
        *c.sipprobe_sweep(
            bench.tools, bench.fleet, "tls", target_file, report, bench.plan.concurrency
        ),
        "--evidence-out",
        str(evidence),
    ]

    def check(sample: Sample) -> dict[str, float]:
        c.check_exit("sipprobe --evidence-out", sample)
        return c.check_sweep_report(report, uris)

    bench.step("budget-evidence", argv, check, timeout=60 + n * 0.2, fresh=[report, evidence])()
    return evidence, uris


def _work_per_target(bench: Bench, evidence_path: Path, uris: list[str]) -> dict[str, float]:
    """Milliseconds per target of judging, strict parsing and the JSON report, in process."""
    from probe.evidence.file import load_evidence
    from probe.report.json import write_json
    from probe.run.commands import OptionsRequest, prepare
    from probe.settings import Settings
    from probe.sip import parse_message
    from probe.verdict.judging import judge_run

    run = load_evidence(evidence_path)
    settings = Settings.from_flat(pins=bench.fleet.pins("tls"), ca=bench.fleet.lab.ca)
    request = OptionsRequest(targets=uris, settings=settings)
    policy = prepare(request, _refuse).policy
    answers = [
        item.data
        for probed in run.probed()
        if probed.evidence is not None
        for exchange in probed.evidence.exchanges
        for item in exchange.received
        if item.error is None
    ]
    if len(answers) != len(uris):
        raise InvalidMeasurement(f"budget: {len(answers)} answers in the evidence of {len(uris)}")

    def judge() -> None:
        judge_run(run, policy)  # each answer parsed again from its evidence, as in a sweep

    def parse() -> None:
        for data in answers:
            parse_message(data, stream=True)

    report = judge_run(run, policy)

    def write() -> None:
        write_json(report, io.StringIO())

    count = len(uris)
    return {
        "judge": _best(judge) * 1000 / count,
        "parse": _best(parse) * 1000 / count,
        "report": _best(write) * 1000 / count,
    }


IMPORT_RUNS = 15
FLOOR_IMPORTS = "import asyncio, json, ssl"
JUDGE_IMPORTS = f"{FLOOR_IMPORTS}, cryptography.x509"


def _judgement_imports_ms(bench: Bench) -> float:
    """What importing cryptography's X.509 (which judging a chain needs) adds to the
    floor's own imports: medians of interleaved cold starts."""
    times: dict[str, list[float]] = {FLOOR_IMPORTS: [], JUDGE_IMPORTS: []}
    for round_number in range(IMPORT_RUNS):
        order = list(times) if round_number % 2 == 0 else list(reversed(times))
        for code in order:
            sample = run([str(bench.tools.python), "-c", code], timeout=30, rss=False)
            if sample.exit_code != 0:
                raise InvalidMeasurement(f"budget: python -c {code!r} exited {sample.exit_code}")
            times[code].append(sample.wall_s)
    return (
        statistics.median(times[JUDGE_IMPORTS]) - statistics.median(times[FLOOR_IMPORTS])
    ) * 1000


def _median_s(bench: Bench, workload: str, contender: str) -> float:
    return bench.done[workload].series[contender].wall().median


def budget(bench: Bench) -> WorkloadResult:
    missing = [key for key in ("sweep", "ping", "coldstart") if key not in bench.done]
    if missing:
        raise InvalidMeasurement(
            f"the budget needs the {', '.join(missing)} workload(s) measured in the same run"
        )
    n = bench.plan.sweep_n
    count = bench.plan.ping_count
    evidence, uris = _sweep_evidence(bench, n)
    work = _work_per_target(bench, evidence, uris)
    start_extra_ms = (
        _median_s(bench, "coldstart", "options-json") - _median_s(bench, "coldstart", "floor")
    ) * 1000
    crypto_ms = _judgement_imports_ms(bench)
    floor_sweep_ms = _median_s(bench, "sweep", "floor") * 1000
    sweep_budget_ms = floor_sweep_ms / 0.85 - floor_sweep_ms
    sweep_work_ms = n * (work["judge"] + work["report"])
    floor_ping_ms = _median_s(bench, "ping", "floor") * 1000
    ping_budget_ms = floor_ping_ms / 0.8 - floor_ping_ms
    ping_work_ms = count * work["parse"]

    def ms(label: str, value: float) -> Comparison:
        return Comparison(label, value, unit=" ms")

    return WorkloadResult(
        key="budget",
        title="6. Budget: what the sweep and ping targets leave, and what the work costs",
        what=(
            "The sweep target allows sipprobe 1/0.85 of the bare loop's wall time, ping mode "
            "1/0.8; the rest of the floor's time is spent alike by both (connections, "
            "handshakes, waiting for the servers). Below, that allowance in milliseconds, "
            "from the floor's medians in this run, beside what sipprobe does that the floor "
            "does not: for every target judge it, parse its answer strictly and write its "
            f"report (timed in one process on the evidence of a {n}-target sweep of these "
            f"servers, best of {REPEATS} passes); import cryptography's X.509 module, without "
            f"which no chain is judged ({IMPORT_RUNS} interleaved cold starts of each import "
            "line); and start as a whole (the cold-start workload: one probe with a JSON "
            "report, less the bare loop's one probe)."
        ),
        fairness=[
            "The in-process figures run with warm caches and nothing else in the process: "
            "inside a sweep the same work costs more (profile-sweep.txt), so the sums are "
            "a lower bound of what sipprobe needs.",
            "Judging is what a sweep does for each target: its chain verified and its "
            "answer parsed from its evidence, nothing remembered between targets.",
            "A ratio above 1 means the target cannot be met on one core of this runtime by "
            "a tool that does this work, however its network side and its start are written "
            "(the ratios with the cryptography import count only that import as start-up).",
        ],
        contenders=[],
        series={},
        comparisons=[
            ms("judging one target (all its checks, its answer parsed)", work["judge"]),
            ms("strict parse of one answer (RFC 3261 grammar)", work["parse"]),
            ms("JSON report of one target (its line and its findings' lines)", work["report"]),
            ms("importing cryptography.x509 beyond asyncio, json and ssl", crypto_ms),
            ms("sipprobe's start-up and one probe, beyond the bare loop's", start_extra_ms),
            ms(f"sweep: the bare loop's {n} targets", floor_sweep_ms),
            ms("sweep: allowance at 0.85× (1/0.85 of it, less it)", sweep_budget_ms),
            ms("sweep: judge (parse included) and report every target", sweep_work_ms),
            Comparison(
                "sweep: that work ÷ the allowance (start-up left out)",
                sweep_work_ms / sweep_budget_ms,
            ),
            Comparison(
                "sweep: that work and cryptography's import ÷ the allowance",
                (sweep_work_ms + crypto_ms) / sweep_budget_ms,
            ),
            Comparison(
                "sweep: that work and sipprobe's start-up ÷ the allowance",
                (sweep_work_ms + start_extra_ms) / sweep_budget_ms,
            ),
            ms(f"ping: the bare loop's {count} requests", floor_ping_ms),
            ms("ping: allowance at 0.8× (1/0.8 of it, less it)", ping_budget_ms),
            ms("ping: parse every answer", ping_work_ms),
            Comparison(
                "ping: that and cryptography's import ÷ the allowance",
                (ping_work_ms + crypto_ms) / ping_budget_ms,
            ),
            Comparison(
                "ping: that and sipprobe's start-up ÷ the allowance",
                (ping_work_ms + start_extra_ms) / ping_budget_ms,
            ),
        ],
        rate_unit=None,
    )
