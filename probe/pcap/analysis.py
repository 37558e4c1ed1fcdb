"""What an analysis of a capture is: the one interface the audit loop calls.

An analysis sees three things, and only these:

- every UDP datagram (:class:`Datagram`: its flow, direction, frame, time, payload);
- TCP streams it claims: for each direction of each TCP flow, the audit asks every
  analysis in turn (:meth:`Analysis.claim_stream`) with the first bytes of the
  reassembled stream; the first to return a :class:`~probe.pcap.tcp.StreamSink` gets
  that direction's bytes, in order, from then on (gaps and the end included);
  `UNDECIDED` asks to be asked again with more bytes, None declines; the head shown is
  at most `AuditLimits.claim_window` bytes;
- the end of each flow (:meth:`Analysis.flow_closed`), so per-flow state can be folded
  into its summary and dropped.

Per-flow state lives in `flow.state[analysis.name]` and dies with the flow; whatever an
analysis keeps beyond that must be bounded by `AuditLimits.max_listed` (lists) or be
counts. At the end, :meth:`Analysis.result` gives its part of the evidence, stored as
the field of probe.evidence.capture.CaptureEvidence named `name`.

Analyses can hear each other through listeners wired where they are built
(probe.pcap.analyses.build_analyses): the SIP analysis tells its `sdp_listeners`
about every SDP body it sees (:class:`SdpSeen`, keys included, in memory only), which
is how media flows are tied to the offer/answer that set them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from probe.pcap.flows import Flow
from probe.pcap.tcp import StreamSink

__all__ = [
    "UNDECIDED",
    "Analysis",
    "AuditLimits",
    "Datagram",
    "SdpListener",
    "SdpSeen",
    "Undecided",
]


class Undecided:
    """The answer of an analysis that needs more of a stream before it can tell."""

    def __repr__(self) -> str:
        return "UNDECIDED"


UNDECIDED: Final = Undecided()


@dataclass(frozen=True, slots=True)
class AuditLimits:
    """How much an audit may hold, whatever the capture: its memory follows from these."""

    max_flows: int = 100_000
    """Flows open at once; the quietest is closed to make room (probe.pcap.flows)."""
    max_pending_bytes: int = 64 * 1024 * 1024
    """Out-of-order TCP bytes held across every stream, waiting for a hole to fill."""
    max_pending_per_stream: int = 256 * 1024
    """The same for one direction of one connection."""
    claim_window: int = 16 * 1024
    """Bytes of a TCP stream shown to the analyses before it is taken as no one's."""
    max_listed: int = 1000
    """Entries kept in each list of the evidence (messages, flows, exposures)."""
    max_fragmented: int = 1024
    """IP datagrams being reassembled at once."""

    def __post_init__(self) -> None:
        for name in (
            "max_flows",
            "max_pending_bytes",
            "max_pending_per_stream",
            "claim_window",
            "max_listed",
            "max_fragmented",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AuditLimits.{name} must be a positive integer, not {value!r}")


class Datagram:
    """One UDP datagram, as an analysis sees it."""

    __slots__ = ("cut", "direction", "flow", "frame", "length", "payload", "time")

    def __init__(
        self, flow: Flow, direction: int, frame: int, time: float, payload: bytes, length: int
    ) -> None:
        self.flow = flow
        self.direction = direction
        """0 from the flow's client, 1 towards it."""
        self.frame = frame
        self.time = time
        self.payload = payload
        self.length = length
        """The payload's length on the wire."""
        self.cut = len(payload) < length


@dataclass(frozen=True, slots=True)
class SdpSeen:
    """An SDP body seen in cleartext SIP. `body` holds it as captured, keys included:
    it is for other analyses during the audit, never for the evidence."""

    frame: int
    time: float
    flow: Flow
    direction: int
    kind: str
    """`request` or `response`."""
    method: str
    status: int | None
    call_id: str | None
    body: bytes


class SdpListener(Protocol):
    def sdp_seen(self, sdp: SdpSeen) -> None: ...


class Analysis(Protocol):
    """One analysis of a capture (see the module's description of the contract)."""

    name: str
    """Its field in probe.evidence.capture.CaptureEvidence, and the label it gives the
    flows it recognises."""

    def datagram(self, datagram: Datagram) -> None: ...

    def claim_stream(
        self, flow: Flow, direction: int, head: bytes, *, mid_stream: bool, final: bool
    ) -> StreamSink | Undecided | None:
        """A sink for this TCP direction's bytes (starting with `head`), UNDECIDED to
        see more of it, or None. `mid_stream`: the stream's start was not captured (no
        SYN, or bytes missing before `head`), so `head` may begin inside a message.
        `final`: no more bytes follow `head` (the stream ends, the capture lost the next
        ones, or the audit's memory bound was reached), so UNDECIDED counts as None: a
        start line cut short is worth claiming then."""
        ...

    def flow_closed(self, flow: Flow, why: str) -> None: ...

    def result(self) -> Any:
        """Its part of the evidence, once the capture is over."""
        ...
