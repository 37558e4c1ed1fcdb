"""Frames and capture files for the pcap tests, built with struct (fast enough for a
million of them) and, where an independent builder matters, with scapy."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from probe.evidence.capture import CaptureEvidence, CaptureSource
from probe.pcap.analyses import build_analyses
from probe.pcap.analysis import AuditLimits
from probe.pcap.audit import CaptureAudit

MAC = b"\x02\x00\x00\x00\x00\x01"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ipv4(address: str) -> bytes:
    return ipaddress.IPv4Address(address).packed


def ipv4_header(src: str, dst: str, protocol: int, length: int, ident: int = 1) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, ident & 0xFFFF, 0, 64, protocol, 0,
        ipv4(src), ipv4(dst),
    )  # fmt: skip


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    """Ethernet, IPv4, UDP (checksums left zero: nothing here reads them)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return MAC + MAC + b"\x08\x00" + ipv4_header(src, dst, 17, len(udp)) + udp


def tcp_frame(
    src: str, sport: int, dst: str, dport: int, seq: int, payload: bytes = b"",
    flags: int = ACK | PSH, ack: int = 0,
) -> bytes:  # fmt: skip
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq % 2**32, ack, 5 << 4, flags, 65535, 0, 0)
    segment = tcp + payload
    return MAC + MAC + b"\x08\x00" + ipv4_header(src, dst, 6, len(segment)) + segment


def write_pcap(
    path: Path,
    frames: Iterable[bytes],
    *,
    linktype: int = 1,
    snaplen: int = 262144,
    start: float = 1_700_000_000.0,
    step: float = 0.001,
) -> Path:
    """A classic pcap file (microseconds, little-endian); frames longer than `snaplen`
    are cut to it, as tcpdump -s cuts them."""
    with path.open("wb") as sink:
        sink.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for number, frame in enumerate(frames):
            when = start + number * step
            seconds = int(when)
            micros = round((when - seconds) * 1_000_000)
            kept = frame[:snaplen]
            sink.write(struct.pack("<IIII", seconds, micros, len(kept), len(frame)))
            sink.write(kept)
    return path


def audit_frames(
    frames: Sequence[bytes] | Iterable[bytes],
    *,
    linktype: int = 1,
    limits: AuditLimits | None = None,
    cut_to: int | None = None,
) -> CaptureEvidence:
    """Feed frames straight to the pure audit (no file, no scapy)."""
    limits = limits or AuditLimits()
    audit = CaptureAudit(build_analyses(limits), limits)
    for number, frame in enumerate(frames, start=1):
        kept = frame if cut_to is None else frame[:cut_to]
        audit.frame(number, 1_700_000_000.0 + number / 1000, linktype, kept, len(frame))
    source = CaptureSource(file="test.pcap", format="pcap", size_bytes=0, link_types=())
    return audit.evidence(source, started_at="2026-01-01T00:00:00.000+00:00", duration_ms=1.0)


def sip_request(
    method: str = "OPTIONS",
    *,
    call_id: str = "a84b4c76e66710",
    cseq: int = 1,
    body: bytes = b"",
    content_type: str | None = None,
    host: str = "192.0.2.20",
) -> bytes:
    lines = [
        f"{method} sip:bob@{host} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        f"To: <sip:bob@{host}>",
        "From: <sip:alice@192.0.2.10>;tag=1928301774",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sip_response(
    status: int = 200, method: str = "OPTIONS", *, call_id: str = "a84b4c76e66710", cseq: int = 1
) -> bytes:
    return (
        f"SIP/2.0 {status} OK\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
        "To: <sip:bob@192.0.2.20>;tag=a6c85cf\r\n"
        "From: <sip:alice@192.0.2.10>;tag=1928301774\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


SECRET_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def sdes_offer(key: str = SECRET_KEY) -> bytes:
    return (
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31\r\n"
    ).encode()


def invite_with_keys(key: str = SECRET_KEY, call_id: str = "call-with-keys") -> bytes:
    return sip_request(
        "INVITE", call_id=call_id, body=sdes_offer(key), content_type="application/sdp"
    )
