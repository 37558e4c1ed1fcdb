"""Evidence of a capture audit (`sipprobe pcap`): what a packet capture held, as plain data.

The audit (probe.pcap) reads a capture once and keeps summaries, never the packets:
how the file was read, what its frames decoded to, the flows an analysis recognised,
and one part per analysis (`sip`, and each analysis added later beside it). Checks
(probe.verdict.checks.capture) judge it; `sipprobe judge` judges a saved one again.

Everything here is bounded whatever the capture's size: lists keep their first entries
(`*_omitted` or a total says how many more there were) and counts stand for the rest.
No SDES key is ever held: an `a=crypto` line is kept with its key replaced by zeros of
the same length (probe.evidence.redact.mask_text), as every evidence file has it.
Times are seconds since the epoch, as the capture recorded them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from probe.evidence.capture_counts import Count
from probe.evidence.capture_media import MediaCapture
from probe.evidence.run import TrustRecord

__all__ = [
    "CaptureCounts",
    "CaptureEvidence",
    "CaptureLimits",
    "CaptureRecording",
    "CaptureSource",
    "Count",
    "FlowSummary",
    "SdesExposure",
    "SipCapture",
    "SipFlow",
    "SipMessageSeen",
    "TlsAlertSeen",
    "TlsCapture",
    "TlsSessionSeen",
]

CaptureFormat = Literal["pcap", "pcapng"]
ReadOutcome = Literal["complete", "truncated", "damaged", "interrupted"]
"""How reading ended: at the end of the file; in the middle of a record (the file was cut
short, as when a capture is copied while it is written); at a record that cannot be
read (the rest of the file was not read); or by a signal."""
FlowTransport = Literal["udp", "tcp"]


@dataclass(frozen=True, slots=True)
class CaptureSource:
    """The file and how reading it went."""

    file: str
    """As it was named on the command line."""
    format: CaptureFormat
    size_bytes: int
    link_types: tuple[str, ...]
    """Every link-layer type its records use, as `1 (Ethernet)`."""
    read: ReadOutcome = "complete"
    problem: str | None = None
    """What stopped reading early, in a sentence."""
    unread_bytes: int = 0
    """Bytes of the file after the last record read (a partial or damaged record)."""


@dataclass(frozen=True, slots=True)
class CaptureCounts:
    """What the records decoded to."""

    records: int = 0
    captured_bytes: int = 0
    first_time: float | None = None
    last_time: float | None = None
    cut_records: int = 0
    """Records with fewer bytes captured than were on the wire (a snap length)."""
    cut_unreadable: int = 0
    """Packets cut so short (inside their headers, or before 32 bytes of payload) that
    what they carried cannot be told: not audited."""
    not_decoded: tuple[Count, ...] = ()
    """Frames with no UDP or TCP in them, by reason: `not_ip` (ARP...), `other` (ICMP,
    ESP...), `sctp` (SIGTRAN, Diameter...), `sctp_sip` (SCTP carrying SIP, RFC 4168: not
    audited), `link_type` (a link type not read), `tunnel` (a tunnel not opened),
    `short`, `bad_ip`, `bad_transport`."""
    tunnelled: int = 0
    """Packets opened out of a tunnel (IP in IP, GRE, ERSPAN, VXLAN) and audited."""
    udp_packets: int = 0
    tcp_packets: int = 0
    fragments: int = 0
    reassembled: int = 0
    fragments_dropped: int = 0
    """Fragmented datagrams never completed: their payload was not analysed."""
    udp_flows: int = 0
    tcp_flows: int = 0
    flows_evicted: int = 0
    """Flows closed early because the flow table was full (`CaptureLimits.max_flows`)."""
    most_open_flows: int = 0
    tcp_streams_claimed: tuple[Count, ...] = ()
    """TCP directions taken by an analysis, by its name."""
    tcp_streams_unclaimed: int = 0
    """TCP directions no analysis recognised (not SIP, ...)."""
    tcp_streams_undecided: int = 0
    """TCP directions that ended before enough bytes were seen to recognise them."""
    tcp_streams_unexamined: int = 0
    """TCP directions given up on before they could be recognised, because the bytes held
    by every stream together reached `CaptureLimits.max_pending_bytes`: not audited."""
    tcp_gap_bytes: int = 0
    """Bytes missing from TCP streams (segments the capture does not hold)."""
    tcp_retransmitted_bytes: int = 0


@dataclass(frozen=True, slots=True)
class CaptureLimits:
    """The bounds the audit ran under: memory stays within them whatever the file."""

    max_flows: int
    max_pending_bytes: int
    """Out-of-order TCP bytes held, across every stream."""
    max_listed: int
    """Entries each list of the evidence keeps."""


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One flow an analysis recognised: its endpoints, the client (the endpoint that
    sent first, or the SYN) first."""

    transport: FlowTransport
    client: str
    server: str
    first_frame: int
    first_time: float
    last_time: float
    packets: int
    bytes: int
    """Transport payload bytes, both ways."""
    labels: tuple[str, ...]
    """What was recognised in it: `sip`, ..."""
    ended: str = "capture_end"
    """`closed` (FIN both ways), `reset`, `evicted`, or `capture_end`."""


@dataclass(frozen=True, slots=True)
class SipMessageSeen:
    """One cleartext SIP message, as the audit names it."""

    frame: int
    """The frame that carried it (for TCP, the one that completed it), numbered from 1
    as Wireshark and tshark number them."""
    time: float
    transport: FlowTransport
    source: str
    destination: str
    kind: Literal["request", "response", "fragment"]
    """`fragment`: bytes of a message whose start line the capture does not hold (the
    stream's start was not captured, or segments are missing)."""
    method: str
    """The request's method; for a response (or a fragment), its CSeq method, if any."""
    status: int | None = None
    request_uri: str | None = None
    call_id: str | None = None
    cseq: int | None = None
    has_sdp: bool = False
    crypto_lines: int = 0
    cut: bool = False
    """Only part of the message was captured (a snap length, missing TCP segments)."""
    problem: str | None = None
    """Why it is not well-formed SIP, when it is not (it is cleartext SIP all the same)."""

    @property
    def name(self) -> str:
        """`INVITE`, `200 (INVITE)`."""
        if self.kind == "request":
            return self.method
        if self.kind == "fragment":
            return "part of a message"
        status = "a response" if self.status is None else str(self.status)
        return f"{status} ({self.method})" if self.method else status


@dataclass(frozen=True, slots=True)
class SdesExposure:
    """An `a=crypto` line seen in cleartext SIP: an SRTP master key anyone on the path
    could read (RFC 4568 §8.3 requires a secure signalling channel)."""

    message: SipMessageSeen
    lines: tuple[str, ...]
    """The crypto lines, each key replaced by zeros of its length."""


@dataclass(frozen=True, slots=True)
class SipFlow:
    """The cleartext SIP of one flow."""

    transport: FlowTransport
    client: str
    server: str
    messages: int
    requests: tuple[Count, ...]
    responses: tuple[Count, ...]
    first_time: float
    last_time: float
    exposures: int = 0
    """Messages in it with an `a=crypto` line."""


@dataclass(frozen=True, slots=True)
class SipCapture:
    """Cleartext SIP over UDP and TCP: what `pcap.sip_cleartext` and `pcap.sdes_exposed`
    judge."""

    messages: int = 0
    udp_messages: int = 0
    tcp_messages: int = 0
    requests: tuple[Count, ...] = ()
    """Requests by method."""
    responses: tuple[Count, ...] = ()
    """Responses by status code."""
    flows: tuple[SipFlow, ...] = ()
    flows_omitted: int = 0
    samples: tuple[SipMessageSeen, ...] = ()
    """The first messages, in capture order."""
    exposures: tuple[SdesExposure, ...] = ()
    exposures_total: int = 0
    malformed: int = 0
    """Messages that are SIP by their start line but not well-formed."""
    malformed_samples: tuple[SipMessageSeen, ...] = ()
    cut_messages: int = 0
    """Messages of which only part was captured (or held: see `overflows`): an
    `a=crypto` line in the rest would not have been seen."""
    overflows: int = 0
    """Messages over TCP given up on because the SIP streams together held more than
    `CaptureLimits.max_pending_bytes` (counted in `cut_messages` too)."""
    stream_gap_bytes: int = 0
    """Bytes missing from SIP-over-TCP streams."""
    unframed_bytes: int = 0
    """Bytes of SIP streams that framed as no message (skipped to the next start line;
    searched for `a=crypto` all the same)."""
    streams: int = 0
    """SIP-over-TCP directions."""


@dataclass(frozen=True, slots=True)
class TlsAlertSeen:
    """A TLS alert sent in the clear (RFC 8446 §6): during the handshake, before any key."""

    sender: Literal["client", "server"]
    level: int
    """1 warning, 2 fatal."""
    description: int
    frame: int


@dataclass(frozen=True, slots=True)
class TlsSessionSeen:
    """One TLS connection's handshake, as far as the capture shows it in the clear.

    Versions and cipher suites are kept as their code points on the wire (RFC 8446 §4.1,
    the IANA registry; GREASE values left out) and named when judged. The server's
    certificates are kept as sent (DER, leaf first) when the handshake is TLS 1.2 or
    older: TLS 1.3 encrypts them (RFC 8446 §4.4.2)."""

    client: str
    """The endpoint that sent the ClientHello (without one, the flow's client)."""
    server: str
    first_frame: int
    first_time: float
    sni: str | None = None
    """The ClientHello's server_name (RFC 6066 §3): the name the client asked for."""
    client_version: int | None = None
    """The ClientHello's legacy_version: without `offered_versions`, the highest the
    client supports."""
    offered_versions: tuple[int, ...] = ()
    """The ClientHello's supported_versions (RFC 8446 §4.2.1), when it has one."""
    offered_ciphers: tuple[int, ...] = ()
    client_hello_frame: int | None = None
    version: int | None = None
    """The version the ServerHello chose (supported_versions' for TLS 1.3)."""
    cipher: int | None = None
    server_hello_frame: int | None = None
    server_hello_time: float | None = None
    hello_retry: bool = False
    """The server asked for a second ClientHello (RFC 8446 §4.1.4)."""
    resumed: bool = False
    """An abbreviated handshake (RFC 5246 §7.3): a session resumed, no certificate sent."""
    presented_chain: tuple[bytes, ...] = ()
    certificate_frame: int | None = None
    client_certificate: bool = False
    """The client sent a Certificate message in the clear (TLS 1.2 mutual TLS)."""
    alert: TlsAlertSeen | None = None
    """The first alert sent in the clear."""
    mid_stream: bool = False
    """The connection began before the capture: its first bytes were not captured."""
    missing: str | None = None
    """Why part of the handshake is not in the capture (segments missing, a snap length,
    the audit's memory bound), in a sentence."""
    problem: str | None = None
    """Why the handshake could not be read, when bytes were there that are not TLS."""
    ended: str = "capture_end"
    """How the connection ended: `closed`, `reset`, `reused`, `evicted`, `capture_end`."""


@dataclass(frozen=True, slots=True)
class TlsCapture:
    """Every TLS connection over TCP: what `pcap.tls` and `pcap.tls_chain` judge."""

    sessions: tuple[TlsSessionSeen, ...] = ()
    """The first sessions, in the order they ended."""
    sessions_total: int = 0
    sessions_omitted: int = 0
    """Sessions not listed, past `CaptureLimits.max_listed`."""
    streams: int = 0
    """TCP directions read as TLS."""


@dataclass(frozen=True, slots=True)
class CaptureRecording:
    """How sipprobe recorded the capture it audits (`sipprobe invite --capture`)."""

    file: str
    recorded: bool
    """Whether a capture ran at all: False when it could not be started."""
    tool: str | None = None
    """`tcpdump` or `dumpcap`; None when neither was found."""
    interface: str | None = None
    bpf: str | None = None
    """The filter it ran with: the call's signalling and media, and the end marker."""
    problem: str | None = None
    """Why nothing (or not everything) was recorded, in a sentence."""
    packets_captured: int | None = None
    """As the tool reported when it stopped."""
    packets_dropped: int | None = None
    """Packets the kernel or the interface dropped before the tool read them."""
    end_marker: bool = False
    """sipprobe's end-of-call datagram reached the file before the tool was stopped, so
    every packet before it did too."""
    killed: bool = False
    """The tool did not stop when asked and was killed: the file may end mid-record."""


@dataclass(frozen=True, slots=True)
class CaptureEvidence:
    """A whole capture audit. Each analysis has its part beside `sip`; a part added later
    is optional, so evidence saved before it existed still loads."""

    started_at: str
    """ISO 8601 UTC: when the audit ran."""
    duration_ms: float
    source: CaptureSource
    counts: CaptureCounts
    limits: CaptureLimits
    sip: SipCapture
    flows: tuple[FlowSummary, ...] = ()
    """The flows an analysis recognised (`labels`), first seen first."""
    flows_omitted: int = 0
    stop_signal: int | None = None
    """The signal that interrupted the audit, when one did (`source.read` is then
    `interrupted`)."""
    tls: TlsCapture | None = None
    """TLS over TCP (probe.pcap.tls_audit); None in evidence saved before it was read."""
    trust: TrustRecord | None = None
    """The trust anchors the captured chains were judged against when the audit was
    saved, so `sipprobe judge` judges them against the same ones."""
    recording: CaptureRecording | None = None
    """How the capture was recorded, when sipprobe recorded it (`invite --capture`)."""
    media: MediaCapture | None = None
    """RTP, SRTP and DTLS-SRTP flows (probe.pcap.media_audit)."""

    def __post_init__(self) -> None:
        try:
            started = dt.datetime.fromisoformat(self.started_at)
        except (TypeError, ValueError):
            raise ValueError(f"started_at {self.started_at!r} is not an ISO 8601 time") from None
        if started.utcoffset() is None:
            raise ValueError(f"started_at {self.started_at!r} has no UTC offset")

    @property
    def label(self) -> str:
        """How reports name the capture: its file."""
        return self.source.file
