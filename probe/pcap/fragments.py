"""IP fragment reassembly, bounded: a SIP INVITE over UDP with a large SDP is often
fragmented, and its `a=crypto` line may sit in any fragment.

Fragments of one datagram share the source, destination, protocol and identification
(RFC 791 §3.2; RFC 8200 §4.5 for IPv6). A datagram is whole once the fragment without
"more fragments" has arrived and the pieces cover every byte before it. Overlapping
pieces keep the bytes that came first (RFC 5722 forbids overlaps in IPv6; a capture
is evidence, not a host to protect, so they are counted rather than refused).

Everything held is bounded: datagrams in progress (`max_datagrams`, the oldest given up
first), bytes held, and a datagram's size (65,535, the most IP can say). A datagram
never completed is counted as `dropped`, its pieces reported as fragments that were
not reassembled.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from probe.pcap.packets import IpDatagram

__all__ = ["FragmentCounts", "Reassembler"]

MAX_DATAGRAM = 65_535
"""The largest IP datagram a length field can describe (RFC 791, RFC 8200 without
jumbograms), so the most one reassembly may hold."""


@dataclass(slots=True)
class FragmentCounts:
    fragments: int = 0
    """Fragments seen."""
    reassembled: int = 0
    """Datagrams made whole again."""
    dropped: int = 0
    """Datagrams given up (never completed, pushed out by newer ones, oversized)."""
    overlaps: int = 0
    """Fragments that overlapped bytes already held."""


class _Partial:
    __slots__ = ("first", "held", "pieces", "total")

    def __init__(self, first: IpDatagram) -> None:
        self.first = first
        # offset → (the bytes captured, the fragment's length on the wire)
        self.pieces: dict[int, tuple[bytes, int]] = {}
        self.total: int | None = None
        self.held = 0


class Reassembler:
    """Reassembles IP fragments into whole datagrams, holding at most `max_datagrams`
    in progress and `max_bytes` in all."""

    def __init__(self, max_datagrams: int = 1024, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self.counts = FragmentCounts()
        self._partials: OrderedDict[tuple[bytes, bytes, int, int], _Partial] = OrderedDict()
        self._held = 0

    def add(self, fragment: IpDatagram) -> IpDatagram | None:
        """Take one fragment; the whole datagram once every piece is in, else None.

        A piece cut short by the capture (a snap length) still counts as arrived: the
        datagram is then returned with the bytes up to the first hole, and `cut`."""
        assert fragment.fragment is not None
        ident, position, more = fragment.fragment
        self.counts.fragments += 1
        key = (fragment.src, fragment.dst, fragment.protocol, ident)
        if position + fragment.length > MAX_DATAGRAM:
            self._give_up(key)
            return None
        partial = self._partials.get(key)
        if partial is None:
            partial = _Partial(fragment)
            self._partials[key] = partial
        if not more:
            partial.total = position + fragment.length
        previous = partial.pieces.get(position)
        if previous is not None and previous[1] >= fragment.length:
            self.counts.overlaps += 1
        else:
            partial.pieces[position] = (fragment.data, fragment.length)
            grown = len(fragment.data) - (len(previous[0]) if previous is not None else 0)
            partial.held += grown
            self._held += grown
        self._partials.move_to_end(key)
        self._make_room()
        if partial.total is None or key not in self._partials:
            return None
        return self._complete(key, partial)

    def _complete(self, key: tuple[bytes, bytes, int, int], partial: _Partial) -> IpDatagram | None:
        assert partial.total is not None
        covered = 0
        order = sorted(partial.pieces)
        for position in order:
            if position > covered:
                return None  # a piece is still missing
            covered = max(covered, position + partial.pieces[position][1])
        if covered < partial.total:
            return None
        data = bytearray()
        for position in order:
            piece = partial.pieces[position][0]
            if position > len(data):
                break  # a piece cut by the capture leaves a hole: the rest is unknown
            if position < len(data):
                self.counts.overlaps += 1
                piece = piece[len(data) - position :]
            data += piece
        self._forget(key)
        self.counts.reassembled += 1
        first = partial.first
        return IpDatagram(
            first.version,
            first.src,
            first.dst,
            first.protocol,
            bytes(data[: partial.total]),
            partial.total,
        )

    def _make_room(self) -> None:
        while self._partials and (
            len(self._partials) > self.max_datagrams or self._held > self.max_bytes
        ):
            oldest = next(iter(self._partials))
            self._give_up(oldest)

    def _give_up(self, key: tuple[bytes, bytes, int, int]) -> None:
        if key in self._partials:
            self._forget(key)
            self.counts.dropped += 1

    def _forget(self, key: tuple[bytes, bytes, int, int]) -> None:
        partial = self._partials.pop(key)
        self._held -= partial.held

    def pending(self) -> int:
        """Datagrams still waiting for a fragment."""
        return len(self._partials)

    def finish(self) -> None:
        """The capture is over: what is still in progress will never complete."""
        self.counts.dropped += len(self._partials)
        self._partials.clear()
        self._held = 0
