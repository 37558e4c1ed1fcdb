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
from typing import TYPE_CHECKING, cast

from probe.evidence.model import ExchangeOutcome, Received, SipExchange
from probe.net.connect import StreamConnection, alert_text
from probe.net.deadlines import Deadlines
from probe.net.framing import MessageFramer
from probe.net.receive import DeadlineExpired, PeerClosed, StreamReceiver, Wait, deadline_text
from probe.sip import (
    DEFAULT_LIMITS,
    Message,
    Request,
    Response,
    SipError,
    TimerConfig,
    match_response,
    parse_message,
)

if TYPE_CHECKING:
    from probe.net.trace import WireTrace

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


def _phases(timeout: float | None, deadlines: Deadlines | None) -> Deadlines:
    if deadlines is not None:
        return deadlines
    if timeout is None:
        raise TypeError("give the exchange its deadlines (or one timeout for every phase)")
    return Deadlines.uniform(timeout)


async def exchange_over_stream(
    connection: StreamConnection,
    framer: MessageFramer,
    request: Request,
    *,
    clock_ms: Clock,
    deadlines: Deadlines | None = None,
    timeout: float | None = None,
) -> SipExchange:
    """Send `request` and read until its final response, under three deadlines:
    `first_byte` (nothing at all came back), `message` (a message begun and not
    finished) and `transaction` (no final response; provisionals do not extend it)."""
    phases = _phases(timeout, deadlines)
    loop = asyncio.get_running_loop()
    wire = request.to_bytes()
    sent_at = clock_ms()
    sent = loop.time()
    try:
        writer = connection.writer
        connection.write_message(wire)
        if writer.transport.get_write_buffer_size() == 0:
            # Everything went to the socket: drain only reports a lost connection, and
            # cannot block (it waits only above the buffer's high-water mark).
            await writer.drain()
        else:
            async with asyncio.timeout(phases.transaction):
                await writer.drain()
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        why = "the server stopped reading" if isinstance(exc, TimeoutError) else str(exc)
        return SipExchange(
            method=request.method,
            request=wire,
            sent_at_ms=sent_at,
            outcome="send_failed",
            error=f"could not send the request: {why}",
        )
    receiver = StreamReceiver(connection, framer, message_s=phases.message)
    first_byte = Wait(sent + phases.first_byte, "first_byte", phases.first_byte, until_data=True)
    transaction = Wait(sent + phases.transaction, "transaction", phases.transaction)
    received: list[Received] = []
    outcome: ExchangeOutcome = "timeout"
    final_at: float | None = None
    final_status: int | None = None
    error: str | None = None
    expired: str | None = None
    try:
        while True:
            # Until something arrives the first byte is awaited too; listed first, it
            # names a silent server when both deadlines fall together.
            waits = (transaction,) if received else (first_byte, transaction)
            message = await receiver.next_message(*waits)
            at = clock_ms()
            received.append(_framed(at, framer, message))
            if is_final_answer(request, message):
                outcome, final_at = "answered", at
                final_status = cast(Response, message).status_code
                _drain_ready(receiver, received, clock_ms)
                break
    except SipError as exc:
        # The stream lost its framing: nothing after this can be trusted.
        outcome, error = "malformed", str(exc)
        received.append(Received(clock_ms(), framer.buffered(_SNIPPET_BYTES), error))
        if connection.trace is not None:
            connection.trace.received(framer.buffered(_SNIPPET_BYTES), f"not SIP ({error})")
    except DeadlineExpired as exc:
        outcome, error, expired = "timeout", str(exc), exc.phase
    except PeerClosed as exc:
        outcome, error = "closed", str(exc)
    except ssl.SSLError as exc:
        alert = alert_text(exc.reason or "")
        if alert is not None:
            outcome, error = "tls_alert", f"the server sent TLS alert '{alert}'"
        else:
            outcome, error = "closed", f"TLS error while reading: {exc.reason or exc}"
    except ConnectionResetError:
        outcome, error = "reset", "the server reset the connection" + _mid_message(framer)
    except OSError as exc:
        outcome, error = "closed", f"read failed: {exc}"
    return SipExchange(
        method=request.method,
        request=wire,
        sent_at_ms=sent_at,
        outcome=outcome,
        received=tuple(received),
        final_at_ms=final_at,
        pending_bytes=framer.buffered_bytes if framer.partial else 0,
        error=error,
        expired=expired,
        final_status=final_status,
    )


def _framed(at: float, framer: MessageFramer, message: Message) -> Received:
    """The frame as evidence, and the message the framer parsed it into handed on to the
    checks (only under the default limits, the ones the checks parse with)."""
    handed = message if framer.limits == DEFAULT_LIMITS else None
    return Received(at, framer.last_frame, message=handed)


def _mid_message(framer: MessageFramer) -> str:
    if not framer.partial:
        return ""
    return f" in the middle of a message ({framer.buffered_bytes} bytes received)"


def _drain_ready(receiver: StreamReceiver, received: list[Received], clock_ms: Clock) -> None:
    """Record messages that arrived with the final response (e.g. in the same TLS
    record): they are evidence too (an extra or stray response), though nothing waits
    for them."""
    try:
        while (message := receiver.ready()) is not None:
            received.append(_framed(clock_ms(), receiver.framer, message))
    except SipError as exc:
        received.append(Received(clock_ms(), receiver.framer.buffered(_SNIPPET_BYTES), str(exc)))
    except PeerClosed:
        # A WebSocket Close that came after the answer: the exchange is answered all the
        # same; the next one, if any, finds the connection gone.
        return


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
    timers: TimerConfig,
    clock_ms: Clock,
    deadlines: Deadlines | None = None,
    timeout: float | None = None,
    trace: WireTrace | None = None,
) -> SipExchange:
    """One request over UDP, retransmitted on Timer E (RFC 3261 §17.1.2.2), under the
    `first_byte` and `transaction` deadlines (a datagram is a whole message: the
    `message` deadline has nothing to time)."""
    from probe.sip.transaction import NonInviteClientTransaction, Retransmit, TimedOut

    assert endpoint.transport is not None
    phases = _phases(timeout, deadlines)
    loop = asyncio.get_running_loop()
    wire = request.to_bytes()
    transaction = NonInviteClientTransaction(
        request, reliable=False, now=loop.time(), timers=timers
    )
    started = loop.time()
    deadline = started + phases.transaction
    first_byte_by = started + phases.first_byte
    sent_at = clock_ms()
    endpoint.transport.sendto(wire)
    if trace is not None:
        trace.sent(wire)
    received: list[Received] = []
    retransmissions = 0
    outcome: ExchangeOutcome = "timeout"
    final_at: float | None = None
    final_status: int | None = None
    error: str | None = None
    expired: str | None = None
    while True:
        now = loop.time()
        timer_at = transaction.get_timer()
        limit = deadline if received else min(first_byte_by, deadline)
        wake_at = limit if timer_at is None else min(limit, timer_at)
        try:
            async with asyncio.timeout(max(0.0, wake_at - now)):
                item = await endpoint.queue.get()
        except TimeoutError:
            now = loop.time()
            if not received and now >= first_byte_by:
                expired = "first_byte"
                error = deadline_text(expired, phases.first_byte, 0)
                break
            if now >= deadline:
                expired = "transaction"
                error = deadline_text(expired, phases.transaction, 0)
                break
            actions = transaction.handle_timer(now)
            if any(isinstance(action, TimedOut) for action in actions):
                # Timer F (64*T1) ran out before our own deadline did.
                expired = "transaction"
                error = f"no final response before Timer F ({now - started:.3g} s, §17.1.2.2)"
                break
            for action in actions:
                if isinstance(action, Retransmit):
                    endpoint.transport.sendto(wire)
                    retransmissions += 1
                    if trace is not None:
                        trace.sent(wire, f"retransmission {retransmissions}")
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
        if trace is not None:
            trace.received(item)
        try:
            message = parse_message(item)
        except SipError as exc:
            # A datagram is self-contained: one bad datagram does not desynchronise the
            # next, but for a probe the answer was malformed and that is the verdict.
            received.append(Received(at, item[:_SNIPPET_BYTES], str(exc)))
            outcome, error = "malformed", str(exc)
            break
        received.append(Received(at, item, message=message))
        if isinstance(message, Response) and match_response(request, message).matched:
            # Provisional responses stop Timer E's doubling (§17.1.2.2, Proceeding).
            transaction.receive_response(message, loop.time())
        if is_final_answer(request, message):
            outcome, final_at, error = "answered", at, None
            final_status = cast(Response, message).status_code
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
        expired=expired,
        final_status=final_status,
    )
