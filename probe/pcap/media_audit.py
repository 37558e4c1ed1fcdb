"""Media in a capture: each RTP-like UDP flow classified as RTP, SRTP or DTLS-SRTP.

Whatever its ports, a UDP datagram whose first byte is RTP's, DTLS's, STUN's or ZRTP's
(RFC 7983 §7), or that goes to an address and port an SDP named, starts a media flow.
Each RTP stream in it (one SSRC, one direction) is summarised as its packets go by:

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
§4.1.1). The SDP that set a flow up (probe.pcap.media_sdp) is tied to it by address and
port.

Memory is bounded per flow (at most `_MAX_STREAMS` streams, fixed counters, a payload
sample of `_SAMPLE_BYTES` that is folded into a number once full, and no more than
`_MAX_SAMPLING` samples at once), and the flows themselves by the audit's flow table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Final

from probe.evidence.capture_counts import Count
from probe.evidence.capture_media import (
    DtlsSeen,
    MediaCapture,
    MediaFlow,
    MediaKind,
    RtpStreamSeen,
    StreamKind,
)
from probe.pcap.analysis import AuditLimits, Datagram, SdpSeen
from probe.pcap.flows import Flow
from probe.pcap.media_sdp import Endpoint, Negotiation, SdpStore
from probe.pcap.rtp import (
    DTLS_CONTENT_TYPES,
    HANDSHAKE_TYPES,
    RtpHeader,
    codec_frame_bytes,
    demultiplex,
    dtls_hello,
    dtls_records,
    entropy_bits,
    expected_distinct,
    is_rtcp,
    is_zrtp,
    read_rtp,
    rtcp_is_plain,
    stun_message,
)
from probe.pcap.srtp_auth import SrtpKey, SrtpLibrary, StreamAuth
from probe.pcap.tcp import StreamSink

__all__ = ["MediaAnalysis", "MediaOptions", "classify_stream"]

NAME: Final = "media"

_MAX_STREAMS = 8
"""Streams (SSRC and direction) kept per flow; packets of more are counted."""
_SAMPLE_BYTES = 4096
_SAMPLE_PER_PACKET = 256
_MAX_SAMPLING = 4096
"""Streams sampling their payload at once (4096 × 4 KiB at most)."""
_FIRST_BYTE_PACKETS = 64
_MAX_TICKS = 8000
"""Timestamp steps longer than a second are a pause (silence suppression), not a frame."""
_MAX_TRAILING = 64
_LATE = 0xFFFF - 3000
_JUMP = 3000
"""RFC 3550 Appendix A.1's MAX_DROPOUT: a larger step is a new sequence, not loss."""

MIN_PACKETS = 3
"""RTP packets a stream needs before it is judged by what its payload looks like."""
MIN_SAMPLE = 256
"""Payload bytes an entropy needs to mean anything."""
CIPHERTEXT_BITS = 7.5
"""Entropy (bits a byte) above which a payload is taken for ciphertext..."""
PLAIN_BITS = 7.0
"""... and below which for a codec's plain output."""
TAG_SHARE = 0.8
"""The share of measured packets that must agree on the bytes trailing the frame."""


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """What the media analysis is given beside the capture."""

    expect_srtp: bool = False
    keys: tuple[SrtpKey, ...] = ()
    key_file: str | None = None


class _Stream:
    __slots__ = (
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

    def __init__(self, direction: int, ssrc: int, frame: int) -> None:
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
        self.sample: bytearray | None = None
        self.entropy: float | None = None
        self.entropy_bytes = 0
        self.first_bytes = 0
        """A bit set: bit b is set when a payload began with byte b."""
        self.first_byte_packets = 0
        self.trailing: Counter[int] | None = None
        """Bytes beyond the codec's frame, per packet measured (-1: out of range); made
        at the first measure (most flows of a hostile capture never get one)."""
        self.auth: StreamAuth | None = None
        self.not_checked = 0


class _Dtls:
    __slots__ = ("alerts", "chosen", "handshake", "later_epoch", "offered", "records", "versions")

    def __init__(self) -> None:
        self.records: Counter[str] = Counter()
        self.handshake: Counter[str] = Counter()
        self.versions: set[str] = set()
        self.offered: tuple[str, ...] = ()
        self.chosen: str | None = None
        self.alerts = 0
        self.later_epoch = [False, False]


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
        self.streams: dict[tuple[int, int], _Stream] = {}
        self.streams_omitted = 0
        self.rtcp_plain = self.rtcp_protected = 0
        self.rtcp_ssrcs: Counter[int] | None = None
        self.stun = self.zrtp = self.other = 0
        self.dtls: _Dtls | None = None
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
        self.sampling = 0
        self.not_sampled = 0
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
            if negotiation not in state.negotiations and len(state.negotiations) < 4:
                state.negotiations.append(negotiation)
                negotiation.matched = True
        for stream in state.streams.values():
            self._keys(flow, state, stream)

    def _keys(self, flow: Flow, state: _FlowMedia, stream: _Stream) -> None:
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
        payload = datagram.payload
        header = read_rtp(payload)
        if header is None:
            state.other += 1
            return
        key = (datagram.direction, header.ssrc)
        stream = state.streams.get(key)
        if stream is None:
            if len(state.streams) >= _MAX_STREAMS and not self._make_room(state):
                state.streams_omitted += 1
                return
            stream = state.streams[key] = _Stream(datagram.direction, header.ssrc, datagram.frame)
            if self.sampling < _MAX_SAMPLING:
                stream.sample = bytearray()
                self.sampling += 1
            else:
                self.not_sampled += 1
            self._keys(flow, state, stream)
        stream.packets += 1
        stream.last_frame = datagram.frame
        stream.payload_types[header.payload_type] += 1
        start = header.header_length
        wire_payload = datagram.length - start
        self._sequence(stream, header, wire_payload)
        if datagram.cut:
            stream.cut += 1
        if len(payload) > start:
            if stream.first_byte_packets < _FIRST_BYTE_PACKETS:
                stream.first_bytes |= 1 << payload[start]
                stream.first_byte_packets += 1
            sample = stream.sample
            if sample is not None:
                sample += payload[start : start + _SAMPLE_PER_PACKET]
                if len(sample) >= _SAMPLE_BYTES:
                    self._fold_sample(stream)
        auth = stream.auth
        if auth is not None:
            if datagram.cut or not auth.usable:
                stream.not_checked += 1
            else:
                auth.check(payload)

    def _make_room(self, state: _FlowMedia) -> bool:
        """Drop a stream of a single packet (a stray datagram, most likely) so that a
        real one is not kept out by a few of them; its packet is counted as omitted."""
        single = next((key for key, s in state.streams.items() if s.packets == 1), None)
        if single is None:
            return False
        dropped = state.streams.pop(single)
        if dropped.sample is not None:
            self.sampling -= 1
        state.streams_omitted += 1
        return True

    @staticmethod
    def _sequence(stream: _Stream, header: RtpHeader, size: int) -> None:
        """Sequence continuity (RFC 3550 §5.1, Appendix A.1), and for consecutive packets
        of a fixed-rate codec, the bytes of `size` beyond the frame their timestamps
        span (RFC 3711 §3.1: where SRTP puts its tag)."""
        sequence, timestamp = header.sequence, header.timestamp
        last = stream.last_sequence
        if last is None:
            stream.last_sequence, stream.last_timestamp = sequence, timestamp
            return
        step = (sequence - last) & 0xFFFF
        if step == 0:
            stream.duplicates += 1
            return
        if step >= _LATE:
            stream.late += 1
            return
        if step > _JUMP:
            stream.jumps += 1
        elif step == 1:
            stream.in_order += 1
            ticks = (timestamp - stream.last_timestamp) & 0xFFFFFFFF
            frame = codec_frame_bytes(header.payload_type, ticks) if ticks <= _MAX_TICKS else None
            if frame is not None and not header.padding:
                trailing = size - frame
                if stream.trailing is None:
                    stream.trailing = Counter()
                stream.trailing[trailing if 0 <= trailing <= _MAX_TRAILING else -1] += 1
        else:
            stream.lost += step - 1
        stream.last_sequence, stream.last_timestamp = sequence, timestamp

    def _fold_sample(self, stream: _Stream) -> None:
        sample = stream.sample
        if sample is None:
            return
        if len(sample) >= MIN_SAMPLE:
            stream.entropy = round(entropy_bits(sample), 3)
            stream.entropy_bytes = len(sample)
        stream.sample = None
        self.sampling -= 1

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

    def _dtls(self, state: _FlowMedia, datagram: Datagram) -> None:
        records = dtls_records(datagram.payload, unified=state.dtls is not None)
        if records is None:
            state.other += 1
            return
        dtls = state.dtls
        if dtls is None:
            dtls = state.dtls = _Dtls()
        for record in records:
            dtls.records[DTLS_CONTENT_TYPES.get(record.content_type, "other")] += 1
            if len(dtls.versions) < 4:
                dtls.versions.add(record.version)
            if record.epoch:
                dtls.later_epoch[datagram.direction] = True
            if record.content_type == 21:
                dtls.alerts += 1
            if record.content_type == 22 and not record.epoch:
                self._handshake(dtls, record.body)

    @staticmethod
    def _handshake(dtls: _Dtls, body: bytes) -> None:
        """Each handshake message of a cleartext record (RFC 6347 §4.2.2: a 12-byte
        header, then the fragment)."""
        offset = 0
        while offset + 12 <= len(body):
            fragment = int.from_bytes(body[offset + 9 : offset + 12], "big")
            message = body[offset : offset + 12 + fragment]
            dtls.handshake[HANDSHAKE_TYPES.get(message[0], "other")] += 1
            hello = dtls_hello(message)
            if hello is not None and hello.kind == "client_hello" and hello.srtp_profiles:
                dtls.offered = hello.srtp_profiles
            elif hello is not None and hello.srtp_profiles:
                dtls.chosen = hello.srtp_profiles[0]
            offset += 12 + fragment

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
            self._fold_sample(stream)
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
            _stream_seen(flow, stream)
            for stream in sorted(state.streams.values(), key=lambda s: s.first_frame)
        )
        kind, reason = _flow_kind(streams, state)
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
            dtls=_dtls_seen(state.dtls),
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
            not_sampled=self.not_sampled,
        )


def _counts(counter: Counter[str]) -> tuple[Count, ...]:
    return tuple(Count(name, count) for name, count in counter.most_common())


def _dtls_seen(dtls: _Dtls | None) -> DtlsSeen | None:
    if dtls is None:
        return None
    return DtlsSeen(
        records=_counts(dtls.records),
        handshake=_counts(dtls.handshake),
        versions=tuple(sorted(dtls.versions)),
        offered_profiles=dtls.offered,
        chosen_profile=dtls.chosen,
        alerts=dtls.alerts,
        encrypted_both_ways=all(dtls.later_epoch),
    )


def _stream_seen(flow: Flow, stream: _Stream) -> RtpStreamSeen:
    source, destination = flow.endpoints(stream.direction)
    trailing, measured = _trailing(stream.trailing or Counter())
    auth = stream.auth
    seen = RtpStreamSeen(
        source=source,
        destination=destination,
        ssrc=stream.ssrc,
        packets=stream.packets,
        first_frame=stream.first_frame,
        last_frame=stream.last_frame,
        payload_types=tuple(
            Count(str(pt), count) for pt, count in stream.payload_types.most_common(8)
        ),
        in_order=stream.in_order,
        lost=stream.lost,
        duplicates=stream.duplicates,
        late=stream.late,
        jumps=stream.jumps,
        cut=stream.cut,
        entropy=stream.entropy,
        entropy_bytes=stream.entropy_bytes,
        first_byte_values=stream.first_bytes.bit_count(),
        first_byte_packets=stream.first_byte_packets,
        trailing_bytes=trailing,
        trailing_measured=measured,
        key_source=" and ".join(sorted(auth.sources)) if auth is not None else None,
        suite=auth.suite if auth is not None else None,
        authenticated=auth.authenticated if auth is not None else 0,
        auth_failed=auth.failed if auth is not None else 0,
        replayed=auth.replayed if auth is not None else 0,
        not_checked=stream.not_checked,
        auth_problem=auth.problem if auth is not None and not auth.usable else None,
    )
    kind, reason, encrypted = classify_stream(seen)
    return replace(seen, kind=kind, reason=reason, encrypted=encrypted)


def _trailing(counts: Counter[int]) -> tuple[int | None, int]:
    """The bytes most packets had beyond the codec's frame, if enough agree."""
    measured = sum(counts.values())
    if not measured:
        return None, 0
    value, count = counts.most_common(1)[0]
    if value < 0 or count < 2 or count < TAG_SHARE * measured:
        return None, measured
    return value, measured


def _structured(stream: RtpStreamSeen) -> bool | None:
    """Whether the payload's first byte takes far fewer values than ciphertext's would."""
    if stream.first_byte_packets < 8:
        return None
    return stream.first_byte_values < expected_distinct(stream.first_byte_packets) / 2


def classify_stream(stream: RtpStreamSeen) -> tuple[StreamKind, str, bool | None]:
    """What a stream is (`rtp`, `srtp` or `unclassified`), why, and for SRTP whether
    its payload is ciphertext."""
    if stream.authenticated:
        return (
            "srtp",
            f"{stream.authenticated} packets authenticated with the {stream.suite} key "
            f"from the {stream.key_source}",
            None if stream.entropy is None else stream.entropy >= PLAIN_BITS,
        )
    if stream.packets < MIN_PACKETS:
        return "unclassified", f"only {stream.packets} RTP packet(s): too few to tell", None
    entropy = stream.entropy
    entropy_text = f"payload entropy {entropy:.2f} bits/byte" if entropy is not None else ""
    tag = stream.trailing_bytes
    if tag == 0:
        if entropy is not None and entropy >= CIPHERTEXT_BITS:
            return (
                "unclassified",
                f"{entropy_text}, like ciphertext, but no authentication tag follows the "
                "codec's frame",
                None,
            )
        return (
            "rtp",
            "the payload is exactly the codec's frame, with no authentication tag "
            "(RFC 3711 §3.1)" + (f"; {entropy_text}" if entropy_text else ""),
            None,
        )
    if tag is not None and entropy is None:
        missing = "the snap length cut the payload" if stream.cut else "too little payload"
        return (
            "unclassified",
            f"{tag} bytes follow the codec's frame, as an SRTP tag would, but {missing} to "
            "tell whether it is encrypted",
            None,
        )
    if tag is not None:
        encrypted = entropy is not None and entropy >= PLAIN_BITS
        clear = "; the payload is not encrypted" if encrypted is False else ""
        return (
            "srtp",
            f"{tag} bytes follow the codec's frame in {stream.trailing_measured} packets: an "
            f"authentication tag (RFC 3711 §3.1)" + (f"; {entropy_text}" if entropy_text else "")
            + clear,
            encrypted,
        )  # fmt: skip
    if entropy is None:
        if stream.cut:
            return "unclassified", "packets cut by the snap length before their payload", None
        return "unclassified", "too little payload to measure", None
    structured = _structured(stream)
    values = stream.first_byte_values
    variety = (
        f"its first byte took {values} value{'' if values == 1 else 's'} in "
        f"{stream.first_byte_packets} packets"
    )
    if entropy >= CIPHERTEXT_BITS and structured is False:
        return "srtp", f"{entropy_text} and {variety}, as ciphertext does", True
    if entropy < PLAIN_BITS:
        return "rtp", f"{entropy_text}: a codec's output, not ciphertext", None
    if structured:
        return "rtp", f"{entropy_text}, but {variety}: a codec's own framing in the clear", None
    return "unclassified", f"{entropy_text}: neither clearly ciphertext nor a codec's", None


def _flow_kind(streams: tuple[RtpStreamSeen, ...], state: _FlowMedia) -> tuple[MediaKind, str]:
    plain = [stream for stream in streams if stream.kind == "rtp"]
    secure = [stream for stream in streams if stream.kind == "srtp"]
    if plain:
        return "rtp", f"plain RTP from {plain[0].source} (SSRC {plain[0].ssrc:#010x}): " + (
            plain[0].reason
        )
    if state.dtls is not None:
        chosen = state.dtls.chosen
        return "dtls-srtp", "DTLS records on the media port" + (
            f"; the handshake chose {chosen}" if chosen else ""
        )
    if secure:
        return "srtp", secure[0].reason
    if not streams and state.rtcp_protected:
        return "srtp", f"{state.rtcp_protected} SRTCP packet(s) (RFC 3711 §3.4), no RTP"
    if not streams and state.rtcp_plain:
        return "rtp", f"{state.rtcp_plain} plain RTCP packet(s) (RFC 3550 §6), no RTP"
    if streams:
        return "unclassified", streams[0].reason
    if state.stun or state.zrtp:
        return "unclassified", "STUN or ZRTP only: no media followed"
    return "unclassified", "no RTP packet seen on it"
