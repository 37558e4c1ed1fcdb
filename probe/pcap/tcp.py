"""TCP reassembly, one direction at a time: the byte stream a receiver would have read.

Sequence numbers (RFC 9293 §3.4) say where each segment's bytes belong. Bytes arrive at
the sink in stream order, once each:

- a segment at the expected sequence number is delivered at once, and with it every
  buffered segment it makes contiguous;
- a segment ahead of it (out of order: an earlier one was delayed or lost) is held until
  the hole fills, within a bound per direction and one shared by every stream
  (:class:`Budget`); past the bound, the hole is given up on, reported to the sink as a
  gap of so many bytes, and delivery goes on after it;
- a segment behind it (a retransmission, a keep-alive probe) is dropped, and one that
  straddles it is trimmed to its new bytes: the first copy of a byte wins, as the
  receiver's would have (RFC 9293 §3.10.7.4 trims to the receive window the same way);
- a segment the capture cut short (a snap length) delivers what was captured, then a
  gap for the rest.

Sequence arithmetic is modulo 2**32 (RFC 9293 §3.4): a segment's place is its distance
from the next expected number, taken as signed, so a stream longer than 4 GiB keeps its
order. A capture that starts in the middle of a connection (no SYN seen) starts the
stream at the first segment captured; the bytes before it were never in the capture and
are not a gap.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Budget", "StreamCounts", "StreamSink", "TcpDirection"]

_MOD = 1 << 32
_HALF = 1 << 31


class StreamSink(Protocol):
    """Where a direction's reassembled bytes go."""

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        """The next bytes of the stream (`frame`: the captured frame that completed them)."""

    def gap(self, missing: int, frame: int, time: float) -> None:
        """`missing` bytes of the stream were never captured; the next data follows them."""

    def end(self) -> None:
        """The direction is over: FIN, RST, the flow closed, or the capture ended."""


class Budget:
    """Out-of-order bytes held by every stream of one audit, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def room_for(self, size: int) -> bool:
        return self.held + size <= self.limit


@dataclass(slots=True)
class StreamCounts:
    """What happened to one direction's segments."""

    delivered: int = 0
    """Bytes handed to the sink, in order."""
    retransmitted: int = 0
    """Bytes dropped because they had been delivered or buffered already."""
    out_of_order: int = 0
    """Segments that arrived ahead of a hole and were held."""
    gaps: int = 0
    """Holes given up on (or cut by the capture)."""
    gap_bytes: int = 0
    """Bytes in those holes: part of the stream that the capture does not hold."""


class TcpDirection:
    """The bytes one endpoint sent on one connection, reassembled for `sink`."""

    __slots__ = (
        "_budget",
        "_held",
        "_next",
        "_offset",
        "_pending",
        "counts",
        "ended",
        "fin_offset",
        "max_pending",
        "mid_stream",
        "sink",
        "started",
        "syn_seq",
    )

    def __init__(self, sink: StreamSink, budget: Budget, max_pending: int = 256 * 1024) -> None:
        self.sink = sink
        self.max_pending = max_pending
        self.counts = StreamCounts()
        self.started = False
        self.mid_stream = False
        """The first segment captured was not the SYN: the stream starts where it does."""
        self.ended = False
        self.fin_offset: int | None = None
        self.syn_seq: int | None = None
        """The sequence number of the SYN, when it was captured."""
        self._budget = budget
        self._next = 0  # the next expected sequence number, modulo 2**32
        self._offset = 0  # the stream offset of `_next` (bytes delivered or skipped)
        self._pending: list[tuple[int, int, bytes, int]] = []  # (offset, frame, data, length)
        self._held = 0

    def segment(
        self,
        seq: int,
        payload: bytes,
        length: int,
        *,
        syn: bool = False,
        fin: bool = False,
        frame: int = 0,
        time: float = 0.0,
    ) -> None:
        """One captured segment of this direction: `length` payload bytes on the wire,
        `payload` the part captured."""
        if self.ended:
            return
        if syn:
            if not self.started:
                self.started = True
                self.syn_seq = seq
                self._next = (seq + 1) % _MOD  # the SYN occupies one sequence number
            seq = (seq + 1) % _MOD
        elif not self.started:
            if not length and not fin:
                return  # a bare ACK says nothing about where the stream starts
            self.started = True
            self.mid_stream = True
            self._next = seq
        distance = (seq - self._next) % _MOD
        if distance >= _HALF:
            distance -= _MOD
        where = self._offset + distance
        if fin:
            self.fin_offset = where + length
        if length:
            self._take(where, payload, length, frame, time)
        if self.fin_offset is not None and self._offset >= self.fin_offset and not self._pending:
            self.finish()

    def _take(self, where: int, payload: bytes, length: int, frame: int, time: float) -> None:
        self._place(where, payload, length, frame, time)
        self._drain(frame, time)

    def _place(self, where: int, payload: bytes, length: int, frame: int, time: float) -> None:
        if where + length <= self._offset:
            self.counts.retransmitted += length
            return
        if where < self._offset:
            overlap = self._offset - where
            self.counts.retransmitted += overlap
            payload, length, where = payload[overlap:], length - overlap, self._offset
        if where == self._offset:
            self._deliver(payload, length, frame, time)
            return
        self.counts.out_of_order += 1
        size = len(payload)
        while self._pending and not self._room(size):
            # No room to wait for the hole: give it up and move on to what is held.
            self._skip(self._pending[0][0] - self._offset, frame, time)
            self._drain(frame, time)
        if where > self._offset and not self._room(size):
            self._skip(where - self._offset, frame, time)
            self._deliver(payload, length, frame, time)
            return
        if where == self._offset:  # the holes given up on led right to it
            self._deliver(payload, length, frame, time)
            return
        heapq.heappush(self._pending, (where, frame, payload, length))
        self._held += size
        self._budget.held += size

    def _room(self, size: int) -> bool:
        return self._held + size <= self.max_pending and self._budget.room_for(size)

    def _deliver(self, payload: bytes, length: int, frame: int, time: float) -> None:
        """`payload` at the current offset, then the hole of what the capture cut off."""
        if payload:
            self._offset += len(payload)
            self._next = (self._next + len(payload)) % _MOD
            self.counts.delivered += len(payload)
            self.sink.data(payload, frame, time)
        if length > len(payload):
            self._skip(length - len(payload), frame, time)

    def _skip(self, missing: int, frame: int, time: float) -> None:
        if missing <= 0:
            return
        self._offset += missing
        self._next = (self._next + missing) % _MOD
        self.counts.gaps += 1
        self.counts.gap_bytes += missing
        self.sink.gap(missing, frame, time)

    def _drain(self, frame: int, time: float) -> None:
        while self._pending and self._pending[0][0] <= self._offset:
            where, _arrival, payload, length = heapq.heappop(self._pending)
            self._held -= len(payload)
            self._budget.held -= len(payload)
            if where + length <= self._offset:
                self.counts.retransmitted += length
                continue
            if where < self._offset:
                overlap = self._offset - where
                self.counts.retransmitted += overlap
                payload, length = payload[overlap:], length - overlap
            self._deliver(payload, length, frame, time)

    def finish(self) -> None:
        """No more segments will come: deliver what is held (after the holes before it,
        reported as gaps), then end the stream. Idempotent."""
        if self.ended:
            return
        while self._pending:
            where = self._pending[0][0]
            if where > self._offset:
                self._skip(where - self._offset, 0, 0.0)
            self._drain(0, 0.0)
        self.ended = True
        self.sink.end()

    @property
    def held(self) -> int:
        """Out-of-order bytes waiting for a hole to fill."""
        return self._held
