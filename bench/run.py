"""The benchmark harness: `python -m bench.run [--quick] [--only W,...] [--rounds K]`.

Starts its own servers (a lab PKI, Kamailio TLS listeners on 127.0.0.2…), runs the
workloads with their contenders interleaved, writes BENCHMARKS.md and the raw samples, and
stops everything it started on the way out (error, Ctrl-C or SIGTERM alike).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from bench import report
from bench.contenders import Tools, tool_version
from bench.measure import InvalidMeasurement, kill_live
from bench.model import Bench, Plan, WorkloadResult
from bench.servers import kamailio_version, running_fleet
from bench.workloads import RUNNERS, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
PARTIAL_DIR = ROOT / "bench" / "out"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark sipprobe against its floor, against sipsak and its exporter "
        "against blackbox_exporter; write BENCHMARKS.md from the measurements.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run (N=100, 2 rounds), for development"
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated workloads: {', '.join(WORKLOADS)} (and/or 'profile')",
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (5)")
    parser.add_argument(
        "--instances",
        type=int,
        default=4,
        help="loopback addresses, each with one Kamailio per listener kind (4)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the Markdown report (BENCHMARKS.md for a full run; bench/out/ for --quick/--only)",
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="raw samples JSON (bench/results.json)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one sweep (cProfile) into bench/profile-sweep.txt",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directory (logs, reports)"
    )
    args = parser.parse_args(argv)
    chosen = list(WORKLOADS) if args.only is None else [w.strip() for w in args.only.split(",")]
    unknown = [w for w in chosen if w not in (*WORKLOADS, "profile")]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.profile = args.profile or "profile" in chosen
    args.workloads = [w for w in WORKLOADS if w in chosen]
    partial = args.quick or args.only is not None
    if args.out is None:
        args.out = PARTIAL_DIR / "BENCHMARKS.partial.md" if partial else ROOT / "BENCHMARKS.md"
    if args.results is None:
        args.results = (
            PARTIAL_DIR / "results.partial.json" if partial else ROOT / "bench" / "results.json"
        )
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def log(message: str) -> None:
    print(message, flush=True)


def compile_bytecode() -> None:
    """Compile the project's bytecode before measuring, as `pip install` does for an
    installed copy. The editable install of a checkout compiles nothing, and with
    PYTHONDONTWRITEBYTECODE set (as on CI machines) every run would compile every module
    from source again: a cost users of an installed sipprobe never pay."""
    for folder in ("probe", "bench"):
        if not compileall.compile_dir(ROOT / folder, quiet=1):
            raise SystemExit(f"cannot compile {folder}/ (a syntax error?)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    plan = Plan.make(quick=args.quick, rounds=args.rounds)
    sipsak = shutil.which("sipsak")
    tools = Tools(
        python=Path(sys.executable),
        sipprobe=Path(sys.executable).parent / "sipprobe",
        sipsak=Path(sipsak) if sipsak else None,
        root=ROOT,
    )
    if not tools.sipprobe.exists():
        log(f"no sipprobe next to {sys.executable}: run with the project's venv")
        return 2
    compile_bytecode()
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    info = report.RunInfo(
        started=started,
        plan=plan,
        instances=args.instances,
        machine=report.machine_info(
            ROOT,
            kamailio_version(),
            tool_version([sipsak, "-V"]) if sipsak else "not installed",
        ),
    )
    results: list[WorkloadResult] = []
    workdir = Path(tempfile.mkdtemp(prefix="sipprobe-bench-"))
    interrupted = False
    try:
        log(f"starting {2 * args.instances} Kamailio instances (scratch: {workdir})")
        with running_fleet(workdir, args.instances) as fleet:
            bench = Bench(tools, fleet, plan, workdir, log)
            for key in args.workloads:
                log(f"== {key}")
                try:
                    result = RUNNERS[key](bench)
                    results.append(result)
                    bench.done[key] = result
                except InvalidMeasurement as exc:
                    info.invalid[key] = str(exc)
                    log(f"   INVALID: {exc}")
                    fleet.check()  # a dead server invalidates everything after it
            if args.profile:
                from bench.profile import profile_sweep

                log("== profile")
                written = profile_sweep(bench, ROOT / "bench" / "profile-sweep.txt")
                log(f"   wrote {written}")
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping everything the harness started")
    finally:
        kill_live()
        if args.keep:
            log(f"scratch kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if interrupted:
        return 130
    info.finished = dt.datetime.now(dt.UTC)
    info.load_end = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    info.git_end = report.git_state(ROOT)
    if results or info.invalid:
        report.write(info, results, args.out, args.results)
        log(f"wrote {args.out} and {args.results} ({(time.monotonic() - clock) / 60:.1f} min)")
        for result in results:
            for comparison in result.comparisons:
                if comparison.met is not None:
                    verdict = "PASS" if comparison.met else "MISS"
                    log(f"  {verdict} {result.key}: {comparison.label}: {comparison.value:.3g}")
    return 1 if info.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
