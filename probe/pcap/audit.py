"""The audit loop: records → packets → flows → analyses → capture evidence, in one pass.

:class:`CaptureAudit` is pure: it is fed frames (number, time, link type, bytes, length
on the wire) and gives the evidence at the end, so a test can feed it frames it built.
:func:`audit_capture` feeds it a file through probe.pcap.reader.

Memory is bounded whatever the file (probe.pcap.analysis.AuditLimits): the flow table
closes its quietest flow to make room, out-of-order TCP bytes are held within a budget,
fragments within theirs, and each list of the evidence keeps its first entries. Every
packet is still analysed: a flow closed to make room simply starts again if it comes
back. A closed flow leaves no reference cycle behind, so reference counting frees it at
once; the command line also runs the collector less often while reading
(probe.run.commands.steady_heap), which a library caller's process is spared.
"""

from __future__ import annotations

import datetime as dt
import time as clock
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

from probe.evidence.capture import (
    CaptureCounts,
    CaptureEvidence,
    CaptureLimits,
    CaptureSource,
    Count,
    FlowSummary,
)
from probe.pcap.analysis import Analysis, AuditLimits, Datagram, Undecided
from probe.pcap.flows import Flow, FlowTable
from probe.pcap.fragments import Reassembler
from probe.pcap.packets import (
    LINK_TYPES,
    PROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    IpDatagram,
    Packet,
    decapsulate,
    decode_frame,
    decode_transport,
    sctp_user_data,
    vxlan_inner,
)
from probe.pcap.sip_audit import looks_like_sip
from probe.pcap.tcp import Budget, StreamSink, TcpDirection

if TYPE_CHECKING:
    from probe.pcap.media_audit import MediaOptions

__all__ = ["CaptureAudit", "audit_capture"]

_MAX_LINK_TYPES = 16
_MAX_TUNNELS = 4
"""Tunnels opened inside one another at most; deeper nesting is counted as a tunnel
not opened."""
_STOP_EVERY = 1024
"""Records between two looks at whether the audit was asked to stop."""


class _Ignored:
    """The sink of a TCP direction no analysis wanted: its segments are dropped."""

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        pass

    def gap(self, missing: int, frame: int, time: float) -> None:
        pass

    def end(self) -> None:
        pass


_IGNORED = _Ignored()


class _Claim:
    """A TCP direction's first sink: holds the head of the stream and shows it to each
    analysis until one takes the stream, all decline, or the claim window is full.

    The heads held count against the audit's shared budget (probe.pcap.tcp.Budget), so
    a capture of many connections that never show what they are cannot grow memory:
    past the budget a head is decided on as it is, and a stream still undecided then is
    counted as not examined."""

    __slots__ = ("_audit", "_direction", "_flow", "_head", "_mid_stream", "_stream")

    def __init__(self, audit: CaptureAudit, flow: Flow, direction: int, mid_stream: bool) -> None:
        self._audit = audit
        self._flow = flow
        self._direction = direction
        self._mid_stream = mid_stream
        self._head = bytearray()
        self._stream: TcpDirection | None = None

    def attach(self, stream: TcpDirection) -> None:
        self._stream = stream

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        self._head += chunk
        budget = self._audit.budget
        budget.held += len(chunk)
        pressed = budget.held > budget.limit
        self._ask(frame, time, final=pressed)
        if pressed and self._stream is not None and self._stream.sink is self:
            self._audit.streams_unexamined += 1
            self._decided(_IGNORED)

    def gap(self, missing: int, frame: int, time: float) -> None:
        # Bytes lost before the stream was recognised: what was seen is all there is of
        # its beginning (a segment cut by a snap length ends this way), so it is decided
        # on now; if no analysis takes it, start again after the hole, knowing that what
        # follows may begin inside a message.
        if self._head:
            self._ask(frame, time, final=True)
            if self._stream is not None and self._stream.sink is not self:
                self._stream.sink.gap(missing, frame, time)
                return
        self._release()
        self._mid_stream = True

    def end(self) -> None:
        if self._head:
            self._ask(0, 0.0, final=True)
            if self._stream is not None and self._stream.sink is self:
                self._audit.streams_undecided += 1
                self._decided(_IGNORED)
        if self._stream is not None and self._stream.sink is not self:
            self._stream.sink.end()

    def _release(self) -> None:
        self._audit.budget.held -= len(self._head)
        self._head = bytearray()

    def _decided(self, sink: StreamSink) -> None:
        assert self._stream is not None
        self._release()
        self._stream.sink = sink

    def _ask(self, frame: int, time: float, *, final: bool) -> None:
        head = bytes(self._head)
        waiting = False
        for analysis in self._audit.analyses:
            answer = analysis.claim_stream(
                self._flow, self._direction, head, mid_stream=self._mid_stream, final=final
            )
            if isinstance(answer, Undecided):
                waiting = True
            elif answer is not None:
                self._audit.streams_claimed[analysis.name] += 1
                self._decided(answer)
                answer.data(head, frame, time)
                return
        if final:
            return
        if not waiting or len(head) >= self._audit.limits.claim_window:
            self._audit.streams_unclaimed += 1
            self._decided(_IGNORED)


class _TcpFlow:
    """Both directions of one TCP connection."""

    __slots__ = ("directions", "dropped", "fins")

    def __init__(self) -> None:
        self.directions: list[TcpDirection | None] = [None, None]
        self.dropped = [False, False]
        """No analysis wanted the direction: its segments are no longer reassembled."""
        self.fins = [False, False]


@dataclass(slots=True)
class _Tally:
    records: int = 0
    captured_bytes: int = 0
    first_time: float | None = None
    last_time: float | None = None
    cut_records: int = 0
    udp_packets: int = 0
    tcp_packets: int = 0
    tcp_gap_bytes: int = 0
    tcp_retransmitted_bytes: int = 0
    unreadable: int = 0
    tunnelled: int = 0


RECOGNISABLE = 32
"""Payload bytes below which a packet cut by the capture cannot be told apart: a SIP
start line needs about this much to be recognised (`INVITE sip:` and a host)."""


class CaptureAudit:
    """One audit: feed it every frame with `frame`, then take the evidence (`evidence`)."""

    def __init__(self, analyses: Sequence[Analysis], limits: AuditLimits) -> None:
        self.analyses = tuple(analyses)
        self.limits = limits
        self.tally = _Tally()
        self.not_decoded: Counter[str] = Counter()
        self.link_types: set[int] = set()
        self.fragments = Reassembler(limits.max_fragmented)
        self.budget = Budget(limits.max_pending_bytes)
        self.flows = FlowTable(limits.max_flows, self._closed)
        self.summaries: list[FlowSummary] = []
        self.summaries_omitted = 0
        self.streams_claimed: Counter[str] = Counter()
        self.streams_unclaimed = 0
        self.streams_undecided = 0
        self.streams_unexamined = 0

    # -- each frame -------------------------------------------------------------------

    def frame(self, number: int, time: float, linktype: int, data: bytes, wire_length: int) -> None:
        tally = self.tally
        tally.records += 1
        tally.captured_bytes += len(data)
        if tally.first_time is None:
            tally.first_time = time
        tally.last_time = time
        if len(data) < wire_length:
            tally.cut_records += 1
        if linktype not in self.link_types and len(self.link_types) < _MAX_LINK_TYPES:
            self.link_types.add(linktype)
        ip = decode_frame(linktype, data)
        if isinstance(ip, str):
            self.not_decoded[ip] += 1
            if ip == "short" and len(data) < wire_length:
                tally.unreadable += 1
            return
        self._ip(ip, number, time, 0)

    def _ip(self, ip: IpDatagram, number: int, time: float, depth: int) -> None:
        """One IP datagram (`depth` tunnels deep): reassembled, opened, then analysed."""
        tally = self.tally
        if ip.fragment is not None:
            whole = self.fragments.add(ip)
            if whole is None:
                return
            ip = whole
        inner = decapsulate(ip)
        if inner is not None:
            self._inner(inner, number, time, depth)
            return
        packet = decode_transport(ip)
        if isinstance(packet, str):
            if packet == "sctp" and any(map(looks_like_sip, sctp_user_data(ip), repeat(True))):
                # SIP over SCTP (RFC 4168) is not audited: say so rather than pass it.
                packet = "sctp_sip"
            self.not_decoded[packet] += 1
            if packet == "short" and ip.cut:
                tally.unreadable += 1
            return
        if packet.cut and len(packet.payload) < RECOGNISABLE:
            tally.unreadable += 1
        if packet.protocol == PROTO_UDP:
            overlay = vxlan_inner(packet)
            if overlay is not None:
                self._inner(overlay, number, time, depth)
                return
            self._udp(packet, number, time)
        else:
            self._tcp(packet, number, time)

    def _inner(self, inner: IpDatagram | str, number: int, time: float, depth: int) -> None:
        if isinstance(inner, str) or depth >= _MAX_TUNNELS:
            self.not_decoded["tunnel" if depth >= _MAX_TUNNELS else str(inner)] += 1
            return
        self.tally.tunnelled += 1
        self._ip(inner, number, time, depth + 1)

    def _udp(self, packet: Packet, number: int, time: float) -> None:
        self.tally.udp_packets += 1
        flow = self.flows.find(packet) or self.flows.open(packet, number, time)
        direction = flow.direction_of(packet)
        flow.packets[direction] += 1
        flow.bytes[direction] += packet.length
        flow.last_time = time
        datagram = Datagram(flow, direction, number, time, packet.payload, packet.length)
        for analysis in self.analyses:
            analysis.datagram(datagram)

    def _tcp(self, packet: Packet, number: int, time: float) -> None:
        self.tally.tcp_packets += 1
        flags = packet.flags
        syn = bool(flags & TCP_SYN)
        flow = self.flows.find(packet)
        if flow is not None and syn and not flags & TCP_ACK and self._reused(flow, packet):
            self.flows.close(flow, "reused")
            flow = None
        if flow is None:
            if not (packet.length or flags & (TCP_SYN | TCP_FIN)):
                return  # a bare ACK or RST of a connection not followed: nothing to audit
            reverse = syn and bool(flags & TCP_ACK)  # a SYN-ACK: its receiver connected
            flow = self.flows.open(packet, number, time, reverse=reverse)
            flow.tcp = _TcpFlow()
        direction = flow.direction_of(packet)
        flow.packets[direction] += 1
        flow.bytes[direction] += packet.length
        flow.last_time = time
        connection: _TcpFlow = flow.tcp
        stream = connection.directions[direction]
        if stream is None and not connection.dropped[direction]:
            claim = _Claim(self, flow, direction, mid_stream=not syn)
            stream = TcpDirection(claim, self.budget, self.limits.max_pending_per_stream)
            claim.attach(stream)
            connection.directions[direction] = stream
        if stream is not None and stream.sink is _IGNORED:
            self._drop(flow, direction)
            stream = None
        fin = bool(flags & TCP_FIN)
        if stream is not None:
            stream.segment(
                packet.seq, packet.payload, packet.length, syn=syn, fin=fin, frame=number, time=time
            )
            if stream.sink is _IGNORED:
                self._drop(flow, direction)
        if fin:
            connection.fins[direction] = True
        if flags & TCP_RST:
            self.flows.close(flow, "reset")
        elif all(
            connection.fins[side] and (s is None or s.ended)
            for side, s in enumerate(connection.directions)
        ):
            self.flows.close(flow, "closed")

    @staticmethod
    def _reused(flow: Flow, packet: Packet) -> bool:
        """A new SYN from the client, with a new initial sequence number: the ports were
        reused for a new connection (RFC 9293 §3.4.1 permits it after TIME-WAIT)."""
        stream = flow.tcp.directions[flow.direction_of(packet)] if flow.tcp else None
        return stream is not None and stream.started and stream.syn_seq != packet.seq

    def _drop(self, flow: Flow, direction: int) -> None:
        """Stop reassembling a direction no analysis wanted, keeping its counts."""
        stream: TcpDirection | None = flow.tcp.directions[direction]
        if stream is None:
            return
        self.budget.held -= stream.held
        self._count_stream(stream)
        flow.tcp.directions[direction] = None
        flow.tcp.dropped[direction] = True

    def _count_stream(self, stream: TcpDirection) -> None:
        self.tally.tcp_gap_bytes += stream.counts.gap_bytes
        self.tally.tcp_retransmitted_bytes += stream.counts.retransmitted

    # -- each flow that ends ----------------------------------------------------------

    def _closed(self, flow: Flow, why: str) -> None:
        connection: _TcpFlow | None = flow.tcp
        if connection is not None:
            for stream in connection.directions:
                if stream is not None:
                    stream.finish()  # idempotent: delivers what is held, ends the sink
                    self._count_stream(stream)
                    # The sinks refer back to the flow: without them, reference counting
                    # frees the connection at once, with no wait for the collector.
                    stream.sink = _IGNORED
            flow.tcp = None
        for analysis in self.analyses:
            analysis.flow_closed(flow, why)
        if not flow.labels:
            return
        if len(self.summaries) >= self.limits.max_listed:
            self.summaries_omitted += 1
            return
        client, server = flow.endpoints(0)
        self.summaries.append(
            FlowSummary(
                transport="tcp" if flow.transport == "tcp" else "udp",
                client=client,
                server=server,
                first_frame=flow.first_frame,
                first_time=flow.first_time,
                last_time=flow.last_time,
                packets=sum(flow.packets),
                bytes=sum(flow.bytes),
                labels=tuple(sorted(flow.labels)),
                ended=why,
            )
        )

    # -- the end ----------------------------------------------------------------------

    def evidence(
        self,
        source: CaptureSource,
        *,
        started_at: str,
        duration_ms: float,
        stop_signal: int | None = None,
    ) -> CaptureEvidence:
        """Close every flow and give the evidence; `source` without its link types (they
        are what the frames used)."""
        self.flows.close_all()
        self.fragments.finish()
        tally = self.tally
        fragments = self.fragments.counts
        counts = CaptureCounts(
            records=tally.records,
            captured_bytes=tally.captured_bytes,
            first_time=tally.first_time,
            last_time=tally.last_time,
            cut_records=tally.cut_records,
            cut_unreadable=tally.unreadable,
            tunnelled=tally.tunnelled,
            not_decoded=tuple(Count(n, c) for n, c in self.not_decoded.most_common()),
            udp_packets=tally.udp_packets,
            tcp_packets=tally.tcp_packets,
            fragments=fragments.fragments,
            reassembled=fragments.reassembled,
            fragments_dropped=fragments.dropped,
            udp_flows=self.flows.counts.udp,
            tcp_flows=self.flows.counts.tcp,
            flows_evicted=self.flows.counts.evicted,
            most_open_flows=self.flows.counts.most_open,
            tcp_streams_claimed=tuple(Count(n, c) for n, c in self.streams_claimed.most_common()),
            tcp_streams_unclaimed=self.streams_unclaimed,
            tcp_streams_undecided=self.streams_undecided,
            tcp_streams_unexamined=self.streams_unexamined,
            tcp_gap_bytes=tally.tcp_gap_bytes,
            tcp_retransmitted_bytes=tally.tcp_retransmitted_bytes,
        )
        parts = {analysis.name: analysis.result() for analysis in self.analyses}
        summaries = sorted(self.summaries, key=lambda summary: summary.first_frame)
        link_types = tuple(
            f"{value} ({LINK_TYPES.get(value, 'not decoded')})" for value in sorted(self.link_types)
        )
        return CaptureEvidence(
            started_at=started_at,
            duration_ms=duration_ms,
            source=CaptureSource(
                file=source.file,
                format=source.format,
                size_bytes=source.size_bytes,
                link_types=link_types,
                read=source.read,
                problem=source.problem,
                unread_bytes=source.unread_bytes,
            ),
            counts=counts,
            limits=CaptureLimits(
                max_flows=self.limits.max_flows,
                max_pending_bytes=self.limits.max_pending_bytes,
                max_listed=self.limits.max_listed,
            ),
            flows=tuple(summaries),
            flows_omitted=self.summaries_omitted,
            stop_signal=stop_signal,
            **parts,
        )


def audit_capture(
    path: Path,
    *,
    name: str | None = None,
    limits: AuditLimits | None = None,
    stop_requested: Callable[[], int | None] = lambda: None,
    media: MediaOptions | None = None,
) -> CaptureEvidence:
    """Audit the capture at `path` (named `name` in the evidence). `stop_requested` is
    asked now and then; a signal number from it ends reading there (`interrupted`).
    `media`: SRTP keys and expectations for the media analysis.
    Raises probe.pcap.reader.CaptureError for a file that is no capture at all."""
    from probe.pcap.analyses import build_analyses
    from probe.pcap.reader import CaptureReader

    limits = limits or AuditLimits()
    started = dt.datetime.now(dt.UTC)
    began = clock.monotonic()
    audit = CaptureAudit(build_analyses(limits, media), limits)
    stop_signal: int | None = None
    with CaptureReader(path, name) as reader:
        for record in reader.records():
            audit.frame(
                record.number, record.time, record.linktype, record.data, record.wire_length
            )
            if record.number % _STOP_EVERY == 0:
                stop_signal = stop_requested()
                if stop_signal is not None:
                    break
        source = CaptureSource(
            file=reader.name,
            format=reader.format,
            size_bytes=reader.size_bytes,
            link_types=(),
            read="interrupted" if stop_signal is not None else reader.end,
            problem=None if stop_signal is not None else reader.problem,
            unread_bytes=reader.unread_bytes,
        )
    return audit.evidence(
        source,
        started_at=started.isoformat(timespec="milliseconds"),
        duration_ms=(clock.monotonic() - began) * 1000,
        stop_signal=stop_signal,
    )
