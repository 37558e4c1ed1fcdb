"""A `--count` run in figures: counts, the RTT spread and a bounded sample of exchanges.

A ping run may last hours. Its evidence keeps figures that do not grow with it (how many
probes were sent and answered, answers per status code, Welford's running mean and
variance of the round-trip times) and a sample of the exchanges themselves: the first and
the last few, and every failure up to a bound. Only `--evidence-out` keeps them all.
Pure: the collect layer feeds it, the checks read what it made.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace

from probe.evidence.model import PingEnd, PingTally, RttSpread, SipExchange

SAMPLE_HEAD = 20
"""Exchanges kept from the start of a run."""
SAMPLE_TAIL = 20
"""Exchanges kept from its end."""
SAMPLE_FAILURES = 100
"""Unanswered or failed exchanges kept from the middle, at most."""


def spread_with(spread: RttSpread, rtt_ms: float) -> RttSpread:
    """`spread` with one more round-trip time (Welford's update: exact in one pass, no
    cancellation between large sums)."""
    count = spread.count + 1
    delta = rtt_ms - spread.mean_ms
    mean = spread.mean_ms + delta / count
    return RttSpread(
        count=count,
        mean_ms=mean,
        m2=spread.m2 + delta * (rtt_ms - mean),
        min_ms=rtt_ms if spread.min_ms is None else min(spread.min_ms, rtt_ms),
        max_ms=rtt_ms if spread.max_ms is None else max(spread.max_ms, rtt_ms),
    )


def stdev_ms(spread: RttSpread) -> float:
    """The population standard deviation (what ping prints as mdev)."""
    return math.sqrt(spread.m2 / spread.count) if spread.count else 0.0


def _failed(exchange: SipExchange) -> bool:
    return exchange.outcome != "answered" or (
        exchange.final_status is not None and exchange.final_status >= 300
    )


class PingCounter:
    """Counts a run's probes as they are answered; keeps a bounded sample unless
    `keep_all`."""

    def __init__(self, count: int, *, keep_all: bool = False) -> None:
        self.count = count
        self.keep_all = keep_all
        self.sent = 0
        self.answered = 0
        self.codes: dict[int, int] = {}
        self.spread = RttSpread()
        self.ended: PingEnd = "completed"
        self.ended_at: int | None = None
        self.ended_detail: str | None = None
        self._head: list[tuple[int, SipExchange]] = []
        self._failures: list[tuple[int, SipExchange]] = []
        self._tail: deque[tuple[int, SipExchange]] = deque(maxlen=None if keep_all else SAMPLE_TAIL)

    def add(self, exchange: SipExchange) -> None:
        """One more probe sent, with whatever came of it."""
        self.sent += 1
        number = self.sent
        if exchange.outcome == "answered":
            self.answered += 1
            code = exchange.final_status
            if code is not None:
                self.codes[code] = self.codes.get(code, 0) + 1
            rtt = exchange.rtt_ms
            if rtt is not None:
                self.spread = spread_with(self.spread, rtt)
        if self.keep_all:
            self._tail.append((number, exchange))
        elif number <= SAMPLE_HEAD:
            self._head.append((number, exchange))
        else:
            if _failed(exchange) and len(self._failures) < SAMPLE_FAILURES:
                self._failures.append((number, exchange))
            self._tail.append((number, exchange))

    def connection_lost(self, exchange: SipExchange) -> None:
        """The connection died under the last probe sent: the rest cannot be sent."""
        self.ended = "connection_lost"
        self.ended_at = self.sent
        self.ended_detail = f"{exchange.outcome}: {exchange.error or exchange.outcome}"

    def exchanges(self) -> tuple[SipExchange, ...]:
        """The exchanges kept, in the order they were sent."""
        kept = {number: exchange for number, exchange in self._head}
        kept.update(self._failures)
        kept.update(self._tail)
        return tuple(kept[number] for number in sorted(kept))

    def tally(self, stopped: PingEnd | None = None) -> PingTally:
        """The figures so far; `stopped` says the run was cut short (`max_time`,
        `interrupted`) when it did not end by itself."""
        ended, ended_at, detail = self.ended, self.ended_at, self.ended_detail
        if stopped is not None and ended == "completed" and self.sent < self.count:
            ended, ended_at, detail = stopped, self.sent, None
        return PingTally(
            count=self.count,
            sent=self.sent,
            answered=self.answered,
            codes=tuple(sorted(self.codes.items())),
            rtt=self.spread,
            ended=ended,
            ended_at=ended_at,
            ended_detail=detail,
            exchanges_kept=len(self.exchanges()),
        )


def tally_exchanges(
    exchanges: tuple[SipExchange, ...], count: int, codes: list[int | None]
) -> PingTally:
    """The figures of a run whose evidence holds every exchange but no tally (evidence
    saved before tallies existed); `codes` are the final status codes as judged."""
    counter = PingCounter(max(count, len(exchanges)), keep_all=True)
    for exchange, code in zip(exchanges, codes, strict=True):
        counter.add(exchange if code is None else replace(exchange, final_status=code))
    last = exchanges[-1] if exchanges else None
    if last is not None and last.outcome not in ("answered", "timeout"):
        counter.connection_lost(last)
    return counter.tally()


def reply_line(exchange: SipExchange, sequence: int, where: str) -> str:
    """One line per probe, as ping prints: `200 OK from 127.0.0.1:5061/tls: seq=3
    time=1.23 ms`, `no answer from 127.0.0.1:5061/tls: seq=4 (timeout)`. Each names the
    target: the lines of several targets interleave."""
    rtt = exchange.rtt_ms
    if exchange.outcome == "answered":
        status = _status_line(exchange)
        time = f" time={rtt:.2f} ms" if rtt is not None else ""
        return f"{status} from {where}: seq={sequence}{time}"
    if exchange.outcome == "timeout":
        return f"no answer from {where}: seq={sequence} (timeout)"
    why = exchange.error or exchange.outcome
    return f"no answer from {where}: seq={sequence} ({exchange.outcome}: {why})"


def _status_line(exchange: SipExchange) -> str:
    """`200 OK`, from the final response's status line (RFC 3261 §7.2)."""
    for item in exchange.received:
        if item.at_ms != exchange.final_at_ms or item.error is not None:
            continue
        first = item.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        parts = first.split(" ", 2)
        if len(parts) >= 2 and parts[1] == str(exchange.final_status):
            return " ".join(parts[1:]).strip()
    return str(exchange.final_status)
