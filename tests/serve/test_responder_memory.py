"""One embedded responder answers 100,000 requests with flat memory, and the messages a
collector frames reach the checks explicitly, beside the evidence, never through a table
that outlives them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import sys
import threading
import time
from collections.abc import Iterator

from probe.evidence.codec import encode
from probe.serve import Responder, ResponderConfig
from probe.sip import parse_message
from tests.serve.conftest import StartResponder, probe

REQUESTS = 100_000
BATCH = 1_000
WARM_UP = 500
BLOCK_GROWTH_LIMIT = 3_000
"""Memory blocks the responder may gain between request 500 and request 100,000: a memo
of the messages it framed would hold tens of blocks for each request it kept."""
PADDING = "x" * 400
"""Each request carries this much of a header: kept messages would show."""


@contextlib.contextmanager
def _tcp_responder() -> Iterator[int]:
    """A TCP responder on a loop of its own (not the tests' debug loop), in a thread."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    port: list[int] = []

    async def serve() -> None:
        async with Responder(ResponderConfig(transports=("tcp",))) as responder:
            port.append(responder.port_of("tcp"))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "the responder did not start"
        assert port, "the responder did not start"
        yield port[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _options(number: int, port: int) -> bytes:
    """A distinct OPTIONS (its own branch, Call-ID and CSeq), no SDP wanted back."""
    return (
        f"OPTIONS sip:probe@127.0.0.1:{port};transport=tcp SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-{number}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=f{number}\r\n"
        f"To: <sip:probe@127.0.0.1:{port}>\r\n"
        f"Call-ID: call-{number}@127.0.0.1\r\n"
        f"CSeq: {number % 2_000_000_000 + 1} OPTIONS\r\n"
        "Accept: application/sdp\r\n"
        f"X-Padding: {PADDING}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _exchange(client: socket.socket, first: int, count: int, port: int) -> None:
    """Send `count` pipelined requests and read until as many responses came back."""
    client.sendall(b"".join(_options(number, port) for number in range(first, first + count)))
    answered, tail = 0, b""
    while answered < count:
        chunk = client.recv(1 << 16)
        assert chunk, f"the responder closed the connection after {answered} of {count}"
        data = tail + chunk
        answered += data.count(b"SIP/2.0 200 ")
        tail = data[-11:]  # shorter than the pattern: a match is never counted twice


def _blocks() -> int:
    gc.collect()
    return sys.getallocatedblocks()


def test_100000_requests_through_one_responder_leave_memory_flat() -> None:
    started = time.monotonic()
    with (
        _tcp_responder() as port,
        socket.create_connection(("127.0.0.1", port), timeout=20) as client,
    ):
        _exchange(client, 0, WARM_UP, port)
        before = _blocks()
        sent = WARM_UP
        while sent < REQUESTS:
            count = min(BATCH, REQUESTS - sent)
            _exchange(client, sent, count, port)
            sent += count
        after = _blocks()
    elapsed = time.monotonic() - started
    assert after - before < BLOCK_GROWTH_LIMIT, (
        f"{after - before} more memory blocks after {REQUESTS} requests "
        f"than after {WARM_UP} ({elapsed:.1f} s)"
    )


async def test_a_framed_answer_reaches_the_checks_beside_the_evidence(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    for transport in ("tls", "udp"):
        evidence = await probe(responder, transport)  # type: ignore[arg-type]
        (item,) = evidence.exchanges[0].received
        assert item.message is not None, f"{transport}: the collector's parse was not handed on"
        assert item.message == parse_message(item.data, stream=transport != "udp")
        written = encode(evidence)["exchanges"][0]["received"][0]
        assert set(written) == {"at_ms", "data", "error"}, "a parsed message was written"
