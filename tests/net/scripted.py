"""A scripted SIP-over-TLS (or TCP) server for tests: each test says what it answers.

The script gets the parsed request and the writer and may write anything, stall, or
close; the server reads requests with the project's own framer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from probe.sip import Request, SipError, StreamFramer, build_response

Script = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def tls_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def response_bytes(request: Request, code: int, reason: str, *headers: tuple[str, str]) -> bytes:
    return build_response(
        request, code, reason, to_tag="scripted", extra_headers=headers
    ).to_bytes()


def answer_bytes(request: Request, sdp: str) -> bytes:
    """A 200 OK to an INVITE with a Contact (a dialog can be made) and `sdp` as its
    answer."""
    return build_response(
        request,
        200,
        "OK",
        to_tag="scripted",
        extra_headers=(("Contact", "<sip:uas@127.0.0.1>"),),
        body=sdp.encode(),
        content_type="application/sdp",
    ).to_bytes()


@contextlib.asynccontextmanager
async def scripted_server(script: Script, context: ssl.SSLContext | None) -> AsyncIterator[int]:
    """Serve `script` on a free loopback port; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        framer = StreamFramer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    if isinstance(message, Request):
                        await script(message, writer)
                        await writer.drain()
        except (OSError, ssl.SSLError, SipError, asyncio.CancelledError):
            return
        finally:
            tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
