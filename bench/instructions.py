"""7. Instructions: the sweep's client work counted by callgrind rather than timed.

Wall and CPU times on this machine move by more than a tenth between rounds (two cores
shared with the servers). An instruction count does not: valgrind's callgrind counts every
instruction the client process executes, the same to a few parts in ten thousand from one
run to the next whatever else the machine does. Two sweep sizes give, by difference, what
one more target costs and what a run costs before its first target.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bench import contenders as c
from bench.measure import InvalidMeasurement, Sample
from bench.model import Bench, Comparison, WorkloadResult

CONCURRENCY = 20
"""Under valgrind each client runs tens of times slower: fewer handshakes at once keep
every one well inside its deadline."""
DEADLINE_S = 60
WHO = ("sipprobe", "floor")
_SUMMARY = re.compile(rb"^summary: (\d+)$", re.MULTILINE)


def _sizes(bench: Bench) -> tuple[int, int]:
    return (10, 40) if bench.plan.quick else (20, 200)


def _count(path: Path) -> int:
    found = _SUMMARY.search(path.read_bytes()) if path.exists() else None
    if found is None:
        raise InvalidMeasurement(f"callgrind wrote no instruction total to {path.name}")
    return int(found.group(1))


def _counted(bench: Bench, who: str, n: int) -> int:
    """Instructions of one sweep of n targets by `who` (sipprobe or the floor), checked."""
    targets = c.target_uris(bench.fleet, "tls", n)
    out = bench.workdir / f"callgrind-{who}-{n}.out"
    if who == "sipprobe":
        target_file = c.write_sipprobe_targets(bench.workdir / f"cg-targets-{n}.txt", targets)
        report = bench.workdir / f"cg-report-{n}.json"
        argv = c.sipprobe_sweep(bench.tools, bench.fleet, "tls", target_file, report, CONCURRENCY)
        # The console script's own interpreter, named so that valgrind runs it directly.
        argv = [str(bench.tools.python), "-m", "probe", *argv[1:], "--timeout", str(DEADLINE_S)]
        uris = [uri for uri, _ in targets]

        def check(sample: Sample) -> dict[str, float]:
            c.check_exit("sipprobe", sample)
            return c.check_sweep_report(report, uris)

        fresh = [report, out]
    else:
        floor_targets = c.write_floor_targets(bench.workdir / f"cg-floor-{n}.txt", targets)
        floor_out = bench.workdir / f"cg-floor-{n}.json"
        argv = c.floor(
            bench.tools, bench.fleet, "sweep", floor_targets, floor_out, concurrency=CONCURRENCY
        )

        def check(sample: Sample) -> dict[str, float]:
            return c.check_floor(floor_out, n, sample)

        fresh = [floor_out, out]
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
    step = bench.step(
        f"callgrind-{who}-{n}", valgrind, check, timeout=120 + n * 2.0, fresh=fresh, rss=False
    )
    step()
    bench.log(f"callgrind {who} N={n}: {_count(out):,} instructions")
    return _count(out)


IMPORT_LINES = {
    "interpreter": "pass",
    "runtime": "import asyncio, json, ssl",
    "click": "import asyncio, json, ssl, click",
    "cryptography": "import asyncio, json, ssl, cryptography.x509",
    "sipprobe": (
        "import probe.cli.commands, probe.run.commands, probe.verdict.checks.certificate, "
        "probe.report.json"
    ),
}
"""What starting costs, by part: each line run alone under callgrind. The last is what a
sweep imports (its command, its run, the certificate judgement and the JSON report)."""


def _import_counts(bench: Bench) -> dict[str, int]:
    counts = {}
    for part, line in IMPORT_LINES.items():
        out = bench.workdir / f"callgrind-import-{part}.out"
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        argv += [str(bench.tools.python), "-c", line]

        def check(sample: Sample, part: str = part) -> dict[str, float]:
            c.check_exit(f"import line {part}", sample)
            return {}

        bench.step(f"callgrind-import-{part}", argv, check, timeout=120, fresh=[out], rss=False)()
        counts[part] = _count(out)
    return counts


def instructions(bench: Bench) -> WorkloadResult:
    if shutil.which("valgrind") is None:
        raise InvalidMeasurement("valgrind is not installed (Debian package valgrind)")
    small, large = _sizes(bench)
    counts = {(who, n): _counted(bench, who, n) for n in (small, large) for who in WHO}
    imports = _import_counts(bench)
    interpreter, runtime = imports["interpreter"], imports["runtime"]
    own = imports["sipprobe"] - imports["click"] - imports["cryptography"] + runtime
    per_target = {who: (counts[who, large] - counts[who, small]) / (large - small) for who in WHO}
    fixed = {who: counts[who, small] - small * per_target[who] for who in WHO}
    n = bench.plan.sweep_n

    def at(who: str) -> float:
        return fixed[who] + n * per_target[who]

    def millions(label: str, value: float) -> Comparison:
        return Comparison(label, value / 1e6, unit=" M")

    return WorkloadResult(
        key="instructions",
        title="7. Instructions: the sweep's client work, counted by callgrind",
        what=(
            f"The sweep of workload 1 at N = {small} and N = {large} (concurrency "
            f"{CONCURRENCY}), each client run once under `valgrind --tool=callgrind`, "
            "which counts every instruction the client process executes: its interpreter, "
            "OpenSSL and its own code. The difference between the two sizes is the cost of "
            "one more target; what is left at N = 0 is the cost of starting (interpreter, "
            "imports, arguments, trust anchors). The parts of starting are import lines run "
            'alone (`python -c "import …"`), each counted the same way.'
        ),
        fairness=[
            "Counts repeat to a few parts in ten thousand from run to run on the same code, "
            "so small changes show that the timed workloads cannot resolve.",
            "Only the client is counted: the servers' work and the time spent waiting for "
            "them are not, so the last ratio is what the clients' own work allows, not a "
            "throughput forecast.",
        ],
        contenders=[],
        series={},
        comparisons=[
            millions("sipprobe: instructions per target", per_target["sipprobe"]),
            millions("bare loop: instructions per target", per_target["floor"]),
            Comparison(
                "per target: bare loop ÷ sipprobe",
                per_target["floor"] / per_target["sipprobe"],
            ),
            millions("sipprobe: instructions before the first target", fixed["sipprobe"]),
            millions("bare loop: instructions before the first target", fixed["floor"]),
            millions("starting the interpreter (`python -c pass`)", imports["interpreter"]),
            millions("importing asyncio, json and ssl (both need them)", runtime - interpreter),
            millions("importing click beyond those", imports["click"] - runtime),
            millions("importing cryptography.x509 beyond those", imports["cryptography"] - runtime),
            millions("importing sipprobe's own modules for a sweep", own),
            Comparison(
                f"a {n}-target sweep's client instructions: bare loop ÷ sipprobe",
                at("floor") / at("sipprobe"),
            ),
        ],
        rate_unit=None,
    )
