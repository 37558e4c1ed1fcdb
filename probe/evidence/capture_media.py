"""Evidence of a capture's media (`CaptureEvidence.media`): each RTP-like UDP flow, what
its packets showed, and what the SDP that set it up said, as plain data.

A flow is classified from what can be seen without keys (RFC 3550 §5.1 header fields,
sequence continuity, payload entropy, the bytes that trail a fixed-rate codec's frame,
DTLS records on the port) and, when keys were held, from SRTP authentication. Keys are
never part of it: an SDP line is kept as its profile and crypto suites; a key file is
named, never quoted. Bounded like the rest of the capture's evidence: lists keep their
first entries, counts stand for the rest (`omitted` keeps what judging them needs).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from probe.evidence.capture_counts import Count

__all__ = [
    "OUTCOMES",
    "DtlsSeen",
    "MediaCapture",
    "MediaFlow",
    "MediaKind",
    "Outcome",
    "RtpStreamSeen",
    "SdpMedia",
    "StreamKind",
]

MediaKind = Literal["rtp", "srtp", "dtls-srtp", "unclassified"]
StreamKind = Literal["rtp", "srtp", "unclassified"]
Outcome = Literal[
    "rtp on a secure profile",
    "srtp not authenticated",
    "rtp",
    "unclassified",
    "srtp partly authenticated",
    "srtp not encrypted",
    "rtcp in the clear",
    "dtls handshake incomplete",
    "srtp",
    "dtls-srtp",
]
"""What a media flow amounts to, worst first: plain RTP where SRTP was negotiated; SRTP
that none of the keys held authenticates; plain RTP; a flow (or a stream of it) that
could not be classified; SRTP some of whose packets failed authentication; SRTP whose
payload is not encrypted; RTCP in the clear (beside SRTP, or alone: it carries no
media, but names the endpoints, RFC 3550 §6.5.1); a DTLS handshake that never
completed; SRTP; DTLS-SRTP."""
OUTCOMES: tuple[Outcome, ...] = typing.get_args(Outcome)


@dataclass(frozen=True, slots=True)
class RtpStreamSeen:
    """One RTP stream (one SSRC, one direction) of a media flow."""

    source: str
    destination: str
    ssrc: int
    packets: int
    first_frame: int
    last_frame: int
    payload_types: tuple[Count, ...] = ()
    """Packets by RTP payload type (RFC 3551 §6 for the static ones)."""
    in_order: int = 0
    """Packets whose sequence number followed the previous one's (RFC 3550 §5.1)."""
    lost: int = 0
    """Sequence numbers skipped."""
    duplicates: int = 0
    late: int = 0
    """Packets older than one already seen (reordered)."""
    jumps: int = 0
    """Discontinuities too large to be loss (a restarted sender)."""
    cut: int = 0
    """Packets the capture cut short (a snap length)."""
    entropy: float | None = None
    """Bits of entropy per byte of payload sampled (ciphertext is close to 8)."""
    entropy_bytes: int = 0
    """Payload bytes the entropy was measured on."""
    first_byte_values: int = 0
    """Distinct values of the payload's first byte, over `first_byte_packets` packets:
    a codec's own framing (an Opus TOC byte, a NAL header) takes few, ciphertext many."""
    first_byte_packets: int = 0
    trailing_bytes: int | None = None
    """Bytes after a fixed-rate codec's frame, the same in most packets: an SRTP
    authentication tag (RFC 3711 §3.1: 10 or 4 bytes with HMAC-SHA1; RFC 7714 §5: 16
    with AES-GCM), 0 for plain RTP; None when not measured."""
    trailing_measured: int = 0
    kind: StreamKind = "unclassified"
    reason: str = ""
    """Why it is that kind, in a phrase."""
    encrypted: bool | None = None
    """For SRTP: whether the payload is ciphertext (False: authenticated only)."""
    key_source: str | None = None
    """Where the keys tried on it came from: `SDP in the capture` (SDES in cleartext
    SIP), `key file`, or both; None when none was held."""
    suite: str | None = None
    """The suite of the key that authenticated it (or of the first tried)."""
    authenticated: int = 0
    auth_failed: int = 0
    """Packets that no key held for this stream authenticated."""
    replayed: int = 0
    """Packets libsrtp refused as replays (captured twice, or older than its window)."""
    not_checked: int = 0
    """Packets not tried: cut short, or seen before any key for them."""
    auth_problem: str | None = None
    """Why no packet could be tried (the srtp extra missing, a suite libsrtp lacks)."""


@dataclass(frozen=True, slots=True)
class DtlsSeen:
    """DTLS on a media flow (RFC 5764: DTLS-SRTP keys its SRTP)."""

    records: tuple[Count, ...]
    """Records by content type (RFC 6347 §4.1)."""
    handshake: tuple[Count, ...] = ()
    """Cleartext handshake messages by type."""
    versions: tuple[str, ...] = ()
    offered_profiles: tuple[str, ...] = ()
    """SRTP protection profiles in the ClientHello's use_srtp (RFC 5764 §4.1.1)."""
    chosen_profile: str | None = None
    """The one the ServerHello chose."""
    alerts: int = 0
    """Alert records (in the clear in epoch 0, encrypted after)."""
    encrypted_both_ways: bool = False
    """Records of a later epoch went both ways: the handshake completed."""


@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One m= line of an SDP body seen in cleartext SIP, as far as a media flow goes:
    where media was to go and how. Never its key: only the suites."""

    frame: int
    message: str
    """`INVITE`, `200 (INVITE)`, ..."""
    call_id: str | None
    role: Literal["offer", "answer"]
    endpoint: str
    """The c= address and the m= port."""
    media: str
    proto: str
    """`RTP/AVP`, `RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`, ..."""
    formats: tuple[str, ...] = ()
    crypto_suites: tuple[str, ...] = ()
    fingerprint: bool = False
    """An `a=fingerprint` for DTLS-SRTP (RFC 8122)."""

    @property
    def secure(self) -> bool:
        """A profile that promises SRTP: …/SAVP, …/SAVPF (RFC 3711 §12, RFC 5124), or
        DTLS-SRTP's UDP/TLS/RTP/… (RFC 5764 §8)."""
        parts = self.proto.upper().split("/")
        return parts[-1] in ("SAVP", "SAVPF") or "TLS" in parts or "DTLS" in parts


@dataclass(frozen=True, slots=True)
class MediaFlow:
    """One UDP flow that carried media (or that an SDP said would)."""

    client: str
    server: str
    first_frame: int
    first_time: float
    last_time: float
    packets: int
    bytes: int
    kind: MediaKind
    reason: str
    streams: tuple[RtpStreamSeen, ...] = ()
    streams_omitted: int = 0
    """Packets of further SSRCs, beyond the streams kept."""
    rtcp_plain: int = 0
    """RTCP compound packets in the clear (RFC 3550 §6)."""
    rtcp_protected: int = 0
    """RTCP packets that are not plain compounds: SRTCP (RFC 3711 §3.4)."""
    stun: int = 0
    zrtp: int = 0
    other: int = 0
    """Datagrams that are none of RTP, RTCP, DTLS, STUN or ZRTP (RFC 7983)."""
    dtls: DtlsSeen | None = None
    offer: SdpMedia | None = None
    answer: SdpMedia | None = None
    ended: str = "capture_end"

    @property
    def label(self) -> str:
        return f"udp {self.client} ↔ {self.server}"

    @property
    def negotiated(self) -> SdpMedia | None:
        """What was agreed: the answer when it was seen, else the one SDP seen."""
        return self.answer or self.offer

    @property
    def outcome(self) -> Outcome:
        """What the flow amounts to, the worst thing first (see `OUTCOMES`)."""
        negotiated = self.negotiated
        streams = self.streams
        if any(s.kind == "rtp" for s in streams):
            return "rtp on a secure profile" if negotiated and negotiated.secure else "rtp"
        if any(s.kind == "srtp" and s.auth_failed and not s.authenticated for s in streams):
            return "srtp not authenticated"
        if self.kind == "unclassified" or any(s.kind == "unclassified" for s in streams):
            return "unclassified"
        if any(s.kind == "srtp" and s.auth_failed for s in streams):
            return "srtp partly authenticated"
        if any(s.encrypted is False for s in streams):
            return "srtp not encrypted"
        if self.rtcp_plain:
            return "rtcp in the clear"
        dtls = self.dtls
        if self.kind == "dtls-srtp" and dtls is not None and not dtls.encrypted_both_ways:
            return "dtls handshake incomplete"
        return "dtls-srtp" if self.kind == "dtls-srtp" else "srtp"


@dataclass(frozen=True, slots=True)
class MediaCapture:
    """Every media flow of the capture: what `pcap.media` judges."""

    flows: tuple[MediaFlow, ...] = ()
    flows_omitted: int = 0
    omitted: tuple[Count, ...] = ()
    """The flows beyond `flows`, by outcome (`rtp`, `rtp on a secure profile`, `srtp`,
    `srtp not authenticated`, `dtls-srtp`, `unclassified`), so they are judged too."""
    kinds: tuple[Count, ...] = ()
    """Every media flow by kind."""
    unconfirmed: int = 0
    """UDP flows with an RTP-looking datagram or two that never formed a stream and that
    no SDP named: not taken for media."""
    sdp_media: int = 0
    """m= lines seen in cleartext SDP."""
    sdp_unseen: tuple[SdpMedia, ...] = ()
    """m= lines (port not 0) whose media is nowhere in the capture."""
    sdp_unseen_total: int = 0
    """How many, among the first `CaptureLimits.max_listed` offer/answer exchanges."""
    sdp_keys: int = 0
    """SDES keys seen in cleartext SDP: held while auditing to authenticate SRTP, never
    written anywhere."""
    key_file: str | None = None
    """The key file given (`--srtp-keys`), by name."""
    file_keys: int = 0
    expect_srtp: bool = False
    """The audit was asked to hold every media flow to SRTP (`--expect-srtp`)."""
    auth_unavailable: str | None = None
    """Why keys held could not be used at all (the srtp extra is not installed)."""
    not_sampled: int = 0
    """Streams whose payload was not sampled because too many were sampled at once."""
