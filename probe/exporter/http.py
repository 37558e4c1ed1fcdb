"""HTTP/1.1 for the exporter, over asyncio streams: h11 parses and frames every message
(RFC 9112), this module bounds them.

A scraper is trusted no more than a SIP peer: a request head larger than `max_head` is
refused (431, h11's limit), a body larger than `max_body` too (413); a request must
arrive whole within `request` seconds of its first byte (a slow-loris client is cut
off), a kept-alive connection may wait `idle` seconds for its next request, and an answer
must leave within `write` seconds. At most `max_connections` are open at once; beyond
that, the connection that has been reading the longest is closed to make room (a client
holding connections open cannot lock Prometheus out), and only when every connection is
busy with a probe is the newcomer turned away.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import h11

from probe.errors import ProbeError

READ_CHUNK = 16 * 1024
MAX_QUERY_FIELDS = 16


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How much and how long a client may take (see the module's docstring)."""

    max_head: int = 16 * 1024
    max_body: int = 64 * 1024
    request: float = 10.0
    idle: float = 60.0
    write: float = 10.0
    max_connections: int = 256


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the handler sees it: method, path, decoded query, headers (names in
    lower case; a repeated header's values joined with commas, RFC 9110 §5.3)."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str, *headers: tuple[str, str]) -> Response:
        """A plain-text answer: a sentence (or several lines), ending with a newline."""
        return cls(status, (text.rstrip("\n") + "\n").encode(), headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(ProbeError):
    """A request h11 accepted whose target cannot be used (not UTF-8, too many fields)."""


def parse_target(target: bytes) -> tuple[str, dict[str, list[str]]]:
    """The path and the query's fields of a request target (origin or absolute form,
    RFC 9112 §3.2), percent-decoded as UTF-8; BadRequest when that cannot be done."""
    try:
        text = target.decode("ascii")  # RFC 9112 §3.2: a request target is ASCII
        parts = urllib.parse.urlsplit(text)
        query = urllib.parse.parse_qs(
            parts.query,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_QUERY_FIELDS,
        )
    except (UnicodeError, ValueError) as exc:
        raise BadRequest(f"the request target cannot be read: {exc}") from None
    return parts.path or "/", query


@dataclass(eq=False, slots=True)
class _Peer:
    """One open connection, as the table of connections sees it."""

    number: int
    writer: asyncio.StreamWriter
    busy: bool = False
    since: float = 0.0


@dataclass(slots=True)
class Connections:
    """The open connections, bounded: see the module's docstring."""

    limit: int
    _open: dict[int, _Peer] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, writer: asyncio.StreamWriter, now: float) -> _Peer | None:
        """The new connection's entry, after closing the longest-reading one if the table
        is full; None when every open connection is busy with a request."""
        if len(self._open) >= self.limit:
            reading = [peer for peer in self._open.values() if not peer.busy]
            if not reading:
                return None
            oldest = min(reading, key=lambda peer: peer.since)
            self.drop(oldest)
            oldest.writer.transport.abort()
        peer = _Peer(next(self._numbers), writer, since=now)
        self._open[peer.number] = peer
        return peer

    def drop(self, peer: _Peer) -> None:
        self._open.pop(peer.number, None)

    def close_all(self) -> None:
        for peer in list(self._open.values()):
            self.drop(peer)
            peer.writer.transport.abort()


class _TooLarge(ProbeError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def _head_size(event: h11.Request) -> int:
    """The bytes of a request head: its request line and header lines (RFC 9112 §2.1)."""
    line = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in event.headers) + 2


async def _read_request(
    connection: h11.Connection, reader: asyncio.StreamReader, limits: HttpLimits
) -> tuple[h11.Request, bytes] | None:
    """The next whole request and its body; None when the client closed the connection
    between requests. TimeoutError when it took too long, h11.RemoteProtocolError when
    it is not HTTP/1.1, _TooLarge when its body is over the limit."""
    loop = asyncio.get_running_loop()
    until = loop.time() + limits.idle
    started = False
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            if not started and (request is not None or connection.trailing_data[0]):
                started, until = True, loop.time() + limits.request
            remaining = until - loop.time()
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                data = await reader.read(min(READ_CHUNK, limits.max_head))
            if data and not started:
                started, until = True, loop.time() + limits.request
            connection.receive_data(data)  # b"": the client closed its side
        elif isinstance(event, h11.ConnectionClosed):
            return None
        elif isinstance(event, h11.Request):
            # h11 bounds a head still arriving; one that came whole in a read is measured.
            if _head_size(event) > limits.max_head:
                raise _TooLarge(431, f"the request head is over {limits.max_head} bytes")
            request = event
            length = dict(event.headers).get(b"content-length")
            if length is not None and int(length) > limits.max_body:
                raise _TooLarge(413, f"the request body is over {limits.max_body} bytes")
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > limits.max_body:
                raise _TooLarge(413, f"the request body is over {limits.max_body} bytes")
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, bytes(body)


def _as_request(event: h11.Request, body: bytes) -> Request:
    path, query = parse_target(event.target)
    headers: dict[str, str] = {}
    for name, value in event.headers:
        key = name.decode("ascii").lower()
        text = value.decode("latin-1")  # RFC 9110 §5.5: bytes beyond ASCII are opaque
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(event.method.decode("ascii"), path, query, headers, body)


async def _send(
    connection: h11.Connection,
    writer: asyncio.StreamWriter,
    response: Response,
    limits: HttpLimits,
    *,
    head_only: bool = False,
) -> None:
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        *response.headers,
    ]
    data = connection.send(
        h11.Response(
            status_code=response.status,
            headers=headers,
            reason=http.HTTPStatus(response.status).phrase,
        )
    )
    assert data is not None
    if not head_only:  # a HEAD answer carries the headers alone (RFC 9110 §9.3.2)
        data += connection.send(h11.Data(data=response.body)) or b""
    data += connection.send(h11.EndOfMessage()) or b""
    writer.write(data)
    async with asyncio.timeout(limits.write):
        await writer.drain()


async def _answer_error(
    connection: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    text: str,
    limits: HttpLimits,
) -> None:
    """Say what was wrong, when h11 still lets us answer; the connection closes after."""
    if connection.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    with contextlib.suppress(h11.LocalProtocolError, TimeoutError, OSError):
        await _send(
            connection, writer, Response.text(status, text, ("connection", "close")), limits
        )


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Handler,
    limits: HttpLimits,
    connections: Connections,
) -> None:
    """Serve one client until it closes, breaks a limit or must be closed; the handler's
    exceptions become a 500 with their one line."""
    loop = asyncio.get_running_loop()
    peer = connections.admit(writer, loop.time())
    if peer is None:
        writer.transport.abort()
        return
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head)
    try:
        while True:
            peer.busy, peer.since = False, loop.time()
            try:
                received = await _read_request(connection, reader, limits)
            except h11.RemoteProtocolError as exc:
                await _answer_error(connection, writer, exc.error_status_hint, str(exc), limits)
                return
            except _TooLarge as refusal:
                await _answer_error(connection, writer, refusal.status, str(refusal), limits)
                return
            except (TimeoutError, ValueError):  # too slow, or a Content-Length h11 let by
                return
            if received is None:
                return
            event, body = received
            peer.busy = True
            try:
                request = _as_request(event, body)
            except BadRequest as exc:
                await _answer_error(connection, writer, 400, str(exc), limits)
                return
            try:
                response = await handler(request)
            except Exception as exc:  # the last line of defence: a sentence, not a hang
                response = Response.text(500, f"internal error: {type(exc).__name__}: {exc}")
            await _send(connection, writer, response, limits, head_only=request.method == "HEAD")
            if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                return  # h11 says the connection does not go on (Connection: close, HTTP/1.0)
            connection.start_next_cycle()
    except (OSError, TimeoutError, h11.LocalProtocolError):
        return  # the client went away, stopped reading, or cannot be answered any more
    finally:
        connections.drop(peer)
        await _close(writer, limits)


async def _close(writer: asyncio.StreamWriter, limits: HttpLimits) -> None:
    """Close after what is buffered has left, within the write deadline; else drop it."""
    writer.close()
    try:
        async with asyncio.timeout(limits.write):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()
