"""The embedded responder: a small SIP UAS over TLS (and TCP/UDP) on a loopback port.

It answers OPTIONS with 200 and the headers RFC 3261 §11.2 says a 200 to OPTIONS should
carry, answers every other request it cannot handle with 501 (§21.5.2), never answers
ACK (§17.1.1.3), and answers CRLF keep-alive pings with a pong (RFC 5626 §4.4.1). It is
what `sipprobe demo` probes, and a far end for testing a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from probe import __version__
from probe.sip import (
    Request,
    Response,
    SipError,
    StreamFramer,
    build_response,
    parse_message,
    random_token,
)

ServeTransport = Literal["tls", "tcp", "udp"]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
READ_SIZE = 65536
_KEEPALIVE_PING = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ResponderConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    transports: Sequence[ServeTransport] = ("tls",)
    cert_file: Path | None = None
    """Certificate chain presented to clients, leaf first (PEM)."""
    key_file: Path | None = None
    server_header: str = f"sipprobe-responder/{__version__}"
    extra_headers: Sequence[tuple[str, str]] = field(default=())


@dataclass(frozen=True, slots=True)
class Listener:
    transport: ServeTransport
    host: str
    port: int


def answer(
    request: Request,
    config: ResponderConfig,
    *,
    to_tag: str,
    source: tuple[str, int] | None = None,
) -> Response | None:
    """The response to `request`, or None where SIP forbids one (ACK)."""
    if request.method == "ACK":
        return None
    common = (("Server", config.server_header), *config.extra_headers)
    if request.method == "OPTIONS":
        return build_response(
            request,
            200,
            "OK",
            to_tag=to_tag,
            source=source,
            extra_headers=(
                ("Allow", ALLOW),
                ("Accept", "application/sdp"),
                ("Accept-Encoding", "identity"),
                ("Accept-Language", "en"),
                ("Supported", "replaces, timer"),
                *common,
            ),
        )
    return build_response(
        request,
        501,
        "Not Implemented",
        to_tag=to_tag,
        source=source,
        extra_headers=(("Allow", ALLOW), *common),
    )


def server_context(config: ResponderConfig) -> ssl.SSLContext:
    if config.cert_file is None:
        raise ValueError("a TLS listener needs a certificate (cert_file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.cert_file, config.key_file)
    return context


class _UdpResponder(asyncio.DatagramProtocol):
    def __init__(self, config: ResponderConfig) -> None:
        self.config = config
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Selector datagram transports do not subclass DatagramTransport on 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            message = parse_message(data)
        except SipError:
            return  # RFC 3261 §18.3: a malformed datagram is discarded
        if not isinstance(message, Request) or self.transport is None:
            return
        source = (str(addr[0]), int(addr[1]))
        response = answer(message, self.config, to_tag=random_token(6), source=source)
        if response is not None:
            self.transport.sendto(response.to_bytes(), addr)


class Responder:
    """Start with `async with Responder(config) as responder:`; `listeners` says where."""

    def __init__(self, config: ResponderConfig) -> None:
        self.config = config
        self.listeners: list[Listener] = []
        self._servers: list[asyncio.Server] = []
        self._datagrams: list[asyncio.DatagramTransport] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Responder:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        context = server_context(self.config) if "tls" in self.config.transports else None
        for transport in self.config.transports:
            if transport == "udp":
                datagram, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpResponder(self.config),
                    local_addr=(self.config.host, self.config.port),
                )
                self._datagrams.append(datagram)
                sockname = datagram.get_extra_info("sockname")
            else:
                server = await asyncio.start_server(
                    self._serve_stream,
                    self.config.host,
                    self.config.port,
                    ssl=context if transport == "tls" else None,
                )
                self._servers.append(server)
                sockname = server.sockets[0].getsockname()
            self.listeners.append(Listener(transport, str(sockname[0]), int(sockname[1])))

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for datagram in self._datagrams:
            datagram.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self._datagrams.clear()

    def port_of(self, transport: ServeTransport) -> int:
        for listener in self.listeners:
            if listener.transport == transport:
                return listener.port
        raise LookupError(f"no {transport} listener")

    async def _serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        framer = StreamFramer()
        to_tag = random_token(6)
        peer = writer.get_extra_info("peername")
        source = (str(peer[0]), int(peer[1])) if peer else None
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    if isinstance(message, Request):
                        response = answer(message, self.config, to_tag=to_tag, source=source)
                        if response is not None:
                            writer.write(response.to_bytes())
                if data.endswith(_KEEPALIVE_PING) and framer.buffered_bytes == 0:
                    writer.write(b"\r\n")  # RFC 5626 §4.4.1: pong
                await writer.drain()
        except (SipError, OSError, ssl.SSLError):
            pass  # a broken client gets its connection closed, nothing more
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
