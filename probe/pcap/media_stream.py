"""One RTP stream (one SSRC, one direction) of a media flow, summarised as its packets
go by, in fixed memory: counters, a bit set, and a payload sample that is folded into
an entropy once full (probe.pcap.media_audit makes one per stream it sees).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from probe.evidence.capture_counts import Count
from probe.evidence.capture_media import RtpStreamSeen
from probe.pcap.flows import Flow
from probe.pcap.media_classify import MIN_SAMPLE, classify_stream, trailing_bytes
from probe.pcap.rtp import RtpHeader, codec_frame_bytes, entropy_bits
from probe.pcap.srtp_auth import StreamAuth

__all__ = ["SampleBudget", "StreamState"]

_SAMPLE_BYTES = 4096
_SAMPLE_PER_PACKET = 256
_FIRST_BYTE_PACKETS = 64
_MAX_TICKS = 8000
"""Timestamp steps longer than a second are a pause (silence suppression), not a frame."""
_MAX_TRAILING = 64
_LATE = 0xFFFF - 3000
_JUMP = 3000
"""RFC 3550 Appendix A.1's MAX_DROPOUT: a larger step is a new sequence, not loss."""


class SampleBudget:
    """Payload samples held at once, across every stream of an audit (`limit` × 4 KiB
    at most): past it a new stream is not sampled, and says so."""

    __slots__ = ("in_use", "limit", "refused")

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.in_use = 0
        self.refused = 0

    def take(self) -> bytearray | None:
        if self.in_use >= self.limit:
            self.refused += 1
            return None
        self.in_use += 1
        return bytearray()


class StreamState:
    """What one stream's packets showed so far."""

    __slots__ = (
        "_budget",
        "auth",
        "cut",
        "direction",
        "duplicates",
        "entropy",
        "entropy_bytes",
        "first_byte_packets",
        "first_bytes",
        "first_frame",
        "in_order",
        "jumps",
        "last_frame",
        "last_sequence",
        "last_timestamp",
        "late",
        "lost",
        "not_checked",
        "packets",
        "payload_types",
        "sample",
        "ssrc",
        "trailing",
    )

    def __init__(self, direction: int, ssrc: int, frame: int, budget: SampleBudget) -> None:
        self._budget = budget
        self.direction = direction
        self.ssrc = ssrc
        self.packets = 0
        self.first_frame = frame
        self.last_frame = frame
        self.payload_types: Counter[int] = Counter()
        self.last_sequence: int | None = None
        self.last_timestamp = 0
        self.in_order = self.lost = self.duplicates = self.late = self.jumps = 0
        self.cut = 0
        self.sample = budget.take()
        self.entropy: float | None = None
        self.entropy_bytes = 0
        self.first_bytes = 0
        """A bit set: bit b is set when a payload began with byte b."""
        self.first_byte_packets = 0
        self.trailing: Counter[int] | None = None
        """Bytes beyond the codec's frame, per packet measured (-1: out of range); made
        at the first measure (most flows of a hostile capture never get one)."""
        self.auth: StreamAuth | None = None
        """The keys held for it, when there are any."""
        self.not_checked = 0

    def add(
        self, header: RtpHeader, payload: bytes, wire_length: int, frame: int, cut: bool
    ) -> None:
        """One packet of the stream: `payload` as captured, `wire_length` its size on
        the wire, `cut` when the capture holds less of it."""
        self.packets += 1
        self.last_frame = frame
        self.payload_types[header.payload_type] += 1
        start = header.header_length
        self._sequence(header, wire_length - start)
        if cut:
            self.cut += 1
        if len(payload) > start:
            if self.first_byte_packets < _FIRST_BYTE_PACKETS:
                self.first_bytes |= 1 << payload[start]
                self.first_byte_packets += 1
            sample = self.sample
            if sample is not None:
                sample += payload[start : start + _SAMPLE_PER_PACKET]
                if len(sample) >= _SAMPLE_BYTES:
                    self.fold()
        auth = self.auth
        if auth is not None:
            if cut or not auth.usable:
                self.not_checked += 1
            else:
                auth.check(payload)

    def _sequence(self, header: RtpHeader, size: int) -> None:
        """Sequence continuity (RFC 3550 §5.1, Appendix A.1), and for consecutive packets
        of a fixed-rate codec, the bytes of `size` beyond the frame their timestamps
        span (RFC 3711 §3.1: where SRTP puts its tag)."""
        sequence, timestamp = header.sequence, header.timestamp
        last = self.last_sequence
        if last is None:
            self.last_sequence, self.last_timestamp = sequence, timestamp
            return
        step = (sequence - last) & 0xFFFF
        if step == 0:
            self.duplicates += 1
            return
        if step >= _LATE:
            self.late += 1
            return
        if step > _JUMP:
            self.jumps += 1
        elif step == 1:
            self.in_order += 1
            ticks = (timestamp - self.last_timestamp) & 0xFFFFFFFF
            frame = codec_frame_bytes(header.payload_type, ticks) if ticks <= _MAX_TICKS else None
            if frame is not None and not header.padding:
                trailing = size - frame
                if self.trailing is None:
                    self.trailing = Counter()
                self.trailing[trailing if 0 <= trailing <= _MAX_TRAILING else -1] += 1
        else:
            self.lost += step - 1
        self.last_sequence, self.last_timestamp = sequence, timestamp

    def fold(self) -> None:
        """The sample becomes its entropy, and its bytes go back to the budget."""
        sample = self.sample
        if sample is None:
            return
        if len(sample) >= MIN_SAMPLE:
            self.entropy = round(entropy_bits(sample), 3)
            self.entropy_bytes = len(sample)
        self.sample = None
        self._budget.in_use -= 1

    def seen(self, flow: Flow) -> RtpStreamSeen:
        """Its evidence, classified (probe.pcap.media_classify)."""
        self.fold()
        source, destination = flow.endpoints(self.direction)
        trailing, measured = trailing_bytes(self.trailing or Counter())
        auth = self.auth
        stream = RtpStreamSeen(
            source=source,
            destination=destination,
            ssrc=self.ssrc,
            packets=self.packets,
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            payload_types=tuple(
                Count(str(pt), count) for pt, count in self.payload_types.most_common(8)
            ),
            in_order=self.in_order,
            lost=self.lost,
            duplicates=self.duplicates,
            late=self.late,
            jumps=self.jumps,
            cut=self.cut,
            entropy=self.entropy,
            entropy_bytes=self.entropy_bytes,
            first_byte_values=self.first_bytes.bit_count(),
            first_byte_packets=self.first_byte_packets,
            trailing_bytes=trailing,
            trailing_measured=measured,
            key_source=" and ".join(sorted(auth.sources)) if auth is not None else None,
            suite=auth.suite if auth is not None else None,
            authenticated=auth.authenticated if auth is not None else 0,
            auth_failed=auth.failed if auth is not None else 0,
            replayed=auth.replayed if auth is not None else 0,
            not_checked=self.not_checked,
            auth_problem=auth.problem if auth is not None and not auth.usable else None,
        )
        kind, reason, encrypted = classify_stream(stream)
        return replace(stream, kind=kind, reason=reason, encrypted=encrypted)
