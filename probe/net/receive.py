"""Reading framed SIP messages off a stream under named deadlines.

A caller waits for the next message under one or more deadlines of its own (the first
byte of an answer, the final response of a transaction, the ring time of a call); the
receiver adds the `message` deadline by itself: once the first byte of a message has
arrived, the whole message must follow within `message` seconds. A server dripping a
response one byte per TLS record, or stalling after part of it, is caught by that
deadline and named, rather than being blamed on the transaction.

Whichever deadline passes first is raised as :class:`DeadlineExpired`, which says which
phase it was, so evidence can name it (probe.net.deadlines).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.net.connect import StreamConnection
from probe.net.framing import MessageFramer
from probe.sip import Message

READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Wait:
    """One deadline a caller waits under: an absolute loop time and what it bounds."""

    at: float
    phase: str
    """`first_byte`, `transaction`, `answer`, ... (the evidence's `expired` value)."""
    seconds: float
    until_data: bool = False
    """Dropped as soon as any byte arrives (the `first_byte` deadline)."""


class DeadlineExpired(ProbeError):
    """A deadline passed while waiting; `phase` names it and `pending` counts the bytes
    of an incomplete message already received."""

    def __init__(self, phase: str, seconds: float, pending: int) -> None:
        self.phase = phase
        self.seconds = seconds
        self.pending = pending
        super().__init__(deadline_text(phase, seconds, pending))


def deadline_text(phase: str, seconds: float, pending: int) -> str:
    """The sentence evidence carries when `phase`'s deadline of `seconds` expired."""
    if phase == "first_byte":
        return f"no first byte within {seconds:g} s (first_byte deadline)"
    if phase == "message":
        return (
            f"message incomplete after {seconds:g} s: {pending} bytes received (message deadline)"
        )
    if phase == "answer":
        return f"no final response within {seconds:g} s (answer timeout)"
    return f"no final response within {seconds:g} s ({phase} deadline)"


class PeerClosed(ProbeError):
    """The peer closed the stream (FIN, or TLS close_notify)."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        where = f" in the middle of a message ({pending} bytes received)" if pending else ""
        super().__init__(f"the server closed the connection{where}")


class StreamReceiver:
    """Messages off one stream connection, through one framer, under deadlines.

    `next_message` returns a message, or raises: :class:`DeadlineExpired`,
    :class:`PeerClosed`, a `SipError` from the framer (the stream lost its framing), or
    the `OSError`/`ssl.SSLError` of the read.
    """

    def __init__(
        self, connection: StreamConnection, framer: MessageFramer, *, message_s: float
    ) -> None:
        self.connection = connection
        self.framer = framer
        self.message_s = message_s
        self._message_started: float | None = None

    def _pending(self) -> int:
        return self.framer.buffered_bytes if self.framer.partial else 0

    def ready(self) -> Message | None:
        """A message already complete in the buffer, without waiting (or None)."""
        message = self.framer.next_message()
        if message is not None:
            # Bytes left over belong to the next message; its clock starts on the next
            # call, in the same turn of the loop that delivered them.
            self._message_started = None
            if self.connection.trace is not None:
                self.connection.trace.received(self.framer.last_frame)
        elif self.framer.partial and self._message_started is None:
            self._message_started = asyncio.get_running_loop().time()
        return message

    async def next_message(self, *waits: Wait) -> Message:
        loop = asyncio.get_running_loop()
        active = list(waits)
        while True:
            message = self.ready()
            if message is not None:
                return message
            deadlines = list(active)
            if self._message_started is not None:
                deadlines.append(
                    Wait(self._message_started + self.message_s, "message", self.message_s)
                )
            # The earliest deadline wins; on a tie the one listed first (callers list the
            # most specific first).
            first = min(deadlines, key=lambda wait: wait.at) if deadlines else None
            try:
                if first is None:
                    data = await self.connection.reader.read(READ_SIZE)
                else:
                    remaining = first.at - loop.time()
                    if remaining <= 0:
                        raise TimeoutError
                    async with asyncio.timeout(remaining):
                        data = await self.connection.reader.read(READ_SIZE)
            except TimeoutError:
                assert first is not None
                raise DeadlineExpired(first.phase, first.seconds, self._pending()) from None
            if not data:
                raise PeerClosed(self._pending())
            active = [wait for wait in active if not wait.until_data]
            self.framer.feed(data)
