"""A TLS connection kept open between uses gets a smaller read buffer than asyncio's
quarter megabyte (StreamConnection.trim_read_buffer), and still reads every byte of
messages longer than it. The buffer is a private attribute of asyncio's TLS protocol:
these tests fail loudly if it changes."""

from __future__ import annotations

import asyncio
import ssl

from probe.net.connect import KEPT_READ_BUFFER, open_tcp, start_tls
from probe.tls.context import TlsClientConfig
from probe.tls.lab import LabFiles

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: many TLS records, eight buffers' worth


async def test_a_trimmed_connection_reads_a_long_stream_whole(lab: LabFiles) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.server, lab.server_key)

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(1)  # the client has trimmed its buffer
        writer.write(PAYLOAD)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(send, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        connection, connected = await open_tcp("127.0.0.1", port, timeout=5)
        assert connection is not None, connected
        tls = await start_tls(connection, TlsClientConfig(), sni=None, timeout=5)
        assert tls.ok, tls.error
        protocol = connection.writer.transport._ssl_protocol  # type: ignore[attr-defined]
        assert len(protocol._ssl_buffer) > KEPT_READ_BUFFER  # asyncio's own size
        assert connection.trim_read_buffer() is True
        assert len(protocol._ssl_buffer) == KEPT_READ_BUFFER
        connection.writer.write(b"!")
        async with asyncio.timeout(10):
            received = await connection.reader.readexactly(len(PAYLOAD))
        # asyncio asked for a buffer at every read, and got the trimmed one each time.
        assert len(protocol._ssl_buffer) == KEPT_READ_BUFFER
        assert received == PAYLOAD
        assert connection.trim_read_buffer() is False  # already small
        await connection.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_plain_tcp_connection_has_nothing_to_trim() -> None:
    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(idle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection, _ = await open_tcp("127.0.0.1", port, timeout=5)
        assert connection is not None
        assert connection.trim_read_buffer() is False
        await connection.close()
    finally:
        server.close()
        await server.wait_closed()
