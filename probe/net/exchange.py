"""Sending one SIP request and collecting everything that comes back, under a deadline.

Responses are matched to the request by RFC 3261 §17.1.3 (top Via branch and CSeq
method): a stray response is recorded and ignored, never taken for the answer. The
exchange ends on the first matching final response, a framing error, the peer closing,
a reset, or the deadline, and always says which.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import cast

from probe.evidence import ExchangeOutcome, Received, SipExchange
from probe.net.connect import StreamConnection, alert_text
from probe.sip import (
    Message,
    NonInviteClientTransaction,
    Request,
    Response,
    Retransmit,
    SipError,
    StreamFramer,
    TimedOut,
    TimerConfig,
    match_response,
    parse_message,
)

READ_SIZE = 65536
_SNIPPET_BYTES = 512
"""How much of unframeable data is kept as evidence."""

Clock = Callable[[], float]


def is_final_answer(request: Request, message: Message) -> bool:
    """A final response that belongs to `request`'s transaction (§17.1.3)."""
    return (
        isinstance(message, Response)
        and message.status_code >= 200
        and match_response(request, message).matched
    )


async def exchange_over_stream(
    connection: StreamConnection,
    framer: StreamFramer,
    request: Request,
    *,
    timeout: float,
    clock_ms: Clock,
) -> SipExchange:
    wire = request.to_bytes()
    sent_at = clock_ms()
    try:
        connection.writer.write(wire)
        await connection.writer.drain()
    except (OSError, ssl.SSLError) as exc:
        return SipExchange(
            method=request.method,
            request=wire,
            sent_at_ms=sent_at,
            outcome="send_failed",
            error=f"could not send the request: {exc}",
        )
    received: list[Received] = []
    outcome: ExchangeOutcome = "timeout"
    final_at: float | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    message = framer.next_message()
                except SipError as exc:
                    # The stream lost its framing: nothing after this can be trusted.
                    outcome, error = "malformed", str(exc)
                    received.append(Received(clock_ms(), framer.buffered(_SNIPPET_BYTES), error))
                    break
                if message is None:
                    data = await connection.reader.read(READ_SIZE)
                    if not data:
                        outcome, error = "closed", "the server closed the connection"
                        break
                    framer.feed(data)
                    continue
                at = clock_ms()
                received.append(Received(at, framer.last_frame))
                if is_final_answer(request, message):
                    outcome, final_at = "answered", at
                    break
    except TimeoutError:
        outcome = "timeout"
        error = f"no final response within {timeout:g} s"
    except ssl.SSLError as exc:
        alert = alert_text(exc.reason or "")
        if alert is not None:
            outcome, error = "tls_alert", f"the server sent TLS alert '{alert}'"
        else:
            outcome, error = "closed", f"TLS error while reading: {exc.reason or exc}"
    except ConnectionResetError:
        outcome, error = "reset", "the server reset the connection"
    except OSError as exc:
        outcome, error = "closed", f"read failed: {exc}"
    return SipExchange(
        method=request.method,
        request=wire,
        sent_at_ms=sent_at,
        outcome=outcome,
        received=tuple(received),
        final_at_ms=final_at,
        pending_bytes=framer.buffered_bytes,
        error=error,
    )


class DatagramEndpoint(asyncio.DatagramProtocol):
    """A connected UDP socket whose datagrams and ICMP errors land in a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Selector datagram transports do not subclass DatagramTransport on 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.queue.put_nowait(exc)


async def exchange_over_datagram(
    endpoint: DatagramEndpoint,
    request: Request,
    *,
    timeout: float,
    timers: TimerConfig,
    clock_ms: Clock,
) -> SipExchange:
    """One request over UDP, retransmitted on Timer E (RFC 3261 §17.1.2.2)."""
    assert endpoint.transport is not None
    loop = asyncio.get_running_loop()
    wire = request.to_bytes()
    transaction = NonInviteClientTransaction(
        request, reliable=False, now=loop.time(), timers=timers
    )
    deadline = loop.time() + timeout
    sent_at = clock_ms()
    endpoint.transport.sendto(wire)
    received: list[Received] = []
    retransmissions = 0
    outcome: ExchangeOutcome = "timeout"
    final_at: float | None = None
    error: str | None = f"no final response within {timeout:g} s"
    while True:
        now = loop.time()
        timer_at = transaction.get_timer()
        wake_at = deadline if timer_at is None else min(deadline, timer_at)
        try:
            async with asyncio.timeout(max(0.0, wake_at - now)):
                item = await endpoint.queue.get()
        except TimeoutError:
            if loop.time() >= deadline:
                break
            actions = transaction.handle_timer(loop.time())
            if any(isinstance(action, TimedOut) for action in actions):
                break
            for action in actions:
                if isinstance(action, Retransmit):
                    endpoint.transport.sendto(wire)
                    retransmissions += 1
            continue
        if isinstance(item, OSError):
            refused = isinstance(item, ConnectionRefusedError)
            outcome = "refused" if refused else "closed"
            error = (
                "the host answered ICMP port unreachable (nothing listens on that UDP port)"
                if refused
                else f"socket error: {item}"
            )
            break
        at = clock_ms()
        try:
            message = parse_message(item)
        except SipError as exc:
            # A datagram is self-contained: one bad datagram does not desynchronise the
            # next, but for a probe the answer was malformed and that is the verdict.
            received.append(Received(at, item[:_SNIPPET_BYTES], str(exc)))
            outcome, error = "malformed", str(exc)
            break
        received.append(Received(at, item))
        if isinstance(message, Response) and match_response(request, message).matched:
            # Provisional responses stop Timer E's doubling (§17.1.2.2, Proceeding).
            transaction.receive_response(message, loop.time())
        if is_final_answer(request, message):
            outcome, final_at, error = "answered", at, None
            break
    return SipExchange(
        method=request.method,
        request=wire,
        sent_at_ms=sent_at,
        outcome=outcome,
        received=tuple(received),
        final_at_ms=final_at,
        retransmissions=retransmissions,
        error=error,
    )
