"""What a workload is made of: the run's sizes (`Plan`), the shared context (`Bench`),
contenders, the judged figures (`Comparison`) and how they are computed from samples."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import contenders as c
from bench.measure import InvalidMeasurement, Sample, Series, Step, interleave, run
from bench.servers import Fleet


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes of one run; `quick` is a smoke run for development, not for BENCHMARKS.md."""

    rounds: int = 5
    sweep_n: int = 1000
    concurrency: int = 100
    sipsak_sequential: int = 250
    coldstart_runs: int = 30
    ping_count: int = 2000
    growth: tuple[int, int] = (1000, 4000)
    growth_rounds: int = 5
    """Rounds of the long N=4000 sweeps (a separate knob, should they need fewer)."""
    exporter_probes: int = 3000
    """Scrapes per round of each exporter (workload 8)."""
    exporter_concurrency: int = 32
    """Scrapers at once: the exporters' load, and sipprobe exporter's --concurrency."""
    soak_probes: int = 100_000
    soak_segments: int = 20
    """The soak's probes come in this many runs, the exporter sampled at rest after each."""
    capture_calls: int = 150
    capture_seconds: int = 290
    """The capture audit's trunk capture: calls with media both ways for this long
    (150 calls × 290 s: 4.35 million media packets, about 1 GB)."""
    capture_rounds: int = 3
    """Rounds of the capture audit (each run reads the whole capture)."""
    quick: bool = False

    @classmethod
    def make(cls, *, quick: bool, rounds: int | None) -> Plan:
        if quick:
            return cls(
                rounds=rounds or 2,
                sweep_n=100,
                sipsak_sequential=40,
                coldstart_runs=5,
                ping_count=200,
                growth=(100, 400),
                growth_rounds=rounds or 2,
                exporter_probes=300,
                soak_probes=2000,
                soak_segments=5,
                capture_calls=20,
                capture_seconds=10,
                capture_rounds=rounds or 2,
                quick=True,
            )
        return cls(rounds=rounds or 5, growth_rounds=rounds or 5, capture_rounds=rounds or 3)


@dataclass(frozen=True, slots=True)
class Comparison:
    label: str
    value: float
    """The judged figure, from the medians (a ratio, or MB for a memory bound)."""
    per_round: tuple[float, ...] = ()
    """The same figure round by round (rounds are paired: taken side by side)."""
    op: str | None = None
    """`>=` or `<=` against `threshold`; None for a figure shown for information."""
    threshold: float | None = None
    unit: str = "×"

    @property
    def met(self) -> bool | None:
        if self.op is None or self.threshold is None:
            return None
        return self.value >= self.threshold if self.op == ">=" else self.value <= self.threshold


@dataclass(frozen=True, slots=True)
class Contender:
    key: str
    label: str
    command: str
    """The command line as run (work paths shortened), for the reader to repeat."""
    work: int
    """Probes per run (1 for a cold start)."""


@dataclass
class WorkloadResult:
    key: str
    title: str
    what: str
    fairness: list[str]
    contenders: list[Contender]
    series: dict[str, Series]
    comparisons: list[Comparison]
    facts: list[str] = field(default_factory=list)
    rate_unit: str | None = "probes/s"
    """None: show wall times only (cold start)."""


@dataclass(frozen=True, slots=True)
class Bench:
    tools: c.Tools
    fleet: Fleet
    plan: Plan
    workdir: Path
    log: Callable[[str], None]
    done: dict[str, WorkloadResult] = field(default_factory=dict)
    """The workloads measured so far in this run (the budget reads their medians)."""

    def shown(self, argv: Sequence[str]) -> str:
        """The command line for a reader: work paths shortened, pins after the first
        two summarised."""
        words: list[str] = []
        pins = 0
        for index, word in enumerate(argv):
            if word == "--resolve":
                pins += 1
            if pins > 2 and (word == "--resolve" or argv[index - 1] == "--resolve"):
                continue
            words.append(word)
        if pins > 2:
            words.insert(words.index("--resolve") + 4, f"… ({pins} --resolve pins in all)")
        text = " ".join(words)
        text = text.replace(str(self.workdir), "$WORK").replace(f"{self.tools.root}/", "")
        return text.replace(str(self.tools.root), ".")

    def step(
        self,
        name: str,
        argv: Sequence[str],
        check: Callable[[Sample], dict[str, float]],
        *,
        timeout: float,
        stdin: Path | None = None,
        stdout: Path | None = None,
        fresh: Sequence[Path] = (),
        rss: bool = True,
    ) -> Step:
        """One measured run: output files removed first, stderr kept for the error;
        standard output written to `stdout` when given (the command's answer)."""
        stderr_path = self.workdir / f"stderr-{name}.txt"

        def once() -> tuple[Sample, dict[str, float]]:
            for path in fresh:
                path.unlink(missing_ok=True)
            with contextlib.ExitStack() as files:
                err = files.enter_context(stderr_path.open("wb"))
                out = files.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
                if stdin is not None:
                    with stdin.open("rb") as source:
                        sample = run(
                            argv, timeout=timeout, stdin=source, stdout=out, stderr=err, rss=rss
                        )
                else:
                    sample = run(
                        argv,
                        timeout=timeout,
                        stdout=out,
                        stderr=err,
                        cwd=self.tools.root,
                        rss=rss,
                    )
            try:
                return sample, check(sample)
            except InvalidMeasurement as exc:
                tail = stderr_path.read_text(errors="replace")[-1500:]
                raise InvalidMeasurement(f"{name}: {exc}\n{tail}") from exc

        return once

    def between(self) -> None:
        self.fleet.check()

    def rounds(
        self,
        steps: dict[str, Step],
        rounds: int | None = None,
        warmup: Sequence[str] | None = None,
    ) -> dict[str, Series]:
        return interleave(
            steps,
            rounds or self.plan.rounds,
            warmup=warmup,
            between=self.between,
            log=self.log,
        )


def median_rate(series: Series, work: int) -> float:
    return statistics.median(work / s.wall_s for s in series.samples)


def rate_ratio(
    a: Series, work_a: int, b: Series, work_b: int, label: str, **judge: object
) -> Comparison:
    """Throughput of a ÷ throughput of b, from the medians and round by round."""
    per_round = tuple(
        (work_a / x.wall_s) / (work_b / y.wall_s) for x, y in zip(a.samples, b.samples, strict=True)
    )
    value = median_rate(a, work_a) / median_rate(b, work_b)
    return Comparison(label, value, per_round, **judge)  # type: ignore[arg-type]


def time_ratio(a: Series, b: Series, label: str, **judge: object) -> Comparison:
    """Wall time of a ÷ wall time of b (lower is better)."""
    per_round = tuple(x.wall_s / y.wall_s for x, y in zip(a.samples, b.samples, strict=True))
    return Comparison(label, a.wall().median / b.wall().median, per_round, **judge)  # type: ignore[arg-type]


def inner_ratio(a: Series, b: Series, label: str) -> Comparison:
    """b's in-process time ÷ a's (a throughput ratio by each program's own clock)."""
    per_round = tuple(y["inner_s"] / x["inner_s"] for x, y in zip(a.extra, b.extra, strict=True))
    value = statistics.median(y["inner_s"] for y in b.extra) / statistics.median(
        x["inner_s"] for x in a.extra
    )
    return Comparison(label, value, per_round)


def sweep_steps(bench: Bench, kind: str, n: int, tag: str) -> tuple[Step, str]:
    """sipprobe over n fresh targets on the `kind` listeners; its step and command."""
    targets = c.target_uris(bench.fleet, kind, n)
    uris = [uri for uri, _ in targets]
    target_file = c.write_sipprobe_targets(bench.workdir / f"targets-{tag}.txt", targets)
    report = bench.workdir / f"report-{tag}.json"
    argv = c.sipprobe_sweep(
        bench.tools, bench.fleet, kind, target_file, report, bench.plan.concurrency
    )

    def check(sample: Sample) -> dict[str, float]:
        c.check_exit("sipprobe", sample)
        return c.check_sweep_report(report, uris)

    step = bench.step(f"sipprobe-{tag}", argv, check, timeout=60 + n * 0.2, fresh=[report])
    return step, bench.shown(argv)
