"""A scripted SIP-over-WebSocket server for tests (TLS optional): wsproto's server side
answers the upgrade as the test says, then answers each SIP request over WebSocket, or
the test writes a raw answer of its own instead of any upgrade."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Pong, TextMessage
from wsproto.events import Request as UpgradeRequest

from probe.sip import Request, build_response, parse_message


@dataclass
class WsScript:
    """What the server does: a raw answer to the upgrade (and close), or accept it with
    `subprotocol`; then, per SIP request, an optional ping first and a 200 OK."""

    raw_answer: bytes | None = None
    silent: bool = False
    subprotocol: str | None = "sip"
    ping_first: bool = False
    close_instead: bool = False
    close_after_answer: bool = False
    ignore_close: bool = False
    pong_with: bytes | None = None
    """Answer a Ping with a Pong carrying this instead of the Ping's data."""
    ignore_pings: bool = False
    ws_pings: list[bytes] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    upgrade_requests: list[UpgradeRequest] = field(default_factory=list)


def _ok(request: Request) -> str:
    response = build_response(request, 200, "OK", to_tag="ws", extra_headers=(("Server", "ws"),))
    return response.to_bytes().decode()


@contextlib.asynccontextmanager
async def websocket_server(
    script: WsScript, context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Serve `script` on a free loopback port; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        ws = WSConnection(ConnectionType.SERVER)
        try:
            while data := await reader.read(65536):
                if script.silent:
                    continue
                if script.raw_answer is not None:
                    writer.write(script.raw_answer)
                    await writer.drain()
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, UpgradeRequest):
                        script.upgrade_requests.append(event)
                        writer.write(ws.send(AcceptConnection(subprotocol=script.subprotocol)))
                    elif isinstance(event, TextMessage):
                        script.requests.append(event.data.encode())
                        request = parse_message(event.data.encode())
                        assert isinstance(request, Request)
                        if script.close_instead:
                            writer.write(ws.send(CloseConnection(code=1011, reason="no")))
                            continue
                        if script.ping_first:
                            writer.write(ws.send(Ping(payload=b"still there?")))
                        answer = ws.send(TextMessage(data=_ok(request)))
                        if script.close_after_answer:
                            # In one write: the Close reaches the client with the answer.
                            answer += ws.send(CloseConnection(code=1001, reason="bye"))
                        writer.write(answer)
                    elif isinstance(event, Ping):
                        script.ws_pings.append(bytes(event.payload))
                        if script.pong_with is not None:
                            writer.write(ws.send(Pong(payload=script.pong_with)))
                        elif not script.ignore_pings:
                            writer.write(ws.send(event.response()))
                    elif isinstance(event, CloseConnection) and script.ignore_close:
                        await asyncio.sleep(3600)  # neither a Close back nor an end
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(Exception):
                            writer.write(ws.send(event.response()))
                        return
                await writer.drain()
        except (OSError, ssl.SSLError, asyncio.CancelledError):
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
