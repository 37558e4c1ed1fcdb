"""What each commit of a series did to the instructions of one target:
`python -m bench.cache_effects REV... [--out FILE]`.

Issue 15's rule keeps a cache only if it earns at least 2% of a target's instructions in
the callgrind workload (workload 7). This measures that workload's sipprobe sweep, at
N = 20 and N = 200, for each revision given (a cache removed per commit, say), in the
order given, and writes a Markdown table: each revision's instructions per target and
the change from the row above. Each revision runs from its own exported tree (`git
archive`), its bytecode compiled first, against the same Kamailio fleet.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.contenders import Tools
from bench.instructions import CONCURRENCY, _counted, _sizes
from bench.measure import kill_live
from bench.model import Bench, Plan
from bench.servers import running_fleet

ROOT = Path(__file__).resolve().parent.parent
SHARE_KEPT = 2.0
"""Issue 15: a cache stays only if removing it costs at least this share (%)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Measured:
    rev: str
    subject: str
    small: int
    large: int
    sizes: tuple[int, int]

    @property
    def per_target(self) -> float:
        return (self.large - self.small) / (self.sizes[1] - self.sizes[0])

    @property
    def before_first(self) -> float:
        return self.small - self.sizes[0] * self.per_target


def _log(message: str) -> None:
    print(message, flush=True)


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout


def _export(rev: str, into: Path) -> None:
    """The tree of `rev`, as files (no checkout, no work tree of git's)."""
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=_git("archive", rev), check=True)
    for folder in ("probe", "bench"):
        if not compileall.compile_dir(into / folder, quiet=1):
            raise SystemExit(f"{rev}: cannot compile {folder}/")


def measure(revs: list[str], log: bool = True) -> list[Measured]:
    workdir = Path(tempfile.mkdtemp(prefix="sipprobe-cache-effects-"))
    plan = Plan.make(quick=False, rounds=1)
    measured: list[Measured] = []
    try:
        with running_fleet(workdir, 4) as fleet:
            for index, rev in enumerate(revs):
                full = _git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
                subject = _git("log", "-1", "--format=%s", full).decode().strip()
                tree = workdir / f"tree-{index}"
                _export(full, tree)
                tools = Tools(python=Path(sys.executable), sipprobe=Path(), sipsak=None, root=tree)
                scratch = workdir / f"run-{index}"
                scratch.mkdir()
                bench = Bench(tools, fleet, plan, scratch, _log if log else lambda _: None)
                small, large = _sizes(bench)
                counts = (_counted(bench, "sipprobe", small), _counted(bench, "sipprobe", large))
                measured.append(Measured(full[:10], subject, *counts, (small, large)))
                fleet.check()
    finally:
        kill_live()
        shutil.rmtree(workdir, ignore_errors=True)
    return measured


def table(measured: list[Measured]) -> str:
    lines = [
        "| commit | instructions per target | change from the row above, in % of the first"
        " row's | before the first target | subject |",
        "|---|---|---|---|---|",
    ]
    first = measured[0].per_target
    previous: Measured | None = None
    for row in measured:
        change = (
            "—"
            if previous is None
            else f"{100 * (row.per_target - previous.per_target) / first:+.2f} %"
        )
        subject = row.subject if len(row.subject) <= 110 else row.subject[:107] + "…"
        lines.append(
            f"| `{row.rev}` | {row.per_target / 1e6:.3f} M | {change} | "
            f"{row.before_first / 1e6:.0f} M | {subject.replace('|', '/')} |"
        )
        previous = row
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_effects", description=__doc__)
    parser.add_argument("revs", nargs="+", help="git revisions, measured in this order")
    parser.add_argument("--out", type=Path, default=None, help="write the table here too")
    args = parser.parse_args(argv)
    # As bench.run: SIGTERM unwinds like Ctrl-C, so the fleet is stopped on the way out.
    signal.signal(signal.SIGTERM, _terminate)
    measured = measure(args.revs)
    text = (
        "Instructions per target of the callgrind workload's sipprobe sweep "
        f"(N = {measured[0].sizes[0]} and {measured[0].sizes[1]}, concurrency {CONCURRENCY}), "
        f"by `python -m bench.cache_effects {' '.join(args.revs)}`. Each change is the "
        "difference from the row above as a share of the first row's instructions per "
        f"target: removing a cache that costs +{SHARE_KEPT:g} % or more keeps it.\n\n"
        + table(measured)
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
