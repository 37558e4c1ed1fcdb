"""Flows: the packets of one conversation, both directions as one, summarised as they go.

A flow is keyed by its protocol and its two endpoints in a fixed order, so a request and
its answer land in the same flow. The endpoint that sent the first packet seen is the
`client` (for TCP, the one that sent the SYN when the SYN was captured), and a packet's
direction is 0 from the client, 1 towards it.

The table is bounded: at most `max_flows` are open at once. When a new flow finds it
full, the flow that has been quiet longest is closed first (its summary is handed on,
like any finished flow's), so every packet is still analysed and memory stays the same
whether a capture holds ten flows or ten million. How many flows were closed that way
is counted (`evicted`); a flow that comes back after it is simply a new flow.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probe.pcap.packets import PROTO_TCP, Packet, endpoint_text

__all__ = ["Flow", "FlowCounts", "FlowKey", "FlowTable"]

FlowKey = tuple[int, bytes, int, bytes, int]
"""(protocol, address, port, address, port), the lower endpoint first."""


class Flow:
    """One conversation between two endpoints over UDP or TCP."""

    __slots__ = (
        "bytes",
        "client",
        "first_frame",
        "first_time",
        "key",
        "labels",
        "last_time",
        "number",
        "packets",
        "protocol",
        "server",
        "state",
        "tcp",
    )

    def __init__(
        self,
        number: int,
        key: FlowKey,
        client: tuple[bytes, int],
        server: tuple[bytes, int],
        frame: int,
        time: float,
    ) -> None:
        self.number = number
        """The order the flow was first seen in, from 1."""
        self.key = key
        self.protocol = key[0]
        self.client = client
        self.server = server
        self.first_frame = frame
        self.first_time = time
        self.last_time = time
        self.packets = [0, 0]
        """Packets from the client, and towards it."""
        self.bytes = [0, 0]
        """Transport payload bytes on the wire, each way."""
        self.labels: set[str] = set()
        """What the analysers recognised in it ("sip", ...): flows with a label are named
        in the evidence, the others only counted."""
        self.state: dict[str, Any] = {}
        """Each analyser's own state about this flow, under its name: dropped with it."""
        self.tcp: Any = None
        """The TCP reassembly of both directions (probe.pcap.tcp), for a TCP flow."""

    @property
    def transport(self) -> str:
        return "tcp" if self.protocol == PROTO_TCP else "udp"

    def direction_of(self, packet: Packet) -> int:
        return 0 if (packet.src, packet.sport) == self.client else 1

    def endpoints(self, direction: int) -> tuple[str, str]:
        """(source, destination) of a packet going `direction`, as text."""
        client = endpoint_text(*self.client)
        server = endpoint_text(*self.server)
        return (client, server) if direction == 0 else (server, client)

    def label(self) -> str:
        """`udp 192.0.2.1:5060 → 192.0.2.2:5060`, the client first."""
        client, server = self.endpoints(0)
        return f"{self.transport} {client} → {server}"


@dataclass(slots=True)
class FlowCounts:
    udp: int = 0
    """UDP flows opened."""
    tcp: int = 0
    """TCP flows opened."""
    evicted: int = 0
    """Flows closed early to make room for a new one (the table was full)."""
    most_open: int = 0
    """The most flows open at once."""


class FlowTable:
    """Open flows, least recently active first; `on_close` receives each flow that ends
    (by `close`, by eviction, or by `close_all` at the end of the capture)."""

    def __init__(self, max_flows: int, on_close: Callable[[Flow, str], None]) -> None:
        if max_flows < 1:
            raise ValueError("max_flows must be at least 1")
        self.max_flows = max_flows
        self.counts = FlowCounts()
        self._flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self._on_close = on_close
        self._opened = 0
        self._found: tuple[Packet | None, FlowKey] = (None, (0, b"", 0, b"", 0))

    def __len__(self) -> int:
        return len(self._flows)

    @staticmethod
    def key_of(packet: Packet) -> FlowKey:
        here = (packet.src, packet.sport)
        there = (packet.dst, packet.dport)
        if here <= there:
            return (packet.protocol, packet.src, packet.sport, packet.dst, packet.dport)
        return (packet.protocol, packet.dst, packet.dport, packet.src, packet.sport)

    def find(self, packet: Packet) -> Flow | None:
        """The open flow of `packet`, marked as the most recently active; None if none."""
        key = self.key_of(packet)
        self._found = (packet, key)  # `open` of the same packet needs the key again
        flow = self._flows.get(key)
        if flow is not None:
            self._flows.move_to_end(key)
        return flow

    def open(self, packet: Packet, frame: int, time: float, *, reverse: bool = False) -> Flow:
        """A new flow for `packet`, its sender the client (the receiver with `reverse`,
        for a SYN-ACK whose SYN was not captured)."""
        found, key = self._found
        if found is not packet:
            key = self.key_of(packet)
        while len(self._flows) >= self.max_flows:
            _, oldest = self._flows.popitem(last=False)
            self.counts.evicted += 1
            self._on_close(oldest, "evicted")
        here, there = (packet.src, packet.sport), (packet.dst, packet.dport)
        client, server = (there, here) if reverse else (here, there)
        self._opened += 1
        flow = Flow(self._opened, key, client, server, frame, time)
        self._flows[key] = flow
        if packet.protocol == PROTO_TCP:
            self.counts.tcp += 1
        else:
            self.counts.udp += 1
        self.counts.most_open = max(self.counts.most_open, len(self._flows))
        return flow

    def close(self, flow: Flow, why: str) -> None:
        """End `flow` now (a TCP connection that closed or reset)."""
        if self._flows.get(flow.key) is flow:
            del self._flows[flow.key]
            self._on_close(flow, why)

    def close_all(self) -> None:
        """The capture is over: every open flow ends, oldest activity first."""
        while self._flows:
            _, flow = self._flows.popitem(last=False)
            self._on_close(flow, "capture_end")
