"""Timing one process, interleaving contenders, and the statistics of the results.

Each measured command runs as a child process in its own session. The wall time is taken
with `time.perf_counter` around spawn → reap; the child is reaped with `os.wait4`, whose
resource usage covers the child and every descendant it reaped itself (Linux reports
RUSAGE_BOTH for a waited-for child), so the CPU time belongs to that one command.

Peak RSS cannot come from that same wait4: a child forked (vforked) from the harness
inherits the harness's high-water mark, which exec keeps (`signal->maxrss`), so a
`/bin/true` started from a 300 MB harness reports 300 MB. With `rss=True` the command runs
under GNU time (`/usr/bin/time -f %M`, a 1 MB process), which forks it afresh and reports
the command's own ru_maxrss; its ~1 ms of extra start-up falls on every contender alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

GNU_TIME = Path("/usr/bin/time")
_LIVE: set[int] = set()
"""Process ids of measured children still running (killed by `kill_live` on the way out)."""


class InvalidMeasurement(RuntimeError):
    """A run that did not do the whole job: its time means nothing."""


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    cpu_s: float
    """User + system CPU of the command and the descendants it reaped."""
    maxrss_kib: int
    """Peak resident set of the command (ru_maxrss, KiB), as GNU time reports it for the
    process it started; -1 when not measured."""
    exit_code: int


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    rss: bool = True,
) -> Sample:
    """Run `argv` to the end and measure it; killed (process group) after `timeout` s."""
    command = list(argv)
    rss_file: Path | None = None
    if rss and GNU_TIME.exists():
        handle, name = tempfile.mkstemp(prefix="bench-rss-")
        os.close(handle)
        rss_file = Path(name)
        command = [str(GNU_TIME), "-f", "%M", "-o", name, *command]
    try:
        sample = _run(command, timeout, stdin, stdout, stderr, env, cwd)
        if rss_file is None:
            return sample
        lines = rss_file.read_text().split()
        maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else -1
        return Sample(sample.wall_s, sample.cpu_s, maxrss, sample.exit_code)
    finally:
        if rss_file is not None:
            rss_file.unlink(missing_ok=True)


def _run(
    argv: list[str],
    timeout: float,
    stdin: IO[bytes] | None,
    stdout: IO[bytes] | int,
    stderr: IO[bytes] | int,
    env: Mapping[str, str] | None,
    cwd: Path | None,
) -> Sample:
    timed_out = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    _LIVE.add(process.pid)

    def expire() -> None:
        timed_out.set()
        _kill_group(process.pid)

    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        # Ctrl-C or SIGTERM while waiting: the child and its group go too, and are reaped.
        _kill_group(process.pid)
        process.wait()
        raise
    finally:
        watchdog.cancel()
        _LIVE.discard(process.pid)
    wall = time.perf_counter() - started
    # Popen must not try to reap the child again.
    process.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set():
        raise InvalidMeasurement(f"{argv[0]} took longer than {timeout:.0f} s and was killed")
    return Sample(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_kib=-1,
        exit_code=process.returncode,
    )


def _kill_group(pid: int) -> None:
    """SIGKILL the session of a child we started (its group id is its pid)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def watch(pid: int) -> None:
    """Have `kill_live` end the session of a long-lived child started elsewhere (with
    `start_new_session`), should the harness stop before it does."""
    _LIVE.add(pid)


def unwatch(pid: int) -> None:
    _LIVE.discard(pid)


def kill_live() -> None:
    """End every measured child still running (Ctrl-C, SIGTERM or an error)."""
    for pid in list(_LIVE):
        _kill_group(pid)


@dataclass(frozen=True, slots=True)
class Stats:
    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no values")
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class Series:
    """Every sample of one contender in one workload, in the order taken."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    extra: list[dict[str, float]] = field(default_factory=list)
    """Per-sample facts read from the contender's own output (findings per target…)."""

    def wall(self) -> Stats:
        return Stats.of([s.wall_s for s in self.samples])

    def cpu(self) -> Stats:
        return Stats.of([s.cpu_s for s in self.samples])

    def rss_mb(self) -> Stats | None:
        """Peak RSS in MB (10^6 bytes), one value per sample; None if not measured."""
        if any(s.maxrss_kib < 0 for s in self.samples):
            return None
        return Stats.of([s.maxrss_kib * 1024 / 1e6 for s in self.samples])

    def rate(self, work: float) -> Stats:
        """`work` units per wall second (probes/s), one value per sample."""
        return Stats.of([work / s.wall_s for s in self.samples])


Step = Callable[[], tuple[Sample, dict[str, float]]]
"""One measured run of a contender: its sample and facts from its output (already checked)."""


def interleave(
    contenders: Mapping[str, Step],
    rounds: int,
    *,
    warmup: Sequence[str] | None = None,
    between: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Series]:
    """Run every contender once per round, A B / B A / A B …: interleaved, and the order
    turned each round so that neither always runs first (drift and after-effects such as
    sockets in TIME_WAIT fall on both). One untimed warm-up run of each first (page cache,
    byte-code caches), or only of those named in `warmup`. `between` runs after every
    measured run (a server health check)."""
    names = list(contenders)
    for name in names if warmup is None else warmup:
        contenders[name]()
        if between is not None:
            between()
    series = {name: Series(name) for name in names}
    for number in range(rounds):
        order = names if number % 2 == 0 else names[::-1]
        for name in order:
            sample, facts = contenders[name]()
            series[name].samples.append(sample)
            series[name].extra.append(facts)
            if between is not None:
                between()
            log(f"    round {number + 1}/{rounds} {name}: {sample.wall_s:.3f} s")
    return series
