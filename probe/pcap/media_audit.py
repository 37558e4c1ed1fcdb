"""Media in a capture: each RTP-like UDP flow classified as RTP, SRTP or DTLS-SRTP.

Whatever its ports, a UDP datagram whose first byte is RTP's, DTLS's, STUN's or ZRTP's
(RFC 7983 §7), or that goes to an address and port an SDP named, starts a media flow.
Each RTP stream in it (one SSRC, one direction) is summarised as its packets go by
(probe.pcap.media_stream), and classified at the end (probe.pcap.media_classify):

- the header (RFC 3550 §5.1): version 2, payload type, SSRC, sequence continuity;
- the payload's byte entropy on a sample (ciphertext has close to 8 bits a byte, a
  plain G.711 frame far less) and how many values its first byte takes (a codec's own
  framing, an Opus TOC byte or a NAL header, takes few; ciphertext takes many);
- for a fixed-rate codec (RFC 3551 §6: G.711 sends one byte per timestamp tick), the
  bytes that trail its frame: SRTP appends the authentication tag (RFC 3711 §3.1: 10
  or 4 bytes with HMAC-SHA1, 16 with AES-GCM, RFC 7714 §5), plain RTP nothing;
- with keys (SDES keys in cleartext SIP of the same capture, or a key file), whether
  libsrtp authenticates the packet (probe.pcap.srtp_auth).

RTCP (RFC 5761 §4: packet types 192-223) is counted as plain when its compound walks
exactly (RFC 3550 §6.4.1) and as SRTCP otherwise; DTLS records (RFC 6347 §4.1) on the
port make the flow DTLS-SRTP, with the SRTP profile the handshake chose (RFC 5764
§4.1.1, probe.pcap.media_dtls). The SDP that set a flow up (probe.pcap.media_sdp) is
tied to it by address and port.

Memory is bounded per flow (at most `_MAX_STREAMS` streams, fixed counters, a payload
sample of 4 KiB that is folded into a number once full, and a budget of samples held at
once: media_stream.SampleBudget), and the flows themselves by the audit's flow table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from probe.evidence.capture_counts import Count
from probe.evidence.capture_media import (
    MediaCapture,
    MediaFlow,
)
from probe.pcap.analysis import AuditLimits, Datagram, SdpSeen
from probe.pcap.flows import Flow
from probe.pcap.media_classify import flow_kind
from probe.pcap.media_dtls import DtlsState
from probe.pcap.media_sdp import Endpoint, Negotiation, SdpStore
from probe.pcap.media_stream import SampleBudget, StreamState
from probe.pcap.rtp import (
    demultiplex,
    dtls_records,
    is_rtcp,
    is_zrtp,
    read_rtp,
    rtcp_is_plain,
    stun_message,
)
from probe.pcap.srtp_auth import SrtpKey, SrtpLibrary, StreamAuth
from probe.pcap.tcp import StreamSink

__all__ = ["MediaAnalysis", "MediaOptions"]

NAME: Final = "media"

_MAX_STREAMS = 8
"""Streams (SSRC and direction) kept per flow; packets of more are counted."""
_MAX_NEGOTIATIONS = 4
"""Offer/answer exchanges tied to one flow (a re-INVITE makes another)."""


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """What the media analysis is given beside the capture."""

    expect_srtp: bool = False
    keys: tuple[SrtpKey, ...] = ()
    key_file: str | None = None


class _FlowMedia:
    __slots__ = (
        "dtls",
        "generation",
        "negotiations",
        "other",
        "rtcp_plain",
        "rtcp_protected",
        "rtcp_ssrcs",
        "streams",
        "streams_omitted",
        "stun",
        "zrtp",
    )

    def __init__(self) -> None:
        self.streams: dict[tuple[int, int], StreamState] = {}
        self.streams_omitted = 0
        self.rtcp_plain = self.rtcp_protected = 0
        self.rtcp_ssrcs: Counter[int] | None = None
        self.stun = self.zrtp = self.other = 0
        self.dtls: DtlsState | None = None
        self.negotiations: list[Negotiation] = []
        self.generation = -1


_STARTS = frozenset(("rtp", "dtls", "stun", "zrtp"))


class MediaAnalysis:
    """Classifies media flows; hears SDP from the SIP analysis (`sdp_seen`)."""

    name = NAME

    def __init__(self, limits: AuditLimits, options: MediaOptions | None = None) -> None:
        self.limits = limits
        self.options = options or MediaOptions()
        self.sdp = SdpStore()
        self.library = SrtpLibrary()
        self.file_keys: dict[Endpoint, list[SrtpKey]] = {}
        for key in self.options.keys:
            self.file_keys.setdefault(key.endpoint, []).append(key)
        self.samples = SampleBudget()
        self.unconfirmed = 0
        self.flows: list[MediaFlow] = []
        self.omitted: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.auth_used = False

    # -- SDP --------------------------------------------------------------------------

    def sdp_seen(self, sdp: SdpSeen) -> None:
        message = sdp.method if sdp.kind == "request" else f"{sdp.status} ({sdp.method})"
        self.sdp.seen(
            sdp.body,
            frame=sdp.frame,
            message=message,
            call_id=sdp.call_id,
            kind=sdp.kind,
            max_kept=self.limits.max_listed,
        )

    # -- each datagram ----------------------------------------------------------------

    def datagram(self, datagram: Datagram) -> None:
        flow = datagram.flow
        state: _FlowMedia | None = flow.state.get(NAME)
        payload = datagram.payload
        if state is None:
            if "sip" in flow.labels:
                return
            if not self._starts_media(datagram):
                return
            state = flow.state[NAME] = _FlowMedia()
        if state.generation != self.sdp.generation:
            self._look_up(flow, state)
        if payload and 128 <= payload[0] < 192:  # RTP and RTCP (RFC 7983 §7), most of all
            if is_rtcp(payload):
                self._rtcp(state, datagram)
            else:
                self._rtp(flow, state, datagram)
            return
        kind = demultiplex(payload)
        if kind == "dtls":
            self._dtls(state, datagram)
        elif kind == "stun" and stun_message(payload, datagram.length) is not None:
            state.stun += 1
        elif kind == "zrtp" and is_zrtp(payload):
            state.zrtp += 1
        else:
            state.other += 1

    def _starts_media(self, datagram: Datagram) -> bool:
        """Whether a datagram of a flow not yet followed is media, or goes where an SDP
        said media would."""
        if self._media_like(datagram):
            return True
        flow = datagram.flow
        return bool(self.sdp.generation and self.sdp.find(flow.client, flow.server))

    @staticmethod
    def _media_like(datagram: Datagram) -> bool:
        payload = datagram.payload
        kind = demultiplex(payload)
        if kind not in _STARTS:
            return False
        if kind == "rtp":
            return is_rtcp(payload) or read_rtp(payload) is not None
        if kind == "dtls":
            return dtls_records(payload) is not None
        if kind == "stun":
            return stun_message(payload, datagram.length) is not None
        return is_zrtp(payload)

    def _look_up(self, flow: Flow, state: _FlowMedia) -> None:
        state.generation = self.sdp.generation
        for negotiation in self.sdp.find(flow.client, flow.server):
            if (
                negotiation not in state.negotiations
                and len(state.negotiations) < _MAX_NEGOTIATIONS
            ):
                state.negotiations.append(negotiation)
                negotiation.matched = True
        for stream in state.streams.values():
            self._keys(flow, state, stream)

    def _keys(self, flow: Flow, state: _FlowMedia, stream: StreamState) -> None:
        """Give the stream every key held for what it carries: the SDP's for packets
        to that address (or sent from one that announced its own), the key file's for
        packets from that address."""
        source, destination = (
            (flow.client, flow.server) if stream.direction == 0 else (flow.server, flow.client)
        )
        keys = [
            ("SDP in the capture", crypto)
            for negotiation in state.negotiations
            for crypto in negotiation.keys_towards(destination)
        ]
        keys += [
            ("SDP in the capture", crypto)
            for negotiation in state.negotiations
            for side in negotiation.sides()
            if side.line.endpoint == source
            for crypto in side.line.crypto
        ]
        keys += [("key file", key.crypto) for key in self.file_keys.get(source, ())]
        if not keys:
            return
        if stream.auth is None:
            stream.auth = StreamAuth(self.library)
            stream.not_checked += stream.packets  # those went by before any key
            self.auth_used = True
        stream.auth.add(keys)

    def _rtp(self, flow: Flow, state: _FlowMedia, datagram: Datagram) -> None:
        header = read_rtp(datagram.payload)
        if header is None:
            state.other += 1
            return
        key = (datagram.direction, header.ssrc)
        stream = state.streams.get(key)
        if stream is None:
            if len(state.streams) >= _MAX_STREAMS and not self._make_room(state):
                state.streams_omitted += 1
                return
            stream = StreamState(datagram.direction, header.ssrc, datagram.frame, self.samples)
            state.streams[key] = stream
            self._keys(flow, state, stream)
        stream.add(header, datagram.payload, datagram.length, datagram.frame, datagram.cut)

    def _dtls(self, state: _FlowMedia, datagram: Datagram) -> None:
        dtls = state.dtls or DtlsState()
        if not dtls.add(datagram.payload, datagram.direction, unified=state.dtls is not None):
            state.other += 1
            return
        state.dtls = dtls

    def _make_room(self, state: _FlowMedia) -> bool:
        """Drop a stream of a single packet (a stray datagram, most likely) so that a
        real one is not kept out by a few of them; its packet is counted as omitted."""
        single = next((key for key, s in state.streams.items() if s.packets == 1), None)
        if single is None:
            return False
        state.streams.pop(single).fold()  # its sample's place goes back to the budget
        state.streams_omitted += 1
        return True

    def _rtcp(self, state: _FlowMedia, datagram: Datagram) -> None:
        payload = datagram.payload
        ssrcs = state.rtcp_ssrcs
        if ssrcs is None:
            ssrcs = state.rtcp_ssrcs = Counter()
        ssrcs[int.from_bytes(payload[4:8], "big")] += 1
        if len(ssrcs) > _MAX_STREAMS:
            state.rtcp_ssrcs = Counter(dict(ssrcs.most_common(_MAX_STREAMS)))
        if not datagram.cut and rtcp_is_plain(payload):
            state.rtcp_plain += 1
        elif not datagram.cut:
            state.rtcp_protected += 1
        else:
            state.other += 1

    # -- the end of a flow ------------------------------------------------------------

    def claim_stream(
        self, flow: Flow, direction: int, head: bytes, *, mid_stream: bool, final: bool
    ) -> StreamSink | None:
        return None  # media over TCP (RFC 4571) is not audited

    def flow_closed(self, flow: Flow, why: str) -> None:
        state: _FlowMedia | None = flow.state.pop(NAME, None)
        if state is None:
            return
        for stream in state.streams.values():
            stream.fold()
        if not self._confirmed(state):
            self.unconfirmed += 1
            return
        summary = self._summary(flow, state, why)
        self.kinds[summary.kind] += 1
        if len(self.flows) < self.limits.max_listed:
            self.flows.append(summary)
        else:
            self.omitted[summary.outcome] += 1

    @staticmethod
    def _confirmed(state: _FlowMedia) -> bool:
        """Media, not a datagram or two that happen to start like RTP: a stream whose
        sequence advanced, DTLS, RTCP from one source twice, or an SDP naming it."""
        return bool(
            state.negotiations
            or state.dtls is not None
            or any(stream.in_order or stream.lost for stream in state.streams.values())
            or any(count >= 2 for count in (state.rtcp_ssrcs or {}).values())
        )

    def _summary(self, flow: Flow, state: _FlowMedia, why: str) -> MediaFlow:
        streams = tuple(
            stream.seen(flow)
            for stream in sorted(state.streams.values(), key=lambda s: s.first_frame)
        )
        dtls = state.dtls.seen() if state.dtls is not None else None
        kind, reason = flow_kind(
            streams, dtls, (state.rtcp_plain, state.rtcp_protected), state.stun + state.zrtp
        )
        offer = answer = None
        if state.negotiations:
            best = state.negotiations[0]
            offer = best.offer.seen if best.offer is not None else None
            answer = best.answer.seen if best.answer is not None else None
        client, server = flow.endpoints(0)
        return MediaFlow(
            client=client,
            server=server,
            first_frame=flow.first_frame,
            first_time=flow.first_time,
            last_time=flow.last_time,
            packets=sum(flow.packets),
            bytes=sum(flow.bytes),
            kind=kind,
            reason=reason,
            streams=streams,
            streams_omitted=state.streams_omitted,
            rtcp_plain=state.rtcp_plain,
            rtcp_protected=state.rtcp_protected,
            stun=state.stun,
            zrtp=state.zrtp,
            other=state.other,
            dtls=dtls,
            offer=offer,
            answer=answer,
            ended=why,
        )

    def result(self) -> MediaCapture:
        unseen = [
            side.seen
            for negotiation in self.sdp.negotiations
            if not negotiation.matched
            for side in negotiation.sides()
            if side.line.endpoint is not None
        ]
        return MediaCapture(
            flows=tuple(sorted(self.flows, key=lambda flow: flow.first_frame)),
            flows_omitted=sum(self.omitted.values()),
            omitted=_counts(self.omitted),
            kinds=_counts(self.kinds),
            unconfirmed=self.unconfirmed,
            sdp_media=self.sdp.media_lines,
            sdp_unseen=tuple(unseen[: self.limits.max_listed]),
            sdp_unseen_total=len(unseen),
            sdp_keys=self.sdp.keys,
            key_file=self.options.key_file,
            file_keys=len(self.options.keys),
            expect_srtp=self.options.expect_srtp,
            auth_unavailable=self.library.problem if self.auth_used else None,
            not_sampled=self.samples.refused,
        )


def _counts(counter: Counter[str]) -> tuple[Count, ...]:
    return tuple(Count(name, count) for name, count in counter.most_common())
