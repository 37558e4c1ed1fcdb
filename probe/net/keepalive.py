"""The keep-alive probe: one ping on a connection that carried OPTIONS, and the pong it
gets within the `pong` deadline (`--keepalive`).

Over TCP and TLS it is RFC 5626's CRLF keep-alive (§3.5.1, §4.4.1): between messages the
client sends a double CRLF, the server answers with a single CRLF. The stream framer
skips keep-alive CRLFs and counts them (probe.sip.StreamFramer.crlfs), so the pong is
the first CRLF it skips after the ping, and a SIP message that arrives meanwhile is
framed and kept as a message, never mistaken for the pong.

Over WebSocket (ws, wss) the ping is a WebSocket Ping (RFC 6455 §5.5.2) and the pong the
Pong that echoes its application data (§5.5.3). RFC 7118 §6 names WebSocket's own
Ping/Pong as how SIP over WebSocket keeps its connection and says RFC 5626's CRLF
keep-alive is not defined there; the Ping is also answered by the WebSocket layer every
RFC 6455 endpoint has, so a missing Pong says the connection is dead, not that an
optional SIP feature is absent.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl

from probe.evidence.model import (
    WEBSOCKET_TRANSPORTS,
    KeepaliveEvidence,
    KeepaliveMechanism,
    KeepaliveOutcome,
    Received,
)
from probe.net.connect import StreamConnection, alert_text
from probe.net.exchange import Clock
from probe.net.framing import MessageFramer
from probe.net.receive import READ_SIZE, PeerClosed
from probe.net.websocket import WebSocketFramer
from probe.sip import SipError, StreamFramer

__all__ = ["CRLF_PING", "after_options", "asked_for", "send_keepalive"]

CRLF_PING = b"\r\n\r\n"
"""RFC 5626 §4.4.1: the client's ping, a double CRLF."""
_PING_DATA_BYTES = 8
"""Random application data of a WebSocket Ping: enough that its Pong cannot be an
unsolicited one (RFC 6455 §5.5.3) by chance."""
_SNIPPET_BYTES = 512


def asked_for(transport: str) -> KeepaliveEvidence:
    """The keep-alive a probe over `transport` owes before it is sent (`pending`), or
    why it will not be (UDP)."""
    if transport == "udp":
        return KeepaliveEvidence(
            "none",
            "not_sent",
            error="UDP has no CRLF keep-alive (RFC 5626 §4.4.1 is for connection-oriented "
            "transports; over UDP it is STUN, §4.4.2, which sipprobe does not send)",
        )
    mechanism: KeepaliveMechanism = "websocket" if transport in WEBSOCKET_TRANSPORTS else "crlf"
    return KeepaliveEvidence(mechanism, "pending")


async def after_options(
    connection: StreamConnection,
    framer: MessageFramer,
    *,
    lost: bool,
    deadline: float,
    clock_ms: Clock,
) -> KeepaliveEvidence:
    """The keep-alive ping after the OPTIONS, on the same connection, unless the OPTIONS
    lost it (`lost`)."""
    if lost:
        mechanism: KeepaliveMechanism = "websocket" if connection.websocket is not None else "crlf"
        return KeepaliveEvidence(
            mechanism,
            "not_sent",
            deadline_s=deadline,
            error="not sent: the connection was lost during the OPTIONS",
        )
    return await send_keepalive(connection, framer, deadline=deadline, clock_ms=clock_ms)


async def send_keepalive(
    connection: StreamConnection,
    framer: MessageFramer,
    *,
    deadline: float,
    clock_ms: Clock,
) -> KeepaliveEvidence:
    """Send one ping and wait `deadline` seconds for its pong; never raises for what the
    server does. `framer` is the one the connection's SIP messages were read through."""
    mechanism: KeepaliveMechanism = "websocket" if isinstance(framer, WebSocketFramer) else "crlf"
    if framer.partial:
        # The server's last message has begun and not ended: a CRLF now would be read as
        # part of it, so no pong could be recognised.
        return KeepaliveEvidence(
            mechanism,
            "not_sent",
            deadline_s=deadline,
            error="not sent: a message from the server was still incomplete",
        )
    try:
        while framer.next_message() is not None:
            pass  # what came after the last answer: not the ping's business
    except (SipError, PeerClosed) as exc:
        return KeepaliveEvidence(
            mechanism, "not_sent", deadline_s=deadline, error=f"not sent: {exc}"
        )
    if not isinstance(framer, StreamFramer | WebSocketFramer):
        raise TypeError(f"no keep-alive for a {type(framer).__name__}")
    return await _wait(connection, framer, mechanism, deadline, clock_ms)


async def _wait(
    connection: StreamConnection,
    framer: StreamFramer | WebSocketFramer,
    mechanism: KeepaliveMechanism,
    deadline: float,
    clock_ms: Clock,
) -> KeepaliveEvidence:
    loop = asyncio.get_running_loop()
    received: list[Received] = []
    if isinstance(framer, WebSocketFramer):
        assert connection.websocket is not None
        ping = secrets.token_hex(_PING_DATA_BYTES // 2).encode("ascii")
        seen_pongs = len(framer.pongs)
    else:
        ping = CRLF_PING
        seen_crlfs = framer.crlfs

    def ended(outcome: KeepaliveOutcome, error: str | None = None) -> KeepaliveEvidence:
        return KeepaliveEvidence(
            mechanism,
            outcome,
            ping=ping,
            sent_at_ms=sent_at,
            deadline_s=deadline,
            received=tuple(received),
            other_pongs=others(),
            error=error,
        )

    def others() -> tuple[bytes, ...]:
        if not isinstance(framer, WebSocketFramer):
            return ()
        return tuple(data for data in framer.pongs[seen_pongs:] if data != ping)

    def pong() -> bytes | None:
        """The pong, once it has come."""
        if isinstance(framer, WebSocketFramer):
            return ping if ping in framer.pongs[seen_pongs:] else None
        count = framer.crlfs - seen_crlfs
        return b"\r\n" * count if count else None

    sent_at = clock_ms()
    end = loop.time() + deadline
    trace = connection.trace
    try:
        async with asyncio.timeout(deadline):
            if connection.websocket is not None:
                connection.writer.write(connection.websocket.ping_frame(ping))
            else:
                connection.writer.write(ping)
            if trace is not None:
                trace.note(f"keep-alive ping sent ({_shown(mechanism, ping)})")
            await connection.writer.drain()
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        why = "the server stopped reading" if isinstance(exc, TimeoutError) else str(exc)
        return ended("send_failed", f"could not send the ping: {why}")
    try:
        while True:
            remaining = end - loop.time()
            if remaining <= 0:
                return ended("timeout", _no_pong(mechanism, deadline, received))
            try:
                async with asyncio.timeout(remaining):
                    data = await connection.reader.read(READ_SIZE)
            except TimeoutError:
                return ended("timeout", _no_pong(mechanism, deadline, received))
            if not data:
                return ended("closed", "the server closed the connection instead of answering")
            framer.feed(data)
            while framer.next_message() is not None:
                received.append(Received(clock_ms(), framer.last_frame))
                if trace is not None:
                    trace.received(framer.last_frame, "while waiting for the pong")
            answer = pong()
            if answer is not None:
                at = clock_ms()
                if trace is not None:
                    trace.note(f"keep-alive pong received ({_shown(mechanism, answer)})")
                return KeepaliveEvidence(
                    mechanism,
                    "pong",
                    ping=ping,
                    sent_at_ms=sent_at,
                    pong_at_ms=at,
                    pong=answer,
                    deadline_s=deadline,
                    received=tuple(received),
                    other_pongs=others(),
                )
    except SipError as exc:
        received.append(Received(clock_ms(), framer.buffered(_SNIPPET_BYTES), str(exc)))
        return ended("malformed", f"the server sent what is neither a pong nor SIP: {exc}")
    except PeerClosed as exc:
        return ended("closed", f"{exc} instead of answering")
    except ssl.SSLError as exc:
        alert = alert_text(exc.reason or "")
        if alert is not None:
            return ended("tls_alert", f"the server sent TLS alert '{alert}'")
        return ended("closed", f"TLS error while waiting for the pong: {exc.reason or exc}")
    except ConnectionResetError:
        return ended("reset", "the server reset the connection")
    except OSError as exc:
        return ended("closed", f"read failed: {exc}")


def _shown(mechanism: KeepaliveMechanism, data: bytes) -> str:
    if mechanism == "websocket":
        return f"WebSocket {data.decode('ascii', 'backslashreplace')!r}"
    return " ".join("CRLF" for _ in range(len(data) // 2))


def _no_pong(mechanism: KeepaliveMechanism, deadline: float, received: list[Received]) -> str:
    what = "WebSocket Pong echoing the Ping" if mechanism == "websocket" else "CRLF pong"
    also = f" ({len(received)} SIP message(s) came instead)" if received else ""
    return f"no {what} within {deadline:g} s (pong deadline){also}"
