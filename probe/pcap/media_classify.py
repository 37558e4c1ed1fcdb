"""How a media flow is classified, from the summary of its streams (probe.pcap.media_audit
gathers it): pure functions of the evidence, with the thresholds they use.

A stream authenticated with a key is SRTP. Otherwise, for a fixed-rate codec, the bytes
that trail its frame decide (RFC 3711 §3.1: SRTP appends its authentication tag, plain
RTP nothing), the payload's entropy saying whether what precedes the tag is encrypted;
for other payloads the entropy and the variety of the payload's first byte decide
together: ciphertext has close to 8 bits a byte and a first byte that takes as many
values as random bytes would, a codec's output in the clear has less of one or the
other (an Opus TOC byte, a NAL header, silence). What fits neither is unclassified.
"""

from __future__ import annotations

from collections import Counter

from probe.evidence.capture_media import DtlsSeen, MediaKind, RtpStreamSeen, StreamKind
from probe.pcap.rtp import expected_distinct

__all__ = [
    "CIPHERTEXT_BITS",
    "MIN_PACKETS",
    "MIN_SAMPLE",
    "PLAIN_BITS",
    "TAG_SHARE",
    "classify_stream",
    "flow_kind",
    "trailing_bytes",
]

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


_NO_SAMPLE = "too little payload was sampled (or too many streams were sampled at once)"


def trailing_bytes(counts: Counter[int]) -> tuple[int | None, int]:
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
        missing = "the snap length cut the payload" if stream.cut else _NO_SAMPLE
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
        return "unclassified", _NO_SAMPLE + " to measure", None
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


def flow_kind(
    streams: tuple[RtpStreamSeen, ...], dtls: DtlsSeen | None, rtcp: tuple[int, int], others: int
) -> tuple[MediaKind, str]:
    """What a flow is, from its streams, its DTLS, its RTCP (plain, protected) and how
    many STUN or ZRTP packets it had; and why, in a phrase."""
    rtcp_plain, rtcp_protected = rtcp
    plain = [stream for stream in streams if stream.kind == "rtp"]
    secure = [stream for stream in streams if stream.kind == "srtp"]
    if plain:
        return "rtp", f"plain RTP from {plain[0].source} (SSRC {plain[0].ssrc:#010x}): " + (
            plain[0].reason
        )
    if dtls is not None:
        chosen = dtls.chosen_profile
        return "dtls-srtp", "DTLS records on the media port" + (
            f"; the handshake chose {chosen}" if chosen else ""
        )
    if secure:
        return "srtp", secure[0].reason
    if not streams and rtcp_protected:
        return "srtp", f"{rtcp_protected} SRTCP packet(s) (RFC 3711 §3.4), no RTP"
    if not streams and rtcp_plain:
        return "rtp", f"{rtcp_plain} plain RTCP packet(s) (RFC 3550 §6), no RTP"
    if streams:
        return "unclassified", streams[0].reason
    if others:
        return "unclassified", "STUN or ZRTP only: no media followed"
    return "unclassified", "no RTP packet seen on it"
