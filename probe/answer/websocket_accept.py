"""The server side of SIP over WebSocket (RFC 7118) for `sipprobe answer`.

A ws or wss listener accepts TCP (wss runs the TLS handshake first, probe.answer.
tls_accept); then the caller's HTTP upgrade is read under one deadline and a size limit,
so a caller that dribbles its request or sends an endless head is cut off. wsproto reads
the request (RFC 6455 §4.2.1: GET, Host, `Upgrade: websocket`, `Connection: Upgrade`,
`Sec-WebSocket-Key`, version 13) and writes the 101 (§4.2.2, the Accept made from the
key); we take it only when it offers the `sip` subprotocol (RFC 7118 §4.1), and refuse
anything else with an HTTP error that says why (400, 426 for another WebSocket version,
431 for a head too large, 408 for one too slow), recorded as the connection's error.

From the 101 on, each WebSocket message carries one SIP message (RFC 7118 §5.1), read by
probe.net.websocket's framer (which answers a Ping with its Pong and the caller's Close
with ours) and handed to the calls as a stream connection's messages are; each message a
call sends goes back as one WebSocket message (`WebSocketCallerLink`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, RejectConnection, Request, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from probe.answer.link import StreamLink
from probe.errors import ProbeError
from probe.evidence.inbound import InboundTls, InboundTransport
from probe.evidence.model import WebSocketErrorKind, WebSocketUpgrade
from probe.net.connect import alert_text
from probe.net.websocket import SUBPROTOCOL, WebSocketClosed, WebSocketLink
from probe.sip import Message, SipError

__all__ = [
    "MAX_UPGRADE_BYTES",
    "UPGRADE_SECONDS",
    "UpgradeRefusal",
    "Upgraded",
    "WebSocketCallerLink",
    "accept_upgrade",
    "judge_upgrade",
    "malformed",
    "read_websocket",
    "refusal_bytes",
    "request_head",
]

UPGRADE_SECONDS = 10.0
"""Deadline of the whole upgrade request, from the connection (after TLS, for wss) to
its blank line: a caller that sends it a byte at a time (slow loris) is cut off here."""
MAX_UPGRADE_BYTES = 8 * 1024
"""The largest upgrade request taken: a browser's or an SBC's is well under 2 KiB."""
SEND_SECONDS = 5.0
"""How long our answer to the upgrade, or a message's bytes, may wait to be written."""
READ_SIZE = 65536
_HEAD_END = b"\r\n\r\n"
_KEEPALIVE_PONG = "\r\n"
"""What a CRLF keep-alive message is answered with: RFC 7118 §6 leaves RFC 5626's CRLF
keep-alive undefined over WebSocket, yet browser clients send a CRLF CRLF message and
expect the one-CRLF answer a stream gets (RFC 5626 §4.4.1), as Kamailio gives it."""


@dataclass(frozen=True, slots=True)
class UpgradeRefusal:
    """Why we do not open the WebSocket, and the HTTP status that says so."""

    status: int
    why: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


def judge_upgrade(request: Request) -> UpgradeRefusal | None:
    """None when a WebSocket upgrade wsproto accepted is one we take: it offers `sip`.

    RFC 6455 §4.2.2 would let a server answer 101 without a subprotocol, but RFC 7118 §4.1
    has a SIP client offer `sip` and the server name it in its 101: a client that does not
    offer it has not asked to speak SIP here, so it is refused rather than upgraded."""
    if SUBPROTOCOL in request.subprotocols:
        return None
    offered = ", ".join(repr(name) for name in request.subprotocols) or "none"
    return UpgradeRefusal(
        400,
        f"the upgrade does not offer the 'sip' subprotocol (offered: {offered}); "
        "RFC 7118 §4.1: a SIP WebSocket client asks for it in Sec-WebSocket-Protocol",
    )


def malformed(exc: RemoteProtocolError | UnicodeError) -> UpgradeRefusal:
    """The refusal of a request wsproto could not take: its own hint (426 and the
    version we speak for another WebSocket version, RFC 6455 §4.4), else 400."""
    hint = exc.event_hint if isinstance(exc, RemoteProtocolError) else None
    if isinstance(exc, UnicodeError):
        why = "not a WebSocket upgrade request: its Host is not a host name (IDNA)"
    else:
        why = f"not a WebSocket upgrade request (RFC 6455 §4.2.1): {exc}"
    if isinstance(hint, RejectConnection):
        return UpgradeRefusal(hint.status_code, why, tuple(hint.headers))
    return UpgradeRefusal(400, why)


def refusal_bytes(refusal: UpgradeRefusal) -> bytes:
    """The HTTP/1.1 answer of a refusal, its sentence as the body, closing the connection
    (RFC 9112 §9.6). Written here rather than through wsproto: its handshake can no
    longer answer once a request head broke off or ran over its size."""
    body = (refusal.why + "\n").encode("utf-8")
    try:
        reason = HTTPStatus(refusal.status).phrase
    except ValueError:
        reason = ""
    headers = [
        *refusal.headers,
        (b"Content-Type", b"text/plain; charset=utf-8"),
        (b"Content-Length", str(len(body)).encode("ascii")),
        (b"Connection", b"close"),
    ]
    head = f"HTTP/1.1 {refusal.status} {reason}\r\n".encode("ascii")
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + body


def request_head(received: bytes | bytearray) -> bytes:
    """The upgrade request as evidence: its head, or what came of one (at most the limit)."""
    end = received.find(_HEAD_END)
    kept = received[: end + len(_HEAD_END)] if end >= 0 else received[:MAX_UPGRADE_BYTES]
    return bytes(kept)


@dataclass(frozen=True, slots=True)
class Upgraded:
    """How a caller's upgrade ended: the evidence, and wsproto's open connection when we
    accepted it."""

    evidence: WebSocketUpgrade
    ws: WSConnection | None = None


class _Refused(ProbeError):
    """An upgrade request refused while it was read: the answer to send, and why."""

    def __init__(self, refusal: UpgradeRefusal, kind: WebSocketErrorKind) -> None:
        super().__init__(refusal.why)
        self.refusal = refusal
        self.kind = kind


async def _read_request(
    reader: asyncio.StreamReader, ws: WSConnection, received: bytearray
) -> Request | None:
    """The upgrade request once wsproto has read all of its head; None when the caller
    closed before. Raises _Refused for a request that cannot be taken."""
    while True:
        data = await reader.read(MAX_UPGRADE_BYTES + 1 - len(received))
        if not data:
            return None
        received += data
        try:
            ws.receive_data(data)
            events = list(ws.events())
        except (RemoteProtocolError, UnicodeError) as exc:
            # UnicodeError: wsproto decodes the Host as IDNA, and some do not decode.
            raise _Refused(malformed(exc), "protocol") from None
        request = next((event for event in events if isinstance(event, Request)), None)
        if request is not None:
            return request
        if len(received) > MAX_UPGRADE_BYTES:
            why = f"an upgrade request head of more than {MAX_UPGRADE_BYTES} bytes"
            raise _Refused(UpgradeRefusal(431, why), "protocol")


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write our answer; a caller that does not read it is not waited for."""
    writer.write(data)
    async with asyncio.timeout(SEND_SECONDS):
        await writer.drain()


async def accept_upgrade(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, server_header: str
) -> Upgraded:
    """Read the caller's upgrade within UPGRADE_SECONDS and answer it: 101 with `sip`
    (wsproto then holds the open WebSocket), or a refusal. Never raises for what the
    caller does; the evidence says what happened."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    ws = WSConnection(ConnectionType.SERVER)
    received = bytearray()

    def outcome(
        response: bytes = b"",
        kind: WebSocketErrorKind | None = None,
        error: str | None = None,
    ) -> WebSocketUpgrade:
        return WebSocketUpgrade(
            ok=kind is None,
            request=request_head(received),
            response=response,
            elapsed_ms=(loop.time() - started) * 1000,
            subprotocol=SUBPROTOCOL if kind is None else None,
            error_kind=kind,
            error=error,
        )

    answer = b""
    try:
        try:
            async with asyncio.timeout(UPGRADE_SECONDS):
                request = await _read_request(reader, ws, received)
        except TimeoutError:
            why = f"the caller did not finish its WebSocket upgrade within {UPGRADE_SECONDS:g} s"
            raise _Refused(UpgradeRefusal(408, why), "timeout") from None
        if request is None:
            return Upgraded(outcome(b"", "closed", _closed_text(received)))
        refusal = judge_upgrade(request)
        if refusal is not None:
            raise _Refused(refusal, "rejected")
        # Bytes after the request's blank line stay unread in wsproto's HTTP reader: a
        # client sends no frame before our 101 (RFC 6455 §4.1 has it wait for the answer).
        answer = ws.send(
            AcceptConnection(
                subprotocol=SUBPROTOCOL,
                extra_headers=[(b"Server", server_header.encode("ascii", "replace"))],
            )
        )
        await _send(writer, answer)
        return Upgraded(outcome(answer), ws)
    except _Refused as refused:
        answer = refusal_bytes(refused.refusal)
        # The refusal is recorded whether or not the caller reads it.
        with contextlib.suppress(OSError, TimeoutError):
            await _send(writer, answer)
        return Upgraded(outcome(answer, refused.kind, refused.refusal.why))
    except TimeoutError:
        return Upgraded(outcome(answer, "timeout", "the caller did not read our 101 answer"))
    except ConnectionResetError:
        return Upgraded(outcome(answer, "reset", "the caller reset the connection in the upgrade"))
    except ssl.SSLError as exc:
        alert = alert_text(exc.reason or "")
        if alert is not None:
            return Upgraded(outcome(answer, "tls_alert", f"the caller sent TLS alert '{alert}'"))
        return Upgraded(outcome(answer, "error", f"TLS error in the upgrade: {exc.reason or exc}"))
    except (OSError, LocalProtocolError) as exc:
        return Upgraded(outcome(answer, "error", f"the WebSocket upgrade failed: {exc}"))


def _closed_text(received: bytearray) -> str:
    if received:
        return (
            f"the caller closed the connection after {len(received)} bytes of an "
            "incomplete WebSocket upgrade request"
        )
    return "the caller closed the connection without sending a WebSocket upgrade request"


class WebSocketCallerLink(StreamLink):
    """A caller's WebSocket: each SIP message a call sends goes as one WebSocket message
    (text when it is UTF-8, binary otherwise, RFC 7118 §4.2), over the connection its
    INVITE came on."""

    def __init__(
        self,
        transport: InboundTransport,
        writer: asyncio.StreamWriter,
        peer: tuple[str, int],
        local: tuple[str, int],
        tls: InboundTls | None,
        upgraded: Upgraded,
    ) -> None:
        super().__init__(transport, writer, peer, local, tls)
        assert upgraded.ws is not None, "only an accepted upgrade carries SIP"
        self.websocket = upgraded.evidence
        self.frames = WebSocketLink(upgraded.ws, writer, peer="caller")

    def send(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            wire = self.frames.encode(data)
        except (ConnectionError, LocalProtocolError):
            self.lose()  # the WebSocket is closing: nothing more can go
            return False
        return super().send(wire)

    def start_close(self) -> None:
        """Our Close frame (RFC 6455 §7.1.2); the connection's reader ends once the
        caller's Close answers it, and then closes the TCP connection (§7.1.1)."""
        if self.writer.is_closing():
            return
        try:
            frame = self.frames.close_frame()
        except LocalProtocolError:
            return
        if frame:
            self.writer.write(frame)


async def read_websocket(
    link: WebSocketCallerLink,
    reader: asyncio.StreamReader,
    deliver: Callable[[Message, bytes], None],
    *,
    idle_s: float,
) -> str | None:
    """Hand each SIP message of the caller's WebSocket to `deliver` until the caller
    closes (its Close answered, or the connection ended); None then, or why the
    connection had to be given up (something that is not SIP, framing broken, silence
    for `idle_s`)."""
    framer = link.frames.framer()
    answered = 0
    while True:
        async with asyncio.timeout(idle_s):
            data = await reader.read(READ_SIZE)
        if not data:
            return None
        try:
            framer.feed(data)
            while True:
                message = framer.next_message()
                if framer.keepalives > answered and link.frames.ws.state is ConnectionState.OPEN:
                    for _ in range(framer.keepalives - answered):
                        link.writer.write(link.frames.ws.send(TextMessage(_KEEPALIVE_PONG)))
                answered = framer.keepalives
                if message is None:
                    break
                deliver(message, framer.last_frame)
        except WebSocketClosed:
            return None  # the caller's Close, answered with ours by the framer
        except SipError as exc:
            return f"sent something that is not SIP over WebSocket: {exc}"
        async with asyncio.timeout(SEND_SECONDS):
            await link.writer.drain()
