"""The responder answers RFC 5626 CRLF keep-alive pings over TCP and TLS: each CRLF CRLF
between messages gets one CRLF back, in stream order, however the ping was split; a
message whose head ends in a blank line is no ping and gets no CRLF."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from probe.sip import build_options, new_branch, parse_uri, random_token
from tests.serve.conftest import StartResponder
from tests.serve.sip_client import CALLEE

PING, PONG = b"\r\n\r\n", b"\r\n"


def options_bytes() -> bytes:
    return build_options(
        parse_uri(CALLEE),
        transport="TCP",
        local_host="127.0.0.1",
        local_port=5060,
        branch=new_branch(random_token()),
        from_tag=random_token(6),
        call_id=random_token(),
        user_agent="keepalive-test",
    ).to_bytes()


async def read_for(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the responder sends within `seconds`."""
    received = b""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            async with asyncio.timeout(left):
                data = await reader.read(65536)
        except TimeoutError:
            break
        if not data:
            break
        received += data
    return received


async def open_stream(port: int, tls: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return await asyncio.open_connection("127.0.0.1", port, ssl=context)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_a_ping_gets_one_crlf(start_responder: StartResponder, transport: str) -> None:
    responder = await start_responder()
    reader, writer = await open_stream(responder.port_of(transport), transport == "tls")
    try:
        writer.write(PING)
        assert await read_for(reader, 0.5) == PONG
    finally:
        writer.close()


async def test_a_ping_sent_a_byte_at_a_time_gets_one_crlf(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    reader, writer = await open_stream(responder.port_of("tcp"), tls=False)
    try:
        for byte in PING:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)
        assert await read_for(reader, 0.5) == PONG
    finally:
        writer.close()


async def test_an_options_request_gets_its_answer_and_no_crlf(
    start_responder: StartResponder,
) -> None:
    # A body-less request ends in CRLF CRLF; answering it with a pong would put a CRLF on
    # the wire the client never asked for.
    responder = await start_responder()
    reader, writer = await open_stream(responder.port_of("tcp"), tls=False)
    try:
        writer.write(options_bytes())
        received = await read_for(reader, 0.5)
        assert received.startswith(b"SIP/2.0 200 OK\r\n")
        assert received.endswith(b"Content-Length: 0\r\n\r\n")
        assert received.count(b"SIP/2.0 200 OK") == 1
        assert not received.endswith(b"\r\n\r\n\r\n")
    finally:
        writer.close()


async def test_pings_around_a_request_are_answered_in_stream_order(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    reader, writer = await open_stream(responder.port_of("tcp"), tls=False)
    try:
        writer.write(PING + options_bytes() + PING + PING)
        received = await read_for(reader, 0.5)
        assert received.startswith(PONG + b"SIP/2.0 200 OK\r\n")
        assert received.endswith(b"Content-Length: 0\r\n\r\n" + PONG + PONG)
    finally:
        writer.close()


async def test_a_lone_crlf_is_no_ping_and_gets_nothing(start_responder: StartResponder) -> None:
    # RFC 3261 §7.5: a CRLF before a start line is ignored; only a CRLF CRLF asks a pong.
    responder = await start_responder()
    reader, writer = await open_stream(responder.port_of("tcp"), tls=False)
    try:
        writer.write(b"\r\n")
        assert await read_for(reader, 0.3) == b""
        writer.write(options_bytes())
        received = await read_for(reader, 0.5)
        assert received.startswith(b"SIP/2.0 200 OK\r\n")
        assert received.count(b"SIP/2.0 ") == 1
    finally:
        writer.close()
