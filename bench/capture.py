"""A synthetic trunk capture for the capture-audit workload, written record by record.

scapy builds a packet in tens of microseconds; a capture of millions of packets is
written here with `struct` instead: classic pcap (Ethernet link type), every header
packed by hand, IPv4 header checksums computed once per flow (the identification and
length of a flow's packets never change), UDP checksums left zero (RFC 768: "no
checksum" is allowed over IPv4), TCP checksums computed (few TCP packets).

What is in it, in time order, as a trunk between two SBCs would carry it:
- `calls` calls, each set up by an INVITE with SDP and a 200 OK with SDP over UDP
  5060 (RFC 3261, RFC 4566); one call in two negotiates `RTP/SAVP` with an `a=crypto`
  line (RFC 4568), the other `RTP/AVP`;
- each call's media both ways: RTP (RFC 3550 §5.1, version 2, PCMU, 20 ms of 8 kHz
  audio, 160-byte payloads, sequence and timestamp advancing) every 20 ms for the whole
  capture; the SRTP calls' payloads are high-entropy bytes followed by an 80-bit
  authentication tag (RFC 3711 §3.1, AES_CM_128_HMAC_SHA1_80), the RTP calls' a
  low-entropy PCMU-like wave;
- an OPTIONS ping and its 200 over UDP every second;
- `tcp_calls` INVITEs over TCP 5060, each split across three segments after a
  three-way handshake, answered in one segment;
- `tls_sessions` TLS handshakes on 5061: a ClientHello with SNI and a ServerHello
  (TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256), then application data records.

The file is made of numbers only; nothing is random but the SRTP-like payloads (from a
seeded generator, so the same sizes give the same capture).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
"""Classic pcap, microsecond times, snaplen 65535, link type 1 (Ethernet)."""
RECORD = struct.Struct("<IIII")
ETHERNET = bytes.fromhex("0200000000020200000000010800")
RTP_HEADER = struct.Struct("!BBHII")
FRAME_MS = 20
PAYLOAD = 160
AUTH_TAG = 10
START = 1_800_000_000
SBC_A = bytes((10, 1, 0, 10))
SBC_B = bytes((10, 2, 0, 20))
MEDIA_A = bytes((10, 1, 1, 10))
MEDIA_B = bytes((10, 2, 1, 20))


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    calls: int
    seconds: int
    tcp_calls: int = 20
    tls_sessions: int = 20

    @property
    def media_packets(self) -> int:
        return self.calls * 2 * self.seconds * (1000 // FRAME_MS)


@dataclass(frozen=True, slots=True)
class CaptureFacts:
    """What was written, for checking the contenders' answers against."""

    records: int
    bytes: int
    media_flows: int
    srtp_flows: int
    udp_sip_messages: int
    tcp_sip_messages: int
    crypto_lines: int
    tls_sessions: int


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4(source: bytes, destination: bytes, protocol: int, payload_length: int) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_length, 0, 0x4000, 64, protocol, 0,
        source, destination,
    )  # fmt: skip
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:]


def _udp(source: bytes, sport: int, destination: bytes, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return ETHERNET + _ipv4(source, destination, 17, 8 + len(payload)) + udp + payload


def _tcp(
    source: bytes, sport: int, destination: bytes, dport: int,
    seq: int, ack: int, flags: int, payload: bytes = b"",
) -> bytes:  # fmt: skip
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = source + destination + struct.pack("!BBH", 0, 6, len(header) + len(payload))
    checksum = _checksum(pseudo + header + payload)
    header = header[:16] + struct.pack("!H", checksum) + header[18:]
    return ETHERNET + _ipv4(source, destination, 6, len(header) + len(payload)) + header + payload


def _sdp(address: bytes, port: int, secure: bool, session: int) -> bytes:
    host = ".".join(map(str, address))
    lines = [
        "v=0",
        f"o=sbc {session} 1 IN IP4 {host}",
        "s=-",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} {'RTP/SAVP' if secure else 'RTP/AVP'} 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=ptime:20",
    ]
    if secure:
        # A made-up key of the right shape (30 bytes, base64): RFC 4568 §6.1.
        key = f"{session:040d}"
        lines.append(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}")
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode()


def _sip(start: str, headers: list[str], body: bytes = b"") -> bytes:
    content = ["Content-Type: application/sdp"] if body else []
    text = "\r\n".join([start, *headers, *content, f"Content-Length: {len(body)}", "", ""])
    return text.encode() + body


def _dialog(call: int, transport: str, port: int) -> list[str]:
    return [
        f"Via: SIP/2.0/{transport} 10.1.0.10:{port};branch=z9hG4bK{call:08x}",
        "Max-Forwards: 70",
        f"From: <sip:+4420700{call:05d}@10.1.0.10>;tag=a{call}",
        f"To: <sip:+3314500{call:05d}@10.2.0.20>",
        f"Call-ID: bench-{transport.lower()}-{call}@10.1.0.10",
        f"Contact: <sip:+4420700{call:05d}@10.1.0.10:{port};transport={transport.lower()}>",
    ]


def _invite(call: int, transport: str, secure: bool, port_a: int) -> bytes:
    headers = [*_dialog(call, transport, 5060), "CSeq: 1 INVITE"]
    return _sip(
        f"INVITE sip:+3314500{call:05d}@10.2.0.20 SIP/2.0",
        headers,
        _sdp(MEDIA_A, port_a, secure, call),
    )


def _ok(call: int, transport: str, secure: bool, port_b: int, method: str = "INVITE") -> bytes:
    headers = [*_dialog(call, transport, 5060), f"CSeq: 1 {method}"]
    headers[3] += f";tag=b{call}"
    body = _sdp(MEDIA_B, port_b, secure, call + 1_000_000) if method == "INVITE" else b""
    return _sip("SIP/2.0 200 OK", headers, body)


def _client_hello(name: str) -> bytes:
    """A TLS 1.2 ClientHello record with SNI (RFC 8446 §4.1.2, RFC 6066 §3)."""
    sni_name = name.encode()
    sni = struct.pack("!HBH", len(sni_name) + 3, 0, len(sni_name)) + sni_name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    extensions += struct.pack("!HHB", 43, 5, 4) + struct.pack("!HH", 0x0304, 0x0303)
    ciphers = struct.pack("!HHHH", 6, 0x1301, 0xC02F, 0xC030)
    body = (
        struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + ciphers + b"\x01\x00"
        + struct.pack("!H", len(extensions)) + extensions
    )  # fmt: skip
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def _server_hello() -> bytes:
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!HBH", 0xC02F, 0, 0)
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(handshake)) + handshake


class _Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.records = 0
        self.bytes = len(PCAP_HEADER)
        out.write(PCAP_HEADER)

    def frame(self, micros: int, frame: bytes) -> None:
        seconds, fraction = divmod(micros, 1_000_000)
        self.out.write(RECORD.pack(START + seconds, fraction, len(frame), len(frame)))
        self.out.write(frame)
        self.records += 1
        self.bytes += 16 + len(frame)


def _tcp_call(writer: _Writer, micros: int, call: int) -> None:
    """An INVITE over a fresh TCP connection, split across three segments."""
    sport = 40000 + call
    a, b = (SBC_A, sport), (SBC_B, 5060)
    seq_a, seq_b = 1000 * call + 1, 7000 * call + 1
    writer.frame(micros, _tcp(*a, *b, seq_a - 1, 0, 0x02))
    writer.frame(micros + 100, _tcp(*b, *a, seq_b - 1, seq_a, 0x12))
    writer.frame(micros + 200, _tcp(*a, *b, seq_a, seq_b, 0x10))
    invite = _invite(call, "TCP", False, 30000 + 2 * call)
    cuts = (0, 37, len(invite) // 2, len(invite))
    for index in range(3):
        piece = invite[cuts[index] : cuts[index + 1]]
        writer.frame(micros + 300 + index * 50, _tcp(*a, *b, seq_a, seq_b, 0x18, piece))
        seq_a += len(piece)
    ok = _ok(call, "TCP", False, 30000 + 2 * call)
    writer.frame(micros + 900, _tcp(*b, *a, seq_b, seq_a, 0x18, ok))
    seq_b += len(ok)
    writer.frame(micros + 1000, _tcp(*a, *b, seq_a, seq_b, 0x11))
    writer.frame(micros + 1100, _tcp(*b, *a, seq_b, seq_a + 1, 0x11))
    writer.frame(micros + 1200, _tcp(*a, *b, seq_a + 1, seq_b + 1, 0x10))


def _tls_session(writer: _Writer, micros: int, session: int) -> None:
    sport = 50000 + session
    a, b = (SBC_A, sport), (SBC_B, 5061)
    seq_a, seq_b = 3000 * session + 1, 9000 * session + 1
    writer.frame(micros, _tcp(*a, *b, seq_a - 1, 0, 0x02))
    writer.frame(micros + 100, _tcp(*b, *a, seq_b - 1, seq_a, 0x12))
    writer.frame(micros + 200, _tcp(*a, *b, seq_a, seq_b, 0x10))
    hello = _client_hello("sbc-b.trunk.example")
    writer.frame(micros + 300, _tcp(*a, *b, seq_a, seq_b, 0x18, hello))
    seq_a += len(hello)
    server = _server_hello()
    writer.frame(micros + 600, _tcp(*b, *a, seq_b, seq_a, 0x18, server))
    seq_b += len(server)
    for index in range(4):
        record = (
            b"\x17\x03\x03" + struct.pack("!H", 300) + bytes((index + 7) % 256 for _ in range(300))
        )
        writer.frame(micros + 900 + index * 100, _tcp(*a, *b, seq_a, seq_b, 0x18, record))
        seq_a += len(record)


def write_capture(path: Path, spec: CaptureSpec) -> CaptureFacts:
    """Write the capture to `path`; what it holds comes back for the checks."""
    rng = random.Random(17)
    # SRTP-like payloads are slices of one pool of random bytes at shifting offsets:
    # as high in entropy as fresh ones, without drawing a gigabyte from the generator.
    pool = rng.randbytes(1 << 16)
    wave = bytes(0xFF - (abs((i % 32) - 16) * 3) for i in range(PAYLOAD))
    udp_sip = crypto = 0
    # Each call's two directions: (src, sport, dst, dport, ssrc, secure), with the
    # headers before the RTP header packed once.
    directions: list[tuple[bytes, int, bool]] = []
    with path.open("wb", buffering=1 << 20) as out:
        writer = _Writer(out)
        for call in range(spec.calls):
            secure = call % 2 == 1
            port_a, port_b = 20000 + 2 * call, 30000 + 2 * call
            micros = call * 1000
            invite = _invite(call, "UDP", secure, port_a)
            writer.frame(micros, _udp(SBC_A, 5060, SBC_B, 5060, invite))
            ok = _ok(call, "UDP", secure, port_b)
            writer.frame(micros + 400, _udp(SBC_B, 5060, SBC_A, 5060, ok))
            udp_sip += 2
            crypto += 2 if secure else 0
            size = 12 + PAYLOAD + (AUTH_TAG if secure else 0)
            for src, sport, dst, dport in (
                (MEDIA_A, port_a, MEDIA_B, port_b),
                (MEDIA_B, port_b, MEDIA_A, port_a),
            ):
                head = _udp(src, sport, dst, dport, bytes(size))[:-size]
                directions.append((head, 0x5000_0000 + len(directions), secure))
        setup = spec.calls * 1000 + 1000
        frames = spec.seconds * (1000 // FRAME_MS)
        tcp_every = max(1, frames // max(1, spec.tcp_calls))
        tls_every = max(1, frames // max(1, spec.tls_sessions))
        tcp_done = tls_done = 0
        pool_size = len(pool) - PAYLOAD - AUTH_TAG
        offset = 0
        pack = RTP_HEADER.pack
        # The media of one tick is spread over its first 15 ms, in flow order.
        spacing = max(1, 15000 // max(1, len(directions)))
        for tick in range(frames):
            base = setup + tick * FRAME_MS * 1000
            for index, (head, ssrc, secure) in enumerate(directions):
                header = pack(0x80, 0, tick & 0xFFFF, (tick * PAYLOAD) & 0xFFFFFFFF, ssrc)
                if secure:
                    offset = (offset + 97) % pool_size
                    body = pool[offset : offset + PAYLOAD + AUTH_TAG]
                else:
                    body = wave
                writer.frame(base + index * spacing, head + header + body)
            if tick % (1000 // FRAME_MS) == 0:
                ping = tick // (1000 // FRAME_MS)
                options = _sip("OPTIONS sip:10.2.0.20 SIP/2.0", [
                    *_dialog(900_000 + ping, "UDP", 5060), "CSeq: 1 OPTIONS",
                ])  # fmt: skip
                writer.frame(base + 15000, _udp(SBC_A, 5060, SBC_B, 5060, options))
                reply = _ok(900_000 + ping, "UDP", False, 0, "OPTIONS")
                writer.frame(base + 15500, _udp(SBC_B, 5060, SBC_A, 5060, reply))
                udp_sip += 2
            if tick % tcp_every == 0 and tcp_done < spec.tcp_calls:
                _tcp_call(writer, base + 16000, tcp_done)
                tcp_done += 1
            if tick % tls_every == 0 and tls_done < spec.tls_sessions:
                _tls_session(writer, base + 17500, tls_done)
                tls_done += 1
    return CaptureFacts(
        records=writer.records,
        bytes=writer.bytes,
        media_flows=len(directions),
        srtp_flows=sum(1 for _, _, secure in directions if secure),
        udp_sip_messages=udp_sip,
        tcp_sip_messages=2 * tcp_done,
        crypto_lines=crypto,
        tls_sessions=tls_done,
    )
