"""The end of a TLS connection, on every supported Python.

A server that requires a client certificate (TLS 1.3) lets the client's handshake finish
and sends its `certificate required` alert afterwards, so the alert reaches the client
while the connection is being closed. On CPython 3.11.2 (Debian 12) aborting the TLS
transport at that point raised AttributeError.

A TLS 1.2 server that closes at once sends its Finished and its close_notify together;
the EOF reached asyncio's stream protocol before it knew it ran over TLS, and asyncio
logged a warning on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest

from probe.net.connect import open_tcp, start_tls
from probe.tls.context import TlsClientConfig
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.hostile.server import StreamPeer, hostile_server, server_context


async def refuse_without_client_cert(peer: StreamPeer) -> None:
    """The server side of a handshake requiring a client certificate, alert included."""
    await peer.tls_by_hand(server_context(peer.lab, require_client_cert=True))
    await peer.hold()


async def refused_then_closed(lab: LabFiles, config: TlsClientConfig) -> tuple[bool, bool]:
    """(handshake ok, close clean) for one connection to the client-certificate server."""
    async with hostile_server(refuse_without_client_cert, "raw", lab) as port:
        connection, connected = await open_tcp("127.0.0.1", port, timeout=2)
        assert connection is not None, connected.error
        tls = await start_tls(connection, config, sni=LAB_NAME, timeout=2)
        if tls.ok:
            connection.writer.write(b"OPTIONS")
            # The server's alert arrives while the client is closing.
            await asyncio.sleep(0.1)
        clean = await connection.close(timeout=1)
        assert connection.writer.transport.is_closing()
        return tls.ok, clean


async def test_close_after_a_refused_client_certificate_does_not_raise(lab: LabFiles) -> None:
    handshake_ok, clean = await refused_then_closed(lab, TlsClientConfig())
    assert handshake_ok, "TLS 1.3: the client's side of the handshake completes"
    assert clean is False, "the server's alert broke the close_notify exchange"


async def close_with_the_handshake(peer: StreamPeer) -> None:
    """A TLS 1.2 server whose last handshake flight and close_notify leave in one write."""
    context = server_context(peer.lab)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            await peer.send(outgoing.read())
        data = await peer.reader.read(65536)
        if not data:
            return
        incoming.write(data)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.unwrap()  # writes close_notify; the client's own is not awaited
    await peer.send(outgoing.read())
    await peer.hold()


async def test_an_eof_right_after_the_handshake_is_not_logged(
    lab: LabFiles, caplog: pytest.LogCaptureFixture
) -> None:
    async with hostile_server(close_with_the_handshake, "raw", lab) as port:
        connection, connected = await open_tcp("127.0.0.1", port, timeout=2)
        assert connection is not None, connected.error
        tls = await start_tls(connection, TlsClientConfig(), sni=LAB_NAME, timeout=2)
        assert tls.ok, tls.error
        assert tls.version == "TLSv1.2"
        assert await connection.reader.read() == b""
        await connection.close()
    assert "eof_received" not in caplog.text
