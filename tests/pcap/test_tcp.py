"""TCP reassembly (probe.pcap.tcp): the bytes a receiver would have read, whatever order
and however often the segments were captured; holes reported as gaps, within bounds."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from probe.pcap.tcp import Budget, TcpDirection
from tests.sip.strategies import fuzz_settings

ISN = 1000


class Recorder:
    """A sink that writes down what it is given, a gap as `None` entries."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes | int]] = []
        self.ended = 0

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        self.events.append(("data", chunk))

    def gap(self, missing: int, frame: int, time: float) -> None:
        self.events.append(("gap", missing))

    def end(self) -> None:
        self.ended += 1

    @property
    def stream(self) -> bytes:
        return b"".join(chunk for kind, chunk in self.events if kind == "data")  # type: ignore[misc]

    @property
    def gaps(self) -> list[int]:
        return [size for kind, size in self.events if kind == "gap"]  # type: ignore[misc]


def direction(max_pending: int = 1 << 20, budget: int = 1 << 24) -> tuple[TcpDirection, Recorder]:
    sink = Recorder()
    stream = TcpDirection(sink, Budget(budget), max_pending)
    stream.segment(ISN, b"", 0, syn=True)
    return stream, sink


def segments(data: bytes, size: int) -> list[tuple[int, bytes]]:
    """(sequence number, bytes) of `data` cut into segments of `size`."""
    return [(ISN + 1 + at, data[at : at + size]) for at in range(0, len(data), size)]


def send(stream: TcpDirection, pieces: list[tuple[int, bytes]]) -> None:
    for seq, chunk in pieces:
        stream.segment(seq, chunk, len(chunk))


DATA = bytes(range(256)) * 20


def test_in_order_segments_arrive_as_sent() -> None:
    stream, sink = direction()
    send(stream, segments(DATA, 100))
    assert sink.stream == DATA
    assert sink.gaps == []
    assert stream.counts.delivered == len(DATA)


def test_out_of_order_segments_are_held_until_the_hole_fills() -> None:
    stream, sink = direction()
    pieces = segments(DATA, 100)
    send(stream, [pieces[1], pieces[2], pieces[0], *pieces[3:]])
    assert sink.stream == DATA
    assert stream.counts.out_of_order == 2
    assert stream.held == 0


def test_retransmissions_and_overlaps_are_dropped_first_copy_wins() -> None:
    stream, sink = direction()
    pieces = segments(DATA, 100)
    send(stream, pieces[:3])
    send(stream, [pieces[1]])  # a plain retransmission
    seq, _chunk = pieces[2]
    # A retransmission that straddles the delivered edge, with different old bytes:
    # only its new part counts, and the old bytes are those first delivered.
    send(stream, [(seq + 50, b"Z" * 50 + pieces[3][1][:70])])
    send(stream, pieces[3:])
    assert sink.stream == DATA
    assert stream.counts.retransmitted == 100 + 50 + 70


def test_overlapping_out_of_order_segments_keep_their_first_bytes() -> None:
    stream, sink = direction()
    first = ISN + 1
    send(stream, [(first + 10, DATA[10:30]), (first + 20, b"X" * 10 + DATA[30:40])])
    send(stream, [(first, DATA[:10])])
    assert sink.stream == DATA[:40]


def test_a_hole_given_up_on_is_a_gap_and_delivery_goes_on() -> None:
    stream, sink = direction(max_pending=250)
    pieces = segments(DATA, 100)
    send(stream, pieces[1:5])  # the first segment never comes
    assert sink.gaps == [100]
    assert sink.stream.startswith(DATA[100:200])
    stream.finish()
    assert sink.stream == DATA[100:500]
    assert sink.ended == 1
    assert stream.counts.gap_bytes == 100


def test_the_shared_budget_bounds_every_stream_at_once() -> None:
    budget = Budget(300)
    sinks = [Recorder() for _ in range(3)]
    streams = [TcpDirection(sink, budget, 1 << 20) for sink in sinks]
    for stream in streams:
        stream.segment(ISN, b"", 0, syn=True)
        send(stream, segments(DATA, 100)[1:3])
    assert budget.held <= 300
    assert sum(len(sink.gaps) for sink in sinks) >= 1


def test_a_segment_the_capture_cut_is_a_gap_for_its_missing_part() -> None:
    stream, sink = direction()
    pieces = segments(DATA, 100)
    send(stream, pieces[:1])
    seq, chunk = pieces[1]
    stream.segment(seq, chunk[:40], 100)  # 40 of 100 bytes captured
    send(stream, pieces[2:3])
    assert sink.events[1:] == [("data", chunk[:40]), ("gap", 60), ("data", pieces[2][1])]


def test_a_cut_segment_held_out_of_order_still_leaves_its_gap() -> None:
    stream, sink = direction()
    pieces = segments(DATA, 100)
    seq, chunk = pieces[1]
    stream.segment(seq, chunk[:40], 100)
    send(stream, [pieces[2], pieces[0]])
    assert sink.events == [
        ("data", pieces[0][1]),
        ("data", chunk[:40]),
        ("gap", 60),
        ("data", pieces[2][1]),
    ]


def test_sequence_numbers_wrap_around() -> None:
    sink = Recorder()
    stream = TcpDirection(sink, Budget(1 << 20))
    start = 2**32 - 150
    stream.segment(start - 1, b"", 0, syn=True)
    pieces = [((start + at) % 2**32, DATA[at : at + 100]) for at in range(0, 400, 100)]
    send(stream, [pieces[0], pieces[2], pieces[1], pieces[3]])
    assert sink.stream == DATA[:400]


def test_a_capture_that_starts_mid_stream_starts_the_stream_there() -> None:
    sink = Recorder()
    stream = TcpDirection(sink, Budget(1 << 20))
    stream.segment(ISN + 5000, b"", 0)  # a bare ACK tells nothing
    assert not stream.started
    send(stream, [(ISN + 5000, b"abc"), (ISN + 5003, b"def")])
    assert stream.mid_stream
    assert sink.stream == b"abcdef"
    assert sink.gaps == []


def test_fin_ends_the_stream_once_everything_before_it_arrived() -> None:
    stream, sink = direction()
    pieces = segments(DATA[:300], 100)
    last_seq, last = pieces[2]
    stream.segment(last_seq, last, len(last), fin=True)
    assert sink.ended == 0
    send(stream, pieces[:2])
    assert sink.ended == 1
    assert sink.stream == DATA[:300]
    stream.segment(last_seq, last, len(last))  # after the end: ignored
    assert sink.stream == DATA[:300]


@fuzz_settings()
@given(
    size=st.integers(1, 200),
    seed=st.integers(0, 2**32),
    duplicates=st.integers(0, 10),
    isn=st.integers(0, 2**32 - 1),
)
def test_any_order_with_duplicates_gives_the_stream(
    size: int, seed: int, duplicates: int, isn: int
) -> None:
    shuffler = random.Random(seed)
    sink = Recorder()
    stream = TcpDirection(sink, Budget(1 << 24), 1 << 24)
    stream.segment(isn, b"", 0, syn=True)
    pieces = [((isn + 1 + at) % 2**32, DATA[at : at + size]) for at in range(0, len(DATA), size)]
    pieces += [shuffler.choice(pieces) for _ in range(duplicates)]
    shuffler.shuffle(pieces)
    send(stream, pieces)
    stream.finish()
    assert sink.stream == DATA
    assert sink.gaps == []
