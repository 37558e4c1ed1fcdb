"""The receiver's deadlines on a loopback TCP pair: which one is named, and when."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from probe.net.connect import StreamConnection
from probe.net.receive import DeadlineExpired, PeerClosed, StreamReceiver, Wait
from probe.sip import Response, StreamFramer

OK = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKx\r\n"
    b"From: <sip:a@b.test>;tag=1\r\nTo: <sip:a@b.test>;tag=2\r\nCall-ID: c\r\n"
    b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


@contextlib.asynccontextmanager
async def pair() -> AsyncIterator[tuple[StreamReceiver, asyncio.StreamWriter]]:
    """A receiver on the client side and the server's writer."""
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    far = await accepted.get()
    connection = StreamConnection(reader, writer)
    try:
        yield StreamReceiver(connection, StreamFramer(), message_s=0.2), far
    finally:
        far.close()
        await connection.close()
        server.close()
        await server.wait_closed()


def after(seconds: float, phase: str, *, first_byte: bool = False) -> Wait:
    now = asyncio.get_running_loop().time()
    return Wait(now + seconds, phase, seconds, until_data=first_byte)


async def test_silence_names_the_first_byte_on_a_tie() -> None:
    async with pair() as (receiver, _far):
        waits = (after(0.1, "first_byte", first_byte=True), after(0.1, "transaction"))
        with pytest.raises(DeadlineExpired) as info:
            await receiver.next_message(*waits)
    assert info.value.phase == "first_byte"
    assert str(info.value) == "no first byte within 0.1 s (first_byte deadline)"


async def test_a_byte_drops_the_first_byte_deadline_and_starts_the_message_clock() -> None:
    async with pair() as (receiver, far):
        far.write(OK[:10])
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExpired) as info:
            await receiver.next_message(after(0.05, "first_byte", first_byte=True))
        elapsed = asyncio.get_running_loop().time() - started
    # Not the first byte (it came), but the message that began and never ended.
    assert info.value.phase == "message"
    assert info.value.pending == 10
    assert "message incomplete after 0.2 s: 10 bytes received" in str(info.value)
    assert 0.15 <= elapsed < 1.0


async def test_the_transaction_deadline_wins_when_it_comes_first() -> None:
    async with pair() as (receiver, far):
        far.write(OK[:10])
        with pytest.raises(DeadlineExpired) as info:
            await receiver.next_message(after(0.05, "transaction"))
    assert info.value.phase == "transaction"
    assert info.value.pending == 10


async def test_a_message_already_buffered_is_returned_even_after_the_deadline() -> None:
    async with pair() as (receiver, far):
        far.write(OK + OK)
        first = await receiver.next_message(after(1.0, "transaction"))
        # The second arrived with the first: no wait is needed, so no deadline applies.
        second = await receiver.next_message(after(-1.0, "transaction"))
    assert isinstance(first, Response)
    assert isinstance(second, Response)


async def test_a_close_mid_message_counts_the_bytes() -> None:
    async with pair() as (receiver, far):
        far.write(OK[:25])
        await far.drain()
        far.close()
        with pytest.raises(PeerClosed) as info:
            await receiver.next_message(after(1.0, "transaction"))
    assert info.value.pending == 25
    assert "in the middle of a message (25 bytes received)" in str(info.value)
