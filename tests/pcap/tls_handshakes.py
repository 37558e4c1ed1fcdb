"""TLS handshakes for the capture audit's tests: records and messages built here with
struct (RFC 8446 §4, §5.1; RFC 5246 §7.4), and real ones made by OpenSSL through the
ssl module's memory BIOs (no socket), then laid out as TCP frames."""

from __future__ import annotations

import ssl
import struct
from collections.abc import Sequence
from pathlib import Path

from tests.pcap.frames import ACK, FIN, SYN, tcp_frame

CLIENT, SERVER = "192.0.2.10", "192.0.2.20"
CLIENT_PORT, SERVER_PORT = 40000, 5061
HELLO_RETRY_RANDOM = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
)


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", content_type, version, len(body)) + body


def handshake(kind: int, body: bytes) -> bytes:
    return struct.pack("!B", kind) + len(body).to_bytes(3, "big") + body


def vector(data: bytes, length_size: int) -> bytes:
    return len(data).to_bytes(length_size, "big") + data


def extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + vector(body, 2)


def sni_extension(name: str) -> bytes:
    return extension(0, vector(b"\x00" + vector(name.encode(), 2), 2))


def client_hello(
    *,
    ciphers: Sequence[int] = (0xC030, 0xC02F),
    versions: Sequence[int] = (),
    sni: str | None = "sip.example.test",
    legacy_version: int = 0x0303,
    session_id: bytes = b"",
    extensions: bool = True,
) -> bytes:
    """A ClientHello message (with its handshake header)."""
    body = struct.pack("!H", legacy_version) + bytes(32) + vector(session_id, 1)
    body += vector(b"".join(struct.pack("!H", c) for c in ciphers), 2) + vector(b"\x00", 1)
    listed = b""
    if sni is not None:
        listed += sni_extension(sni)
    if versions:
        listed += extension(43, vector(b"".join(struct.pack("!H", v) for v in versions), 1))
    if extensions:
        body += vector(listed, 2)
    return handshake(1, body)


def server_hello(
    *,
    cipher: int = 0xC030,
    version: int = 0x0303,
    selected: int | None = None,
    session_id: bytes = b"",
    random: bytes = bytes(32),
) -> bytes:
    """A ServerHello message; `selected` puts supported_versions in it (TLS 1.3)."""
    body = struct.pack("!H", version) + random + vector(session_id, 1)
    body += struct.pack("!HB", cipher, 0)
    if selected is not None:
        body += vector(extension(43, struct.pack("!H", selected)), 2)
    return handshake(2, body)


def certificate(chain: Sequence[bytes]) -> bytes:
    """A TLS 1.2 Certificate message (RFC 5246 §7.4.2)."""
    return handshake(11, vector(b"".join(vector(der, 3) for der in chain), 3))


SERVER_HELLO_DONE = handshake(14, b"")
CHANGE_CIPHER_SPEC = record(20, b"\x01")


def connection(
    client_bytes: bytes,
    server_bytes: bytes,
    *,
    size: int = 1400,
    close: bool = True,
    syn: bool = True,
    client_port: int = CLIENT_PORT,
) -> list[bytes]:
    """The frames of one TCP connection: the client's bytes, then the server's, each in
    segments of `size`; FINs at the end when `close`."""
    isn_client, isn_server = 1000, 9000
    frames = []
    if syn:
        frames += [
            tcp_frame(CLIENT, client_port, SERVER, SERVER_PORT, isn_client, flags=SYN),
            tcp_frame(SERVER, SERVER_PORT, CLIENT, client_port, isn_server, flags=SYN | ACK),
        ]
    for at in range(0, len(client_bytes), size):
        piece = client_bytes[at : at + size]
        frames.append(
            tcp_frame(CLIENT, client_port, SERVER, SERVER_PORT, isn_client + 1 + at, piece)
        )
    for at in range(0, len(server_bytes), size):
        piece = server_bytes[at : at + size]
        frames.append(
            tcp_frame(SERVER, SERVER_PORT, CLIENT, client_port, isn_server + 1 + at, piece)
        )
    if close:
        end_client = isn_client + 1 + len(client_bytes)
        end_server = isn_server + 1 + len(server_bytes)
        frames.append(
            tcp_frame(CLIENT, client_port, SERVER, SERVER_PORT, end_client, flags=FIN | ACK)
        )
        frames.append(
            tcp_frame(SERVER, SERVER_PORT, CLIENT, client_port, end_server, flags=FIN | ACK)
        )
    return frames


def openssl_handshake(
    chain: Path,
    key: Path,
    *,
    version: ssl.TLSVersion,
    sni: str | None = "sip.example.test",
    ciphers: str | None = None,
) -> tuple[bytes, bytes]:
    """The bytes each side of a real handshake sent (OpenSSL, in memory), up to its end:
    (client's, server's)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain, key)
    server.minimum_version = server.maximum_version = version
    if ciphers is not None:
        server.set_ciphers(ciphers)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # As sipprobe's own client: nothing below TLS 1.2 offered, whatever OpenSSL's default.
    client.minimum_version = ssl.TLSVersion.TLSv1_2
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    into_client, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    into_server, from_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    near = client.wrap_bio(into_client, from_client, server_hostname=sni)
    far = server.wrap_bio(into_server, from_server, server_side=True)
    sent_by_client, sent_by_server = b"", b""
    done = [False, False]
    for _ in range(10):
        for side, end in enumerate((near, far)):
            try:
                end.do_handshake()
                done[side] = True
            except ssl.SSLWantReadError:
                pass
        piece = from_client.read()
        into_server.write(piece)
        sent_by_client += piece
        piece = from_server.read()
        into_client.write(piece)
        sent_by_server += piece
        if all(done) and not from_client.pending and not from_server.pending:
            break
    assert all(done), "the in-memory handshake did not finish"
    return sent_by_client, sent_by_server
