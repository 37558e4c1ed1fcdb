"""How hard a run may push: a start rate (token bucket), a file-descriptor budget, and at
most one connection per target at a time.

A verifier runs against production trunks: it must never look like an attack, and it must
not die of its own success (EMFILE half-way through a sweep leaves targets unjudged and
says nothing true about them). So the run bounds itself before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import resource
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

FDS_PER_PROBE = 2
"""A probe holds one socket; a test call adds its media socket. Two per probe is the
budget, so the bound holds for both."""

Job = TypeVar("Job")

FDS_RESERVED = 64
"""For the interpreter, the trust store, DNS sockets, log and report files."""


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; sans-I/O: time is passed in.

    `reserve(now)` takes one token and says how long to wait before using it; waiting
    callers are served in the order they asked, each one `1 / rate` after the previous.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated: float | None = None

    def reserve(self, now: float) -> float:
        """Take a token; the seconds to wait before it may be used (0 when one was free)."""
        if self._updated is None:
            self._updated = now
        else:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        # The debt is paid back at `rate`: this caller waits for its share of it.
        return -self._tokens / self.rate


@dataclass(slots=True)
class Pacer:
    """A token bucket on the running loop's clock; `None` rate means no pacing."""

    rate: float | None = None
    burst: int = 1
    _bucket: TokenBucket | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate is not None:
            self._bucket = TokenBucket(self.rate, self.burst)

    async def wait(self) -> None:
        if self._bucket is None:
            return
        delay = self._bucket.reserve(asyncio.get_running_loop().time())
        if delay > 0:
            await asyncio.sleep(delay)


class PoliteQueue(Generic[Job]):
    """Jobs handed to a fixed pool of workers, at most `per_target` at once for one key
    (address, port, transport): two URIs leading to the same address are probed one after
    the other, while the workers carry on with other targets instead of waiting.

    Jobs wait in one line per key; the keys that can take another job sit in a heap by
    the position of their next job, so jobs start in the order given as far as the rule
    allows, and handing one out costs O(log keys) however many jobs wait.
    """

    def __init__(self, jobs: Iterable[tuple[Hashable, Job]], per_target: int = 1) -> None:
        if per_target < 1:
            raise ValueError("per_target must be at least 1")
        self.per_target = per_target
        self._lines: dict[Hashable, deque[tuple[int, Job]]] = {}
        for position, (key, job) in enumerate(jobs):
            self._lines.setdefault(key, deque()).append((position, job))
        self._ready: list[tuple[int, int, Hashable]] = []
        self._order: dict[Hashable, int] = {}
        for key, line in self._lines.items():
            self._order[key] = len(self._order)
            heapq.heappush(self._ready, (line[0][0], self._order[key], key))
        self._busy: dict[Hashable, int] = {}
        """Jobs out per key (a plain dict: Counter's missing keys and deletions run in
        Python, twice per target)."""
        self._waiting: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return sum(len(line) for line in self._lines.values())

    async def take(self) -> tuple[Hashable, Job] | None:
        """The next job whose target is free, waiting while every target with jobs left is
        busy; None when no job is left to hand out."""
        while not self._ready:
            if not self._lines:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        _position, order, key = heapq.heappop(self._ready)
        line = self._lines[key]
        _position, job = line.popleft()
        busy = self._busy[key] = self._busy.get(key, 0) + 1
        if not line:
            del self._lines[key]
            if not self._lines:
                self._wake(everyone=True)  # nothing left: let idle workers finish
        elif busy < self.per_target:
            heapq.heappush(self._ready, (line[0][0], order, key))
        return key, job

    def done(self, key: Hashable) -> None:
        busy = self._busy[key] - 1
        if busy:
            self._busy[key] = busy
        else:
            del self._busy[key]
        line = self._lines.get(key)
        if line and busy == self.per_target - 1:
            heapq.heappush(self._ready, (line[0][0], self._order[key], key))
            self._wake()

    def _wake(self, *, everyone: bool = False) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not everyone:
                    return


@dataclass(frozen=True, slots=True)
class ConcurrencyBound:
    """The concurrency a run will use, and why it differs from the one asked, if it does."""

    asked: int
    used: int
    fd_limit: int | None

    @property
    def note(self) -> str | None:
        if self.used >= self.asked:
            return None
        return (
            f"--concurrency {self.asked} lowered to {self.used}: the file-descriptor limit is "
            f"{self.fd_limit} (raise it with `ulimit -n`)"
        )


def bound_concurrency(
    asked: int,
    *,
    fds_per_probe: int = FDS_PER_PROBE,
    limits: Callable[[], tuple[int, int]] | None = None,
    raise_soft: Callable[[int, int], None] | None = None,
) -> ConcurrencyBound:
    """The concurrency that fits the process's file-descriptor limit.

    The soft limit is first raised towards the hard one as far as the run needs (what
    every long-running network tool does); whatever still does not fit lowers the
    concurrency instead of failing targets with EMFILE.
    """
    get = limits or (lambda: resource.getrlimit(resource.RLIMIT_NOFILE))
    soft, hard = get()
    needed = FDS_RESERVED + asked * fds_per_probe
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target > soft:
            setter = raise_soft or _raise_soft_limit
            with contextlib.suppress(OSError, ValueError):
                setter(target, hard)
                soft = target
    if soft == resource.RLIM_INFINITY:
        return ConcurrencyBound(asked, asked, None)
    fitting = max(1, (soft - FDS_RESERVED) // fds_per_probe)
    return ConcurrencyBound(asked, min(asked, fitting), soft)


def _raise_soft_limit(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
