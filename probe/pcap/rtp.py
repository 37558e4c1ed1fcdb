"""What a datagram on a media port is: RTP, RTCP, DTLS, STUN or ZRTP, told apart by its
first byte (RFC 7983 §7) and read just far enough to be counted and judged.

Pure and small: struct over bytes, nothing kept. The classification of a whole flow
(probe.pcap.media_audit) is built from these pieces and from two measures of a payload
defined here: its byte entropy and how many values its first byte takes.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DTLS_CONTENT_TYPES",
    "HANDSHAKE_TYPES",
    "SRTP_PROTECTION_PROFILES",
    "DtlsHello",
    "DtlsRecord",
    "RtpHeader",
    "codec_frame_bytes",
    "demultiplex",
    "dtls_hello",
    "dtls_records",
    "entropy_bits",
    "expected_distinct",
    "is_rtcp",
    "is_zrtp",
    "read_rtp",
    "rtcp_is_plain",
    "stun_message",
]

# RFC 7983 §7: the first byte of a packet on a port shared by these protocols.
_STUN = range(0, 4)
_ZRTP = range(16, 20)
_DTLS = range(20, 64)
_TURN_CHANNEL = range(64, 80)
_RTP = range(128, 192)


def demultiplex(payload: bytes) -> str:
    """`stun`, `zrtp`, `dtls`, `turn`, `rtp` (RTP or RTCP) or `other`, by the first byte."""
    if not payload:
        return "other"
    first = payload[0]
    if first in _RTP:
        return "rtp"
    if first in _DTLS:
        return "dtls"
    if first in _STUN:
        return "stun"
    if first in _ZRTP:
        return "zrtp"
    if first in _TURN_CHANNEL:
        return "turn"
    return "other"


class RtpHeader(NamedTuple):
    """The fixed RTP header (RFC 3550 §5.1) and where the payload starts (a tuple: one
    is made for every packet of every stream)."""

    version: int
    padding: bool
    extension: bool
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    header_length: int
    """12 bytes, the CSRC list, and the header extension (RFC 3550 §5.3.1)."""


_FIXED = struct.Struct("!BBHII")


def read_rtp(payload: bytes) -> RtpHeader | None:
    """The RTP header of `payload`, or None when it is not one: version 2, and the CSRC
    list and any header extension within the captured bytes."""
    if len(payload) < 12:
        return None
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(payload)
    if first >> 6 != 2:
        return None
    length = 12 + 4 * (first & 0x0F)
    extension = bool(first & 0x10)
    if extension:
        if len(payload) < length + 4:
            return None
        (words,) = struct.unpack_from("!H", payload, length + 2)
        length += 4 + 4 * words
    if length > len(payload):
        return None
    return RtpHeader(
        2,
        bool(first & 0x20),
        extension,
        bool(second & 0x80),
        second & 0x7F,
        sequence,
        timestamp,
        ssrc,
        length,
    )


def is_rtcp(payload: bytes) -> bool:
    """Whether an RTP-range packet is RTCP: packet types 192-223 in the second byte
    (RFC 5761 §4, the rule for RTP and RTCP on one port)."""
    return len(payload) >= 8 and 192 <= payload[1] <= 223


def rtcp_is_plain(payload: bytes) -> bool:
    """Whether an RTCP datagram is a plain compound packet: every packet's length field
    (RFC 3550 §6.4.1, 32-bit words minus one) leads exactly to the next, up to the end.
    SRTCP (RFC 3711 §3.4) encrypts all but the first header and appends the E flag, the
    index and the authentication tag, so its walk never ends exactly at the end."""
    offset = 0
    size = len(payload)
    while offset + 4 <= size:
        if payload[offset] >> 6 != 2 or not 192 <= payload[offset + 1] <= 223:
            return False
        (words,) = struct.unpack_from("!H", payload, offset + 2)
        offset += 4 * (words + 1)
    return offset == size


# RFC 3551 §6 (static payload types), RFC 3550 §5.1 (the timestamp counts sampling
# instants): payload bytes per timestamp unit for the codecs whose frame size follows
# from the time it covers. (bytes, per ticks)
_FIXED_RATE: dict[int, tuple[int, int]] = {
    0: (1, 1),  # PCMU, 8 bits a sample at 8 kHz
    8: (1, 1),  # PCMA
    9: (1, 1),  # G722: 64 kbit/s, its RTP clock 8000 (RFC 3551 §4.5.2)
    2: (1, 2),  # G721 / G726-32: 4 bits a sample
    3: (33, 160),  # GSM full rate: 33 bytes per 20 ms frame
    10: (4, 1),  # L16 stereo: two 16-bit samples per instant
    11: (2, 1),  # L16 mono
    15: (1, 4),  # G728: 16 kbit/s at 8 kHz
    18: (10, 80),  # G729: 10 bytes per 10 ms frame
}


def codec_frame_bytes(payload_type: int, ticks: int) -> int | None:
    """Payload bytes a fixed-rate codec produces for `ticks` of timestamp, or None when
    the payload type's size does not follow from time (dynamic types, CN, video)."""
    rate = _FIXED_RATE.get(payload_type)
    if rate is None or ticks <= 0:
        return None
    size, per = rate
    if ticks % per:
        return None
    return ticks // per * size


def entropy_bits(sample: bytes | bytearray) -> float:
    """Bits of entropy per byte of `sample`, Miller–Madow corrected: the plug-in
    estimate falls short by about (K − 1) / 2N nats on N bytes with K distinct values,
    which would make a few hundred bytes of ciphertext look less random than they are."""
    total = len(sample)
    if not total:
        return 0.0
    counts = Counter(sample)
    plug_in = -sum(count / total * math.log2(count / total) for count in counts.values())
    correction = (len(counts) - 1) / (2 * total * math.log(2))
    return min(8.0, plug_in + correction)


def expected_distinct(draws: int) -> float:
    """How many distinct values `draws` uniformly random bytes take, on average."""
    return 256 * (1 - (255 / 256) ** draws)


# -- DTLS (RFC 6347 §4.1; RFC 9147 for 1.3) ---------------------------------------------

DTLS_CONTENT_TYPES = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
}
_DTLS_VERSIONS = {0xFEFF: "DTLS 1.0", 0xFEFD: "DTLS 1.2", 0xFEFC: "DTLS 1.3"}
_RECORD = struct.Struct("!BHHxxxxxxH")
"""type, version, epoch, sequence number (48 bits, skipped), length."""


@dataclass(frozen=True, slots=True)
class DtlsRecord:
    content_type: int
    version: str
    epoch: int
    body: bytes
    """As captured (shorter than the record when the capture cut it)."""


def dtls_records(payload: bytes, *, unified: bool = False) -> list[DtlsRecord] | None:
    """The DTLS records of a datagram (several may share one), or None when its first
    record is not DTLS. With `unified` (a flow whose DTLS handshake was seen), RFC 9147
    §4's unified header (first bits 001, DTLS 1.3's encrypted records) is read as one
    application_data record of epoch 3 or more; alone it proves nothing (ASCII digits and
    `<` start with those bits too)."""
    records: list[DtlsRecord] = []
    offset = 0
    while offset < len(payload):
        first = payload[offset]
        if unified and first >> 5 == 1:  # RFC 9147 §4: 001CSLEE, the rest of the datagram
            records.append(DtlsRecord(23, "DTLS 1.3", 3, payload[offset:]))
            break
        if len(payload) - offset < _RECORD.size:
            break
        content_type, version, epoch, length = _RECORD.unpack_from(payload, offset)
        name = _DTLS_VERSIONS.get(version)
        if content_type not in DTLS_CONTENT_TYPES or name is None:
            break
        start = offset + _RECORD.size
        records.append(DtlsRecord(content_type, name, epoch, payload[start : start + length]))
        offset = start + length
    return records or None


# RFC 5764 §4.1.2 and RFC 7714 §14.2: SRTP protection profiles of the use_srtp extension.
SRTP_PROTECTION_PROFILES = {
    0x0001: "SRTP_AES128_CM_HMAC_SHA1_80",
    0x0002: "SRTP_AES128_CM_HMAC_SHA1_32",
    0x0005: "SRTP_NULL_HMAC_SHA1_80",
    0x0006: "SRTP_NULL_HMAC_SHA1_32",
    0x0007: "SRTP_AEAD_AES_128_GCM",
    0x0008: "SRTP_AEAD_AES_256_GCM",
}
HANDSHAKE_TYPES = {
    0: "hello_request",
    1: "client_hello",
    2: "server_hello",
    3: "hello_verify_request",
    4: "new_session_ticket",
    11: "certificate",
    12: "server_key_exchange",
    13: "certificate_request",
    14: "server_hello_done",
    15: "certificate_verify",
    16: "client_key_exchange",
    20: "finished",
}
_USE_SRTP = 14


@dataclass(frozen=True, slots=True)
class DtlsHello:
    """What a ClientHello or ServerHello says about SRTP (RFC 5764 §4.1.1)."""

    kind: str
    """`client_hello` or `server_hello`."""
    srtp_profiles: tuple[str, ...]
    """Offered (ClientHello) or chosen (ServerHello, one)."""


def _profile_name(value: int) -> str:
    return SRTP_PROTECTION_PROFILES.get(value, f"0x{value:04x}")


def dtls_hello(body: bytes) -> DtlsHello | None:
    """The use_srtp extension of a handshake record's ClientHello or ServerHello, when the
    record holds the whole message (RFC 6347 §4.2.2: fragment offset 0, fragment length
    equal to the message's); None otherwise."""
    if len(body) < 12 or body[0] not in (1, 2):
        return None
    kind = "client_hello" if body[0] == 1 else "server_hello"
    length = int.from_bytes(body[1:4], "big")
    offset, fragment = int.from_bytes(body[6:9], "big"), int.from_bytes(body[9:12], "big")
    message = body[12 : 12 + length]
    if offset or fragment != length or len(message) != length:
        return None
    try:
        return DtlsHello(kind, _hello_profiles(message, kind == "client_hello"))
    except (IndexError, struct.error):
        return DtlsHello(kind, ())


def _hello_profiles(message: bytes, client: bool) -> tuple[str, ...]:
    at = 2 + 32  # version, random
    at += 1 + message[at]  # session id
    if client:
        at += 1 + message[at]  # cookie (RFC 6347 §4.2.1)
        (suites,) = struct.unpack_from("!H", message, at)
        at += 2 + suites
        at += 1 + message[at]  # compression methods
    else:
        at += 2 + 1  # cipher suite, compression method
    if at + 2 > len(message):
        return ()
    (total,) = struct.unpack_from("!H", message, at)
    at += 2
    end = min(len(message), at + total)
    while at + 4 <= end:
        kind, size = struct.unpack_from("!HH", message, at)
        at += 4
        if kind == _USE_SRTP:
            (listed,) = struct.unpack_from("!H", message, at)
            values = struct.unpack_from(f"!{listed // 2}H", message, at + 2)
            return tuple(_profile_name(value) for value in values)
        at += size
    return ()


# -- STUN (RFC 8489 §5) ----------------------------------------------------------------

_MAGIC_COOKIE = 0x2112A442
_STUN_CLASSES = ("request", "indication", "success", "error")


def stun_message(payload: bytes, wire_length: int) -> str | None:
    """`request`, `indication`, `success` or `error` for a STUN message (its first two
    bits zero, the magic cookie, a length that fills the datagram of `wire_length`
    bytes), or None."""
    if len(payload) < 20 or payload[0] >> 6:
        return None
    kind, length, cookie = struct.unpack_from("!HHI", payload)
    if cookie != _MAGIC_COOKIE or length % 4 or 20 + length != wire_length:
        return None
    return _STUN_CLASSES[((kind >> 7) & 0x2) | ((kind >> 4) & 0x1)]


def is_zrtp(payload: bytes) -> bool:
    """A ZRTP packet (RFC 6189 §5): first byte 0x10 and the `ZRTP` magic cookie."""
    return len(payload) >= 12 and payload[0] == 0x10 and payload[4:8] == b"ZRTP"
