"""SIP over WebSocket (RFC 7118): the HTTP upgrade, then one SIP message per WebSocket
message, over a stream connection that is already open (and already TLS for WSS).

wsproto does the WebSocket protocol itself, sans-I/O: the RFC 6455 opening handshake (on
h11) and the framing, masking, fragments, control frames and close handshake. This
module feeds it the bytes the connection reads, writes the bytes it produces, and turns
each complete WebSocket message into one SIP message, parsed as a whole: RFC 7118 §5.1
puts exactly one SIP message in each WebSocket message, so Content-Length frames
nothing here (it is optional, as on a datagram).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from typing import Protocol

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import ProtocolError

from probe.evidence.model import WebSocketErrorKind, WebSocketUpgrade, interned
from probe.net.connect import StreamConnection, alert_text
from probe.net.receive import READ_SIZE, PeerClosed
from probe.sip import DEFAULT_LIMITS, Limits, Message, SipLimitError, SipParseError, parse_message

__all__ = ["SUBPROTOCOL", "WebSocketClosed", "WebSocketFramer", "WebSocketLink", "upgrade"]

SUBPROTOCOL = "sip"
"""The WebSocket subprotocol of SIP (RFC 7118 §4.1)."""

MAX_ANSWER_BYTES = 8 * 1024
"""Bytes of an upgrade answer kept as evidence (and read before giving up on its head):
an answer head is a few hundred bytes; a refusal's body is only shown, never judged."""

_HEAD_END = b"\r\n\r\n"
_CRLF = b"\r\n"
_NORMAL_CLOSURE = 1000
"""RFC 6455 §7.4.1: the purpose of the connection was fulfilled."""


class WebSocketClosed(PeerClosed):
    """The peer closed the WebSocket (a Close frame, RFC 6455 §5.5.1)."""

    def __init__(self, code: int, reason: str, pending: int, peer: str = "server") -> None:
        super().__init__(pending)
        self.code = code
        said = f": {reason}" if reason else ""
        self.args = (f"the {peer} closed the WebSocket (close code {code}{said})",)


class _Writer(Protocol):
    """Where the bytes wsproto produces go: the stream's writer."""

    def write(self, data: bytes) -> None: ...


class WebSocketLink:
    """One open SIP WebSocket connection: wsproto's state, shared by what writes SIP
    messages and what reads them, and the stream under it. `peer` names the other end in
    errors: the server we dialled, or (`sipprobe answer`, probe.answer) the client that
    called us."""

    def __init__(self, ws: WSConnection, writer: _Writer, peer: str = "server") -> None:
        self.ws = ws
        self.writer = writer
        self.peer = peer

    def encode(self, wire: bytes) -> bytes:
        """One SIP message as one WebSocket message: a text frame when it is UTF-8, a
        binary one otherwise (RFC 7118 §4.2). A closed WebSocket is a lost connection."""
        if self.ws.state is not ConnectionState.OPEN:
            raise ConnectionError(f"the WebSocket is no longer open ({self.ws.state.name})")
        try:
            text = wire.decode("utf-8")
        except UnicodeDecodeError:
            return self.ws.send(BytesMessage(data=wire))
        return self.ws.send(TextMessage(data=text))

    def ping_frame(self, data: bytes) -> bytes:
        """A Ping carrying `data` (RFC 6455 §5.5.2; at most 125 bytes, §5.5), whose Pong
        must echo it (§5.5.3). A closed WebSocket is a lost connection."""
        if self.ws.state is not ConnectionState.OPEN:
            raise ConnectionError(f"the WebSocket is no longer open ({self.ws.state.name})")
        return self.ws.send(Ping(payload=data))

    def close_frame(self) -> bytes:
        """The Close frame that starts (or answers) the closing handshake, if one is due
        (RFC 6455 §7.1.2); nothing once the WebSocket is closing or closed."""
        if self.ws.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            return b""
        return self.ws.send(CloseConnection(code=_NORMAL_CLOSURE))

    @property
    def closed(self) -> bool:
        """The closing handshake is complete (both Close frames went)."""
        return self.ws.state is ConnectionState.CLOSED

    def closing(self, data: bytes) -> None:
        """Bytes read while our Close awaits the server's: anything but its Close (a
        late message, a ping) is of no use any more, and a frame wsproto cannot accept
        ends the wait as a Close would (RFC 6455 §7.1.7: fail the connection)."""
        if self.closed:
            return
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, CloseConnection) and self.ws.state is not ConnectionState.CLOSED:
                # wsproto's word for a frame it could not accept: stop waiting.
                raise ConnectionError(f"WebSocket framing broken while closing: {event.reason}")

    def framer(self, limits: Limits = DEFAULT_LIMITS) -> WebSocketFramer:
        return WebSocketFramer(self, limits)


class WebSocketFramer:
    """SIP messages out of the WebSocket's bytes, with a stream framer's reader contract
    (probe.net.framing.MessageFramer): `next_message` returns a message, None for "feed
    me more", or raises.

    Pings are answered as they are read (RFC 6455 §5.5.2) and the data of every Pong is
    kept (`pongs`); a Close from the server is answered and raised as `WebSocketClosed`;
    a frame wsproto cannot accept (bad masking, invalid UTF-8 in a text frame...)
    poisons the framer with a `SipParseError`, as a stream that lost its framing does.

    A WebSocket message of nothing but CRLFs is a keep-alive, skipped and counted
    (`keepalives`), never parsed as a SIP message: RFC 7118 §6 leaves RFC 5626's CRLF
    keep-alive undefined over WebSocket, yet browser clients send a CRLF CRLF message
    and servers (Kamailio) answer it with a CRLF one.
    """

    def __init__(self, link: WebSocketLink, limits: Limits = DEFAULT_LIMITS) -> None:
        self._link = link
        self._limits = limits
        self._message = bytearray()
        self._started = False
        self._ready: deque[bytes] = deque()
        self._last_frame = b""
        self._error: SipParseError | None = None
        self._closed: tuple[int, str] | None = None
        self._pongs: list[bytes] = []
        self._keepalives = 0

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def pongs(self) -> tuple[bytes, ...]:
        """The application data of every Pong received, in order."""
        return tuple(self._pongs)

    @property
    def keepalives(self) -> int:
        """WebSocket messages of nothing but CRLFs skipped so far."""
        return self._keepalives

    @property
    def max_message_bytes(self) -> int:
        """The largest WebSocket message taken for a SIP message: a head and a body at
        their limits."""
        return self._limits.max_header_bytes + self._limits.max_body_bytes

    @property
    def buffered_bytes(self) -> int:
        """Bytes of a message begun and not finished."""
        return len(self._message)

    @property
    def last_frame(self) -> bytes:
        """The exact SIP message last returned by `next_message`: evidence."""
        return self._last_frame

    @property
    def partial(self) -> bool:
        """True while a WebSocket message has begun and not ended (a data frame's payload
        or a fragment has arrived, its end has not)."""
        return self._started

    def buffered(self, limit: int | None = None) -> bytes:
        return bytes(self._message if limit is None else self._message[:limit])

    def feed(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error.with_traceback(None)
        self._link.ws.receive_data(data)
        self._pump()

    def next_message(self) -> Message | None:
        if self._error is not None:
            raise self._error.with_traceback(None)
        self._pump()
        while self._ready and _only_crlfs(self._ready[0]):
            self._ready.popleft()
            self._keepalives += 1
        if not self._ready:
            if self._closed is not None:
                raise WebSocketClosed(
                    *self._closed, pending=len(self._message), peer=self._link.peer
                )
            return None
        data = self._ready.popleft()
        self._last_frame = data
        try:
            return parse_message(data, limits=self._limits)
        except SipParseError as exc:
            self._error = exc
            raise

    def _pump(self) -> None:
        """Take every event wsproto has ready: messages, pings, the close."""
        link = self._link
        for event in link.ws.events():
            if isinstance(event, TextMessage | BytesMessage):
                data = event.data.encode("utf-8") if isinstance(event, TextMessage) else event.data
                self._take(bytes(data), finished=event.message_finished)
            elif isinstance(event, Ping) and link.ws.state is ConnectionState.OPEN:
                link.writer.write(link.ws.send(event.response()))
            elif isinstance(event, Pong):
                self._pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return

    def _take(self, data: bytes, *, finished: bool) -> None:
        self._started = True
        self._message += data
        if len(self._message) > self.max_message_bytes:
            self._fail(
                SipLimitError(
                    "max_header_bytes+max_body_bytes",
                    self.max_message_bytes,
                    f"a WebSocket message of more than {self.max_message_bytes} bytes",
                )
            )
            return
        if finished:
            self._ready.append(bytes(self._message))
            self._message.clear()
            self._started = False

    def _on_close(self, event: CloseConnection) -> None:
        link = self._link
        if link.ws.state is ConnectionState.REMOTE_CLOSING:
            # The server's Close: answered with ours (RFC 6455 §5.5.1), then the server
            # ends the TCP connection.
            link.writer.write(link.ws.send(event.response()))
            self._closed = (event.code, event.reason or "")
        elif link.ws.state is ConnectionState.CLOSED:
            self._closed = (event.code, event.reason or "")
        else:
            # wsproto reports a frame it could not accept as a close it would send.
            self._fail(
                SipParseError(
                    f"the {link.peer} broke WebSocket framing: {event.reason} "
                    f"(RFC 6455 close code {event.code})"
                ),
                code=event.code,
            )

    def _fail(self, error: SipParseError, *, code: int = 1009) -> None:
        """Poison the framer and start the close (1009: message too big, RFC 6455
        §7.4.1, unless another code says why)."""
        self._error = error
        link = self._link
        if link.ws.state is ConnectionState.OPEN:
            link.writer.write(link.ws.send(CloseConnection(code=code)))
        raise error


def _only_crlfs(data: bytes) -> bool:
    return bool(data) and data == _CRLF * (len(data) // 2)


_RESOURCE = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
"""RFC 6455 §3: a resource name is an absolute path and an optional query; their
characters are RFC 3986 §3.3's pchar, "/" and "?", with %XX escapes."""


def resource_problem(resource: str) -> str | None:
    """Why `resource` cannot be the upgrade's request target, or None when it can."""
    if not resource.startswith("/"):
        return f"{resource!r} must start with / (RFC 6455 §3: an absolute path)"
    if _RESOURCE.fullmatch(resource) is None:
        return (
            f"{resource!r} is not a path and query of URI characters (RFC 6455 §3, "
            "RFC 3986 §3.3): escape others as %XX"
        )
    return None


def host_header(host: str, port: int, default_port: int) -> str:
    """RFC 6455 §4.1 (client requirement 4): the host, and the port unless it is the
    scheme's default; an IPv6 literal in brackets (RFC 3986 §3.2.2)."""
    where = f"[{host}]" if ":" in host else host
    return where if port == default_port else f"{where}:{port}"


async def upgrade(
    connection: StreamConnection,
    *,
    host: str,
    resource: str = "/",
    user_agent: str,
    timeout: float,
) -> WebSocketUpgrade:
    """The opening handshake (RFC 6455 §4.1) asking for the `sip` subprotocol (RFC 7118
    §4.1), under `timeout` (the handshake deadline). On success the connection carries
    SIP over WebSocket from then on (`connection.websocket`).

    Never raises for what the server does; `ok` is True only for a 101 that wsproto
    accepts and that names the `sip` subprotocol."""
    loop = asyncio.get_running_loop()
    ws = WSConnection(ConnectionType.CLIENT)
    try:
        request = ws.send(
            Request(
                host=host,
                target=resource,
                subprotocols=[SUBPROTOCOL],
                extra_headers=[(b"User-Agent", user_agent.encode("ascii", "replace"))],
            )
        )
    except UnicodeError as exc:
        # wsproto writes the Host header in IDNA, which refuses a label above 63
        # characters (RFC 1035 §2.3.4): nothing was sent.
        return WebSocketUpgrade(
            ok=False,
            request=b"",
            error_kind="error",
            error=f"the upgrade cannot name the host {host!r}: {exc}",
        )
    started = loop.time()
    received = bytearray()

    def failed(kind: WebSocketErrorKind, error: str) -> WebSocketUpgrade:
        return WebSocketUpgrade(
            ok=False,
            request=request,
            response=bytes(received[:MAX_ANSWER_BYTES]),
            elapsed_ms=(loop.time() - started) * 1000,
            error_kind=kind,
            error=error,
        )

    trace = connection.trace
    try:
        async with asyncio.timeout(timeout):
            connection.writer.write(request)
            if trace is not None:
                trace.sent(request, "the WebSocket upgrade")
            await connection.writer.drain()
            while True:
                data = await connection.reader.read(READ_SIZE)
                if not data:
                    return failed("closed", _closed_text(received))
                received += data
                ws.receive_data(data)
                for event in ws.events():
                    if trace is not None and isinstance(event, AcceptConnection | RejectConnection):
                        head_end = received.find(_HEAD_END)
                        head = received if head_end < 0 else received[: head_end + 4]
                        trace.received(bytes(head), "the answer to the upgrade")
                    if isinstance(event, AcceptConnection):
                        return _accepted(connection, ws, request, received, event, started)
                    if isinstance(event, RejectConnection):
                        return failed(
                            "rejected",
                            f"the server answered the upgrade with {event.status_code} "
                            "instead of 101 Switching Protocols",
                        )
                if len(received) > MAX_ANSWER_BYTES:
                    return failed("protocol", f"no answer head within {MAX_ANSWER_BYTES} bytes")
    except TimeoutError:
        return failed(
            "timeout",
            f"no complete answer to the WebSocket upgrade within {timeout:g} s "
            "(handshake deadline)",
        )
    except ProtocolError as exc:
        # wsproto refused the answer: not HTTP, or a 101 that breaks RFC 6455 §4.1.
        return failed("protocol", f"the upgrade answer is not a valid WebSocket answer: {exc}")
    except ConnectionResetError:
        return failed("reset", "the server reset the connection during the WebSocket upgrade")
    except ssl.SSLError as exc:
        alert = alert_text(exc.reason or "")
        if alert is not None:
            return failed("tls_alert", f"the server sent TLS alert '{alert}'")
        return failed("error", f"TLS error during the WebSocket upgrade: {exc.reason or exc}")
    except OSError as exc:
        return failed("error", f"the WebSocket upgrade failed: {exc}")


def _closed_text(received: bytearray) -> str:
    if received:
        return (
            f"the server closed the connection after {len(received)} bytes of an "
            "incomplete upgrade answer"
        )
    return "the server closed the connection without answering the WebSocket upgrade"


def _accepted(
    connection: StreamConnection,
    ws: WSConnection,
    request: bytes,
    received: bytearray,
    event: AcceptConnection,
    started: float,
) -> WebSocketUpgrade:
    """The evidence of a 101 wsproto accepted; the link is attached to the connection
    whatever the subprotocol, so that closing it sends a Close frame."""
    loop = asyncio.get_running_loop()
    head_end = received.find(_HEAD_END)
    # Frames that came with the answer stay in wsproto, for the framer; only the head is
    # evidence of the upgrade.
    response = bytes(received[: head_end + len(_HEAD_END)] if head_end >= 0 else received)
    connection.websocket = WebSocketLink(ws, connection.writer)
    subprotocol = interned(event.subprotocol)
    elapsed = (loop.time() - started) * 1000
    if subprotocol != SUBPROTOCOL:
        # RFC 6455 lets a server leave the subprotocol out; RFC 7118 §4.1 does not: its
        # 101 must name `sip`, and without it nothing says the server speaks SIP here.
        return WebSocketUpgrade(
            ok=False,
            request=request,
            response=response,
            elapsed_ms=elapsed,
            subprotocol=subprotocol,
            error_kind="rejected",
            error="the server's 101 answer does not agree to the 'sip' subprotocol (RFC 7118 §4.1)",
        )
    return WebSocketUpgrade(
        ok=True, request=request, response=response, elapsed_ms=elapsed, subprotocol=subprotocol
    )
