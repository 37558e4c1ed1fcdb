"""The embedded responder: a small SIP UAS over TLS (and TCP/UDP) on a loopback port.

Over TLS and TCP it answers OPTIONS with 200 (RFC 3261 §11.2), takes calls (INVITE →
100, 180, 200 with an SDP answer, or a refusal; CANCEL, ACK, BYE; see
probe.serve.calls), answers every other request with 501 (§21.5.2), never answers ACK
(§17.1.1.3), and answers CRLF keep-alive pings with a pong (RFC 5626 §4.4.1).  Over UDP it
stays stateless: OPTIONS 200, everything else 501.  It is what `sipprobe demo` probes,
and a far end for testing a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from dataclasses import dataclass
from typing import cast

from probe.serve.calls import CallTable
from probe.serve.log import AnswerLog
from probe.serve.uas import ALLOW, ResponderConfig, ServeTransport, answer
from probe.sip import (
    Request,
    Response,
    SipError,
    StreamFramer,
    parse_message,
    random_token,
)

__all__ = ["ALLOW", "Listener", "Responder", "ResponderConfig", "ServeTransport", "answer"]

READ_SIZE = 65536
IDLE_SECONDS = 300.0
"""A connection silent this long is closed, and its calls with it."""
HANDSHAKE_SECONDS = 10.0
"""Deadline of a client's TLS handshake, and of a write to a client that stops reading."""
STOP_GRACE = 2.0
"""Seconds `stop()` gives aborted connections to finish their clean-up."""
_PONG = b"\r\n"
"""RFC 5626 §4.4.1: the answer to a CRLF CRLF ping."""


@dataclass(frozen=True, slots=True)
class Listener:
    transport: ServeTransport
    host: str
    port: int


def _peer_text(source: tuple[str, int] | None) -> str:
    if source is None:
        return "?"
    address, port = source
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def server_context(config: ResponderConfig) -> ssl.SSLContext:
    if config.cert_file is None:
        raise ValueError("a TLS listener needs a certificate (cert_file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.cert_file, config.key_file)
    return context


class _UdpResponder(asyncio.DatagramProtocol):
    def __init__(self, config: ResponderConfig, log: AnswerLog | None) -> None:
        self.config = config
        self.log = log
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
        peer = _peer_text(source)
        if self.log is not None:
            self.log.request("udp", peer, message)
        response = answer(message, self.config, to_tag=random_token(6), source=source)
        if response is not None:
            self.transport.sendto(response.to_bytes(), addr)
            if self.log is not None:
                self.log.response("udp", peer, response)


class Responder:
    """Start with `async with Responder(config) as responder:`; `listeners` says where."""

    def __init__(self, config: ResponderConfig) -> None:
        self.config = config
        self.listeners: list[Listener] = []
        self._servers: list[asyncio.Server] = []
        self._datagrams: list[asyncio.DatagramTransport] = []
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._tables: set[CallTable] = set()
        self._log = AnswerLog(config.log) if config.log is not None else None

    async def __aenter__(self) -> Responder:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def open_dialogs(self) -> int:
        """Calls held on every connection: ringing (early dialogs) or answered and not yet
        ended by BYE.  Zero once every call the far side started has been ended."""
        return sum(table.open_dialogs for table in self._tables)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        context = server_context(self.config) if "tls" in self.config.transports else None
        try:
            for transport in self.config.transports:
                if transport == "udp":
                    datagram, _ = await loop.create_datagram_endpoint(
                        lambda: _UdpResponder(self.config, self._log),
                        local_addr=(self.config.host, self.config.port),
                    )
                    self._datagrams.append(datagram)
                    sockname = datagram.get_extra_info("sockname")
                else:
                    server = await asyncio.start_server(
                        functools.partial(self._serve_stream, transport),
                        self.config.host,
                        self.config.port,
                        ssl=context if transport == "tls" else None,
                        # A client that never finishes its handshake is dropped, not kept.
                        ssl_handshake_timeout=HANDSHAKE_SECONDS if transport == "tls" else None,
                    )
                    self._servers.append(server)
                    sockname = server.sockets[0].getsockname()
                self.listeners.append(Listener(transport, str(sockname[0]), int(sockname[1])))
        except BaseException:
            await self.stop()  # a listener that failed to bind leaves none of the others
            raise

    async def stop(self) -> None:
        """Close every listener and connection; every call's socket and timer with them."""
        for server in self._servers:
            server.close()
        for datagram in self._datagrams:
            datagram.close()
        # Each connection is aborted, so its handler reads EOF and ends by itself, with its
        # clean-up (calls, sockets, timers); cancelling is only the fallback (3.11 logs a
        # cancelled connection handler as an error).
        for writer in list(self._connections.values()):
            writer.transport.abort()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=STOP_GRACE)
        for task in list(self._connections):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._servers:
            await server.wait_closed()
        for table in list(self._tables):
            table.close()  # already done by each connection's clean-up; never twice harmful
        self._tables.clear()
        self._servers.clear()
        self._datagrams.clear()

    def port_of(self, transport: ServeTransport) -> int:
        for listener in self.listeners:
            if listener.transport == transport:
                return listener.port
        raise LookupError(f"no {transport} listener")

    async def _serve_stream(
        self,
        transport: ServeTransport,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        framer = StreamFramer()
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname") or (self.config.host, self.config.port)
        source = (str(peer[0]), int(peer[1])) if peer else None
        log, who = self._log, _peer_text(source)

        def send(response: Response) -> None:
            writer.write(response.to_bytes())
            if log is not None:
                log.response(transport, who, response)

        calls = CallTable(
            self.config,
            transport=transport,
            local=(str(local[0]), int(local[1])),
            send=send,
            source=source,
        )
        self._tables.add(calls)
        pongs = 0
        try:
            while True:
                async with asyncio.timeout(IDLE_SECONDS):
                    data = await reader.read(READ_SIZE)
                if not data:
                    break
                framer.feed(data)
                while True:
                    message = framer.next_message()
                    # The pings skipped on the way to this message came before it: each is
                    # answered with one CRLF, in stream order (RFC 5626 §4.4.1).
                    if framer.pings > pongs:
                        writer.write(_PONG * (framer.pings - pongs))
                        if log is not None:
                            log.pongs(transport, who, framer.pings - pongs)
                        pongs = framer.pings
                    if message is None:
                        break
                    if isinstance(message, Request):
                        if log is not None:
                            log.request(transport, who, message)
                        calls.receive(message)
                async with asyncio.timeout(HANDSHAKE_SECONDS):
                    await writer.drain()
        except (SipError, OSError, TimeoutError):
            pass  # a broken client gets its connection closed, nothing more
        finally:
            # The connection is gone: so are its calls (their sockets and timers).
            calls.close()
            self._tables.discard(calls)
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
