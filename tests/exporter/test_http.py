"""The exporter's HTTP side holds against clients that misbehave: keep-alive and
pipelining served in order, heads and bodies over their limits refused, a slow-loris or
idle client cut off at its deadline, a full table of connections making room, every
answer framed by h11."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import h11
import pytest

from probe.exporter.http import HttpLimits, parse_target
from tests.exporter.helpers import Running, running_exporter

LIMITS = HttpLimits(
    max_head=1024, max_body=256, request=0.6, idle=0.8, write=2.0, max_connections=4
)
MODULES = '[modules.plain]\nkind = "options"\n'


@pytest.fixture
async def exporter(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_exporter(tmp_path, MODULES, limits=LIMITS) as run:
        yield run


def request(path: str, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: exporter\r\n{extra}\r\n".encode()


async def answers(
    run: Running, data: bytes, count: int, *, methods: tuple[str, ...] = ()
) -> tuple[list[tuple[int, dict[str, str], bytes]], bool]:
    """Send `data` on a fresh connection and read `count` answers with h11's client side;
    also whether the server closed the connection after them."""
    reader, writer = await asyncio.open_connection(run.host, run.port)
    client = h11.Connection(h11.CLIENT)
    found = []
    try:
        writer.write(data)
        async with asyncio.timeout(5):
            for number in range(count):
                method = methods[number] if number < len(methods) else "GET"
                client.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
                client.send(h11.EndOfMessage())
                status, headers, body = 0, {}, b""
                while True:
                    event = client.next_event()
                    if event is h11.NEED_DATA:
                        client.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                        headers = {k.decode(): v.decode() for k, v in event.headers}
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:
                        raise AssertionError(f"unexpected {event!r}")
                found.append((status, headers, body))
                if client.our_state is h11.DONE and client.their_state is h11.DONE:
                    client.start_next_cycle()
            try:
                async with asyncio.timeout(0.3):
                    closed = await reader.read(1) == b""
            except TimeoutError:
                closed = False
    finally:
        writer.close()
    return found, closed


async def closed_after(reader: asyncio.StreamReader) -> float:
    """Seconds until the server closes the connection (read gives nothing more)."""
    started = time.monotonic()
    async with asyncio.timeout(5):
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:  # closed while we were still writing: the same answer
            pass
    return time.monotonic() - started


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(exporter: Running) -> None:
    pipelined = request("/-/healthy") + request("/nowhere") + request("/-/healthy")
    found, closed = await answers(exporter, pipelined, 3)
    assert [(status, body) for status, _, body in found] == [
        (200, b"OK\n"),
        (404, b"no such page: '/nowhere'\n"),
        (200, b"OK\n"),
    ]
    assert not closed  # kept alive for more
    reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
    try:
        for _ in range(2):  # one connection, two requests in turn
            writer.write(request("/-/healthy"))
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 OK\r\n")
                assert await reader.readexactly(3) == b"OK\n"
    finally:
        writer.close()


async def test_head_is_answered_with_headers_only(exporter: Running) -> None:
    found, _ = await answers(exporter, request("/-/healthy", "HEAD"), 1, methods=("HEAD",))
    status, headers, body = found[0]
    assert (status, headers["content-length"], body) == (200, "3", b"")


async def test_http_1_0_is_answered_then_closed(exporter: Running) -> None:
    reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
    try:
        writer.write(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        async with asyncio.timeout(5):
            data = b""
            while chunk := await reader.read(65536):
                data += chunk
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nOK\n")


async def test_a_head_over_the_limit_gets_431_and_a_body_413(exporter: Running) -> None:
    big = request("/-/healthy", extra="X-Filler: " + "a" * 2000 + "\r\n")
    found, closed = await answers(exporter, big, 1)
    assert found[0][0] == 431  # h11's own limit, on a head still arriving
    assert closed
    # A head that completes in the read that takes it over the limit is measured whole.
    wide = request("/-/healthy", extra="X-Filler: " + "a" * 1000 + "\r\n")
    assert 1024 < len(wide) < 900 + 1024
    reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
    try:
        writer.write(wide[:900])
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(wide[900:])
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.read(65536)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert body == b"the request head is over 1024 bytes\n"
    body = request("/-/reload", "POST", extra="Content-Length: 1000\r\n") + b"x" * 1000
    found, closed = await answers(exporter, body, 1, methods=("POST",))
    assert found[0][0] == 413
    assert found[0][2] == b"the request body is over 256 bytes\n"
    assert closed


async def test_what_is_not_http_or_not_utf_8_gets_400(exporter: Running) -> None:
    found, closed = await answers(exporter, b"HELLO THERE\r\n\r\n", 1)
    assert found[0][0] == 400
    assert closed
    found, _ = await answers(exporter, request("/probe?module=plain&target=%ff%fe"), 1)
    assert found[0][0] == 400
    assert found[0][2].startswith(b"the request target cannot be read: ")


async def test_a_slow_loris_is_cut_off_and_others_are_served_meanwhile(
    exporter: Running,
) -> None:
    reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
    try:
        writer.write(b"GET /-/healthy HTTP/1.1\r\n")

        async def drip() -> None:
            # A header line every 0.15 s: each read is quick, the request never ends.
            for number in range(100):
                writer.write(f"X-Drip-{number}: y\r\n".encode())
                await asyncio.sleep(0.15)

        dripping = asyncio.create_task(drip())
        found, _ = await answers(exporter, request("/-/healthy"), 1)
        assert found[0][0] == 200  # served while the slow client still drips
        took = await closed_after(reader)
        dripping.cancel()
    finally:
        writer.close()
    assert took < LIMITS.request + 0.5, took


async def test_an_idle_connection_is_closed_after_its_deadline(exporter: Running) -> None:
    reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
    try:
        took = await closed_after(reader)
    finally:
        writer.close()
    assert LIMITS.idle - 0.1 <= took < LIMITS.idle + 0.5, took


async def test_a_full_table_of_idle_connections_makes_room(exporter: Running) -> None:
    held = [await asyncio.open_connection(exporter.host, exporter.port) for _ in range(4)]
    try:
        for reader, writer in held:  # each one answered once: taken in, now idle
            writer.write(request("/-/healthy"))
            async with asyncio.timeout(5):
                await reader.readuntil(b"OK\n")
        found, _ = await answers(exporter, request("/-/healthy"), 1)
        assert found[0][0] == 200
        # The longest-waiting one made room: the server closed it.
        took = await closed_after(held[0][0])
        assert took < 0.3, took
    finally:
        for _, writer in held:
            writer.close()


def test_a_request_target_is_decoded_as_utf_8_with_bounded_fields() -> None:
    assert parse_target(b"/probe?target=sip%3Aa%40b&module=x") == (
        "/probe",
        {"target": ["sip:a@b"], "module": ["x"]},
    )
    assert parse_target(b"http://exporter:9753/metrics") == ("/metrics", {})
    with pytest.raises(Exception, match="cannot be read"):
        parse_target(b"/probe?" + b"&".join(b"f%d=1" % n for n in range(40)))
