"""Media packets for the pcap media tests, built here: RTP with struct (RFC 3550 §5.1),
G.711 µ-law of a tone (ITU-T G.711's segment encoding), SRTP protected by libsrtp,
DTLS records (RFC 6347 §4.1) and SIP messages carrying SDP."""

from __future__ import annotations

import base64
import math
import os
import struct
from collections.abc import Iterator

import pylibsrtp

from tests.pcap.frames import sip_request, udp_frame

CALLER, CALLEE = "192.0.2.10", "192.0.2.20"
CALLER_PORT, CALLEE_PORT = 40000, 50000
CALLER_KEY = base64.b64encode(bytes(range(1, 31))).decode()
CALLEE_KEY = base64.b64encode(bytes(range(101, 131))).decode()
GCM_KEY = base64.b64encode(bytes(range(201, 229))).decode()  # RFC 7714 §12: 16 + 12 bytes

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
}


def ulaw(sample: int) -> int:
    """One 16-bit linear sample as a G.711 µ-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def tone(samples: int, start: int = 0, frequency: float = 440.0) -> bytes:
    """`samples` of a tone at 8 kHz, µ-law: a plain G.711 payload."""
    return bytes(
        ulaw(int(8000 * math.sin(2 * math.pi * frequency * (start + n) / 8000)))
        for n in range(samples)
    )


def rtp(sequence: int, timestamp: int, ssrc: int, payload: bytes, payload_type: int = 0) -> bytes:
    header = struct.pack(
        "!BBHII", 0x80, payload_type, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
    )
    return header + payload


def g711_stream(count: int, ssrc: int = 0x1234ABCD, first_sequence: int = 100) -> Iterator[bytes]:
    """`count` packets of 20 ms of PCMU."""
    for n in range(count):
        yield rtp(first_sequence + n, n * 160, ssrc, tone(160, n * 160))


def protector(key: str, suite: str = "AES_CM_128_HMAC_SHA1_80") -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(
        key=base64.b64decode(key),
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=PROFILES[suite],
    )
    return pylibsrtp.Session(policy=policy)


def srtp_stream(
    count: int, key: str, ssrc: int = 0x5EC0DE01, suite: str = "AES_CM_128_HMAC_SHA1_80"
) -> list[bytes]:
    session = protector(key, suite)
    return [session.protect(packet) for packet in g711_stream(count, ssrc)]


def media_frames(
    packets: list[bytes],
    src: str = CALLER,
    sport: int = CALLER_PORT,
    dst: str = CALLEE,
    dport: int = CALLEE_PORT,
) -> list[bytes]:
    return [udp_frame(src, sport, dst, dport, packet) for packet in packets]


def sdp(
    address: str,
    port: int,
    proto: str = "RTP/AVP",
    key: str | None = None,
    suite: str = "AES_CM_128_HMAC_SHA1_80",
    extra: str = "",
) -> bytes:
    lines = [
        "v=0",
        f"o=- 1 1 IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} {proto} 0",
        "a=rtpmap:0 PCMU/8000",
    ]
    if key is not None:
        lines.append(f"a=crypto:1 {suite} inline:{key}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n").encode()


def invite(body: bytes, call_id: str = "media-call") -> bytes:
    return sip_request(
        "INVITE", call_id=call_id, body=body, content_type="application/sdp", host=CALLEE
    )


def ok(body: bytes, call_id: str = "media-call", method: str = "INVITE") -> bytes:
    return (
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
        f"To: <sip:bob@{CALLEE}>;tag=a6c85cf\r\n"
        "From: <sip:alice@192.0.2.10>;tag=1928301774\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def call_setup(
    offer_proto: str = "RTP/AVP",
    answer_proto: str | None = None,
    *,
    offer_key: str | None = None,
    answer_key: str | None = None,
    suite: str = "AES_CM_128_HMAC_SHA1_80",
) -> list[bytes]:
    """An INVITE with an offer for CALLER:CALLER_PORT and its 200 with an answer for
    CALLEE:CALLEE_PORT, over UDP port 5060."""
    offer = sdp(CALLER, CALLER_PORT, offer_proto, offer_key, suite)
    answer = sdp(CALLEE, CALLEE_PORT, answer_proto or offer_proto, answer_key, suite)
    return [
        udp_frame(CALLER, 5060, CALLEE, 5060, invite(offer)),
        udp_frame(CALLEE, 5060, CALLER, 5060, ok(answer)),
    ]


# -- DTLS -------------------------------------------------------------------------------


def dtls_record(content_type: int, body: bytes, epoch: int = 0, sequence: int = 0) -> bytes:
    return (
        struct.pack("!BHH", content_type, 0xFEFD, epoch)
        + sequence.to_bytes(6, "big")
        + struct.pack("!H", len(body))
        + body
    )


def _handshake(kind: int, message: bytes, sequence: int = 0) -> bytes:
    length = len(message).to_bytes(3, "big")
    return bytes([kind]) + length + struct.pack("!H", sequence) + bytes(3) + length + message


def _use_srtp(profiles: list[int]) -> bytes:
    listed = struct.pack(f"!H{len(profiles)}H", 2 * len(profiles), *profiles) + b"\x00"
    return struct.pack("!HH", 14, len(listed)) + listed


def client_hello(profiles: list[int]) -> bytes:
    extensions = _use_srtp(profiles)
    message = (
        struct.pack("!H", 0xFEFD)
        + os.urandom(32)
        + b"\x00"  # session id
        + b"\x00"  # cookie
        + struct.pack("!HH", 2, 0xC02B)  # one cipher suite
        + b"\x01\x00"  # null compression
        + struct.pack("!H", len(extensions))
        + extensions
    )
    return dtls_record(22, _handshake(1, message))


def server_hello(profile: int) -> bytes:
    extensions = _use_srtp([profile])
    message = (
        struct.pack("!H", 0xFEFD)
        + os.urandom(32)
        + b"\x00"
        + struct.pack("!H", 0xC02B)
        + b"\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    return dtls_record(22, _handshake(2, message, 1)) + dtls_record(
        22, _handshake(14, b"", 2), sequence=1
    )


def change_cipher_spec_and_finished() -> bytes:
    return dtls_record(20, b"\x01", sequence=2) + dtls_record(22, os.urandom(40), epoch=1)
