"""A hostile SIP server for tests: each test picks how it misbehaves.

One loopback server per test, on a free port, over one of four layers:

- `raw`: plain TCP under a client that expects TLS, for what happens before TLS (never
  answering the ClientHello, garbage, a crafted TLS alert record);
- `tls`: a real TLS server (stdlib ssl) whose behaviour runs after the handshake;
- `raw` with :meth:`StreamPeer.tls_by_hand` for handshakes that must fail exactly as
  OpenSSL fails them (a server requiring a client certificate);
- `tcp` and `udp`: SIP over plain TCP or UDP.

A behaviour is a coroutine given a :class:`StreamPeer` (or :class:`DatagramPeer`): it reads
the request, writes whatever it likes (whole, dripped one byte per TLS record, or cut),
stalls, closes politely (TLS close_notify), or resets (SO_LINGER 0). When the test leaves
the `async with`, every connection is closed and every task of the server is finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from probe.sip import Request, SipError, StreamFramer, parse_message
from probe.tls.lab import LabFiles

Layer = Literal["raw", "tls", "tcp", "udp"]

# TLS alert descriptions (RFC 8446 §6.2) for crafted alert records.
ALERTS = {
    "handshake failure": 40,
    "unknown ca": 48,
    "protocol version": 70,
    "certificate required": 116,
}


def alert_record(description: int) -> bytes:
    """A fatal TLS alert record: type 21, version 3.3, length 2, level 2 (RFC 8446 §6)."""
    return bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description])


def server_context(lab: LabFiles, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.server, lab.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(lab.ca)
    return context


def compose(
    request: Request,
    code: int = 200,
    reason: str = "OK",
    *,
    status_line: bytes | None = None,
    extra: Sequence[tuple[str, str] | bytes] = (),
    drop: Sequence[str] = (),
    body: bytes = b"",
    content_length: str | None = None,
    branch: str | None = None,
    cseq: str | None = None,
) -> bytes:
    """A response to `request`, built by hand so that it can be as wrong as a test needs.

    `extra` lines go after the mandatory headers (bytes are written as they are);
    `drop` removes mandatory headers by name; `content_length` replaces the true length.
    """
    via = request.headers.get_all("Via")[0]
    ours = request.top_via.branch or ""
    if branch is not None:
        via = via.replace(ours, branch)
    fields = [
        ("Via", via),
        ("From", request.headers.get("From") or ""),
        ("To", f"{request.headers.get('To')};tag=hostile"),
        ("Call-ID", request.call_id),
        ("CSeq", cseq or f"{request.cseq.number} {request.cseq.method}"),
    ]
    lines = [status_line or f"SIP/2.0 {code} {reason}".encode()]
    lines += [f"{name}: {value}".encode() for name, value in fields if name not in drop]
    lines += [
        line if isinstance(line, bytes) else f"{line[0]}: {line[1]}".encode() for line in extra
    ]
    length = content_length if content_length is not None else str(len(body))
    lines.append(f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class StreamPeer:
    """One accepted TCP or TLS connection, as a behaviour sees it."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lab: LabFiles
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.lab = lab
        """The lab PKI, for behaviours that run TLS themselves."""
        self.framer = StreamFramer()

    async def request(self) -> Request | None:
        """The next request from the client; None once it has gone."""
        while True:
            message = self.framer.next_message()
            if isinstance(message, Request):
                return message
            if message is not None:
                continue
            data = await self.reader.read(65536)
            if not data:
                return None
            self.framer.feed(data)

    async def raw(self) -> bytes:
        """Whatever the client sent first (before TLS: its ClientHello)."""
        return await self.reader.read(65536)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def tls_by_hand(self, context: ssl.SSLContext) -> ssl.SSLError | None:
        """Run the server side of a TLS handshake over memory BIOs, flushing every byte
        OpenSSL writes, including the fatal alert a failing handshake ends with.

        (asyncio's own TLS server drops that alert: it closes the transport before the
        alert is written, so a client would only see the connection close.)
        """
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        failure: ssl.SSLError | None = None
        while True:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                failure = exc
            if outgoing.pending:
                await self.send(outgoing.read())
            if failure is not None:
                return failure
            # TLS 1.3: the server's handshake ends only once it has the client's
            # Certificate and Finished, which is where a missing client certificate fails.
            data = await self.reader.read(65536)
            if not data:
                return None
            incoming.write(data)

    async def drip(self, data: bytes, interval: float, every: int = 1) -> None:
        """One byte per write, so one byte per TLS record (asyncio encrypts each write on
        its own), pausing `interval` seconds after every `every` bytes."""
        for index in range(len(data)):
            self.writer.write(data[index : index + 1])
            await self.writer.drain()
            await asyncio.sleep(interval if (index + 1) % every == 0 else 0)

    async def hold(self) -> None:
        """Keep the connection open, saying nothing, until the client lets go."""
        while await self.reader.read(65536):
            pass

    async def close(self) -> None:
        """Close politely: on TLS this sends close_notify first (RFC 8446 §6.1)."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Close with an RST: SO_LINGER on, timeout 0, then close (no FIN, no close_notify)."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class DatagramPeer(asyncio.DatagramProtocol):
    """The UDP socket, as a behaviour sees it: requests in, datagrams back to their sender."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.client: tuple[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))

    async def request(self) -> Request | None:
        while True:
            data, self.client = await self.queue.get()
            with contextlib.suppress(SipError):
                message = parse_message(data)
                if isinstance(message, Request):
                    return message

    async def send(self, data: bytes) -> None:
        assert self.transport is not None
        assert self.client is not None
        self.transport.sendto(data, self.client)

    async def hold(self) -> None:
        await asyncio.Event().wait()


Behaviour = Callable[[StreamPeer], Coroutine[Any, Any, None]]
DatagramBehaviour = Callable[[DatagramPeer], Coroutine[Any, Any, None]]


@dataclass
class _Tasks:
    running: set[asyncio.Task[None]]

    async def finish(self) -> None:
        for task in list(self.running):
            task.cancel()
        await asyncio.gather(*self.running, return_exceptions=True)


@contextlib.asynccontextmanager
async def hostile_server(
    behaviour: Behaviour | DatagramBehaviour, layer: Layer, lab: LabFiles
) -> AsyncIterator[int]:
    """Serve `behaviour` on 127.0.0.1 over `layer`; yields the port."""
    if layer == "udp":
        async with _udp_server(behaviour) as port:  # type: ignore[arg-type]
            yield port
        return
    context = server_context(lab) if layer == "tls" else None
    tasks = _Tasks(set())
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.running.add(task)
        writers.append(writer)
        try:
            await behaviour(StreamPeer(reader, writer, lab))  # type: ignore[arg-type]
        except (OSError, EOFError, SipError):
            pass  # the client went away first, or the behaviour broke the stream on purpose
        finally:
            tasks.running.discard(task)
            writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await tasks.finish()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()
        # Let the aborted transports run their connection_lost callbacks.
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _udp_server(behaviour: DatagramBehaviour) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(DatagramPeer, local_addr=("127.0.0.1", 0))
    task = asyncio.create_task(behaviour(peer))
    try:
        yield int(transport.get_extra_info("sockname")[1])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await task
        transport.close()
        await asyncio.sleep(0)
