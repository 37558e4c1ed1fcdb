"""BENCHMARKS.md and the raw results JSON, written from one run's measurements only."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import ssl
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import Stats
from bench.model import Comparison, Plan, WorkloadResult
from bench.servers import PORTS


@dataclass
class RunInfo:
    started: dt.datetime
    plan: Plan
    instances: int
    machine: dict[str, str]
    finished: dt.datetime | None = None
    load_end: str = ""
    git_end: str = ""
    invalid: dict[str, str] = field(default_factory=dict)
    """Workloads whose measurement was refused, and why."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _first(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def machine_info(root: Path, kamailio: str, sipsak: str) -> dict[str, str]:
    import cryptography

    import probe

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem = next(
        (
            f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal")
        ),
        "unknown",
    )
    uname = platform.uname()
    commit = git_state(root)
    return {
        "kernel": f"{uname.system} {uname.release} {uname.machine}",
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "unknown")
        if hasattr(platform, "freedesktop_os_release")
        else "unknown",
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "cryptography": cryptography.__version__,
        "sipprobe": f"{probe.__version__} (git {commit} at start)",
        "kamailio": kamailio,
        "sipsak": sipsak,
        "gnutls (sipsak)": _first(["dpkg-query", "-W", "-f", "${Version}", "libgnutls30"]),
        "load average at start": " ".join(_read("/proc/loadavg").split()[:3]),
    }


HARNESS_OUTPUTS = ("BENCHMARKS.md", "bench/results.json", "bench/profile-sweep.txt")


def git_state(root: Path) -> str:
    """The commit, and whether tracked files differ from it (others edit the same tree).
    The harness's own outputs do not count: the profile is written before the end."""
    commit = _first(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _first(
        [
            "git",
            "-C",
            str(root),
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            *(f":(exclude){path}" for path in HARNESS_OUTPUTS),
        ]
    )
    return commit + (", with uncommitted changes" if dirty not in ("unknown", "") else "")


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _span(stats: Stats) -> str:
    return f"{_num(stats.median)} ({_num(stats.low)}–{_num(stats.high)})"


def _verdict(comparison: Comparison) -> str:
    met = comparison.met
    return "—" if met is None else ("**PASS**" if met else "**MISS**")


def _target(comparison: Comparison) -> str:
    if comparison.op is None or comparison.threshold is None:
        return "—"
    sign = {">=": "≥", "<=": "≤"}[comparison.op]
    return f"{sign} {comparison.threshold:g}{comparison.unit}"


def _value(comparison: Comparison) -> str:
    return f"{_num(comparison.value)}{comparison.unit}"


def _per_round(comparison: Comparison) -> str:
    if not comparison.per_round:
        return "—"
    values = comparison.per_round
    return f"{_num(min(values))}–{_num(max(values))}"


def _workload(result: WorkloadResult) -> list[str]:
    lines = [f"## {result.title}", "", result.what, ""]
    lines += [f"- {item}" for item in result.fairness]
    lines.append("")
    if result.contenders:
        lines += _contenders(result)
    lines += [
        "| figure | from the medians | round by round (min–max) | target | result |",
        "|---|---:|---:|---:|:---:|",
    ]
    for comparison in result.comparisons:
        lines.append(
            f"| {comparison.label} | {_value(comparison)} | {_per_round(comparison)} | "
            f"{_target(comparison)} | {_verdict(comparison)} |"
        )
    if result.facts:
        lines += ["", *[f"- {fact}" for fact in result.facts]]
    return [*lines, ""]


def _contenders(result: WorkloadResult) -> list[str]:
    lines = ["Commands (`$WORK` is the run's scratch directory):", ""]
    lines += [f"- {ct.label}: `{ct.command}`" for ct in result.contenders]
    lines.append("")
    if result.rate_unit:
        lines += [
            f"| contender | runs | probes/run | wall s, median (min–max) | {result.rate_unit}, "
            "median (min–max) | CPU ms per probe | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += [
            "| contender | runs | wall ms, median (min–max) | CPU ms | peak RSS MB |",
            "|---|---:|---:|---:|---:|",
        ]
    for ct in result.contenders:
        series = result.series[ct.key]
        wall, cpu, rss = series.wall(), series.cpu(), series.rss_mb()
        peak = "—" if rss is None else _num(rss.median)
        if result.rate_unit:
            lines.append(
                f"| {ct.label} | {wall.count} | {ct.work} | {_span(wall)} | "
                f"{_span(series.rate(ct.work))} | {_num(cpu.median * 1000 / ct.work)} | "
                f"{peak} |"
            )
        else:
            ms = Stats(wall.median * 1000, wall.low * 1000, wall.high * 1000, wall.count)
            lines.append(
                f"| {ct.label} | {wall.count} | {_span(ms)} | {_num(cpu.median * 1000)} | {peak} |"
            )
    return [*lines, ""]


def markdown(info: RunInfo, results: list[WorkloadResult], results_json: str) -> str:
    plan = info.plan
    elapsed = (info.finished - info.started).total_seconds() if info.finished else 0.0
    lines = [
        "# Benchmarks",
        "",
        f"Generated by the harness in `bench/` (`make bench`, i.e. `python -m bench.run`) "
        f"on {info.started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min. Every number here "
        f"comes from that run; the raw samples are in `{results_json}`. Do not edit by hand: "
        "run the harness again. See `bench/README.md` for what each workload measures.",
        "",
        "Ratios compare contenders measured in the same run, interleaved round by round "
        "(the machine is shared and noisy, so absolute figures move between runs; the "
        "ratios are what the targets judge).",
        "",
    ]
    if plan.quick:
        lines += ["**Quick smoke run (`--quick`): small sizes, not for judging.**", ""]
    lines += ["## Machine and versions", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in info.machine.items()]
    lines += [
        f"| load average at end | {info.load_end} |",
        f"| sipprobe at end | git {info.git_end}"
        + (
            " (the tree changed during the run: workloads may have measured different code)"
            if info.git_end not in info.machine["sipprobe"]
            else ""
        )
        + " |",
        f"| servers | Kamailio (tcp_children=1) on {info.instances} loopback addresses, "
        f"two instances per address (TLS 1.2+ and TLS 1.2-only), {PORTS} TLS ports each: "
        f"{info.instances * PORTS} endpoints per kind, targets spread round-robin |",
        f"| rounds | {plan.rounds} per workload (cold start: {plan.coldstart_runs} runs of "
        f"each; growth: {plan.growth_rounds}), after one untimed warm-up run of each "
        "contender (growth: of the smaller sweep) |",
        "| bytecode | the project's modules compiled before the run, as `pip install` "
        "compiles an installed copy (dependencies and the standard library come compiled) |",
        "",
        "## Summary",
        "",
        "| workload | figure | measured | target | result |",
        "|---|---|---:|---:|:---:|",
    ]
    for result in results:
        for comparison in result.comparisons:
            if comparison.op is not None:
                lines.append(
                    f"| {result.title.split(':')[0]} | {comparison.label} | "
                    f"{_value(comparison)} | {_target(comparison)} | {_verdict(comparison)} |"
                )
    for key in info.invalid:
        lines.append(f"| {key} | measurement refused | — | — | **INVALID** |")
    lines.append("")
    for key, reason in info.invalid.items():
        lines += [f"## {key}: INVALID", "", "The harness refused this measurement:", ""]
        lines += ["```", reason.strip(), "```", ""]
    for result in results:
        lines += _workload(result)
    return "\n".join(lines)


def raw(info: RunInfo, results: list[WorkloadResult]) -> dict[str, Any]:
    return {
        "started": info.started.isoformat(timespec="seconds"),
        "finished": info.finished.isoformat(timespec="seconds") if info.finished else None,
        "plan": asdict(info.plan),
        "instances": info.instances,
        "machine": info.machine
        | {"load average at end": info.load_end, "sipprobe at end": info.git_end},
        "invalid": info.invalid,
        "workloads": {
            result.key: {
                "title": result.title,
                "contenders": [asdict(ct) for ct in result.contenders],
                "samples": {
                    name: [
                        asdict(sample) | extra
                        for sample, extra in zip(series.samples, series.extra, strict=True)
                    ]
                    for name, series in result.series.items()
                },
                "comparisons": [asdict(cmp) | {"met": cmp.met} for cmp in result.comparisons],
                "facts": result.facts,
            }
            for result in results
        },
    }


def write(info: RunInfo, results: list[WorkloadResult], out: Path, results_path: Path) -> None:
    shown = os.path.relpath(results_path, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(raw(info, results), indent=1) + "\n")
    out.write_text(markdown(info, results, shown))
