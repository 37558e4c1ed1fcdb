"""A SIP-over-TLS server in the test's own event loop whose behaviour a test changes while
connections stay open, as a real server's operator does: the certificate it presents to
new handshakes (a live connection keeps the one it was made with, as after an SBC's
certificate reload), the status it answers OPTIONS with or none at all, and dropping every
connection.
It counts the handshakes it completed and the connections it holds."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

from probe.serve.uas import ALLOW
from probe.sip import Request, SipError, StreamFramer, build_response


class Switchboard:
    def __init__(self, chain: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(chain, key)
        self.status = (200, "OK")
        self.silent = False
        """Read requests and answer none (a server gone mute on its open connections)."""
        self.handshakes = 0
        self.connections: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def present(self, chain: Path, key: Path) -> None:
        """Present `chain` to every handshake from now on; open connections keep theirs."""
        self.context.load_cert_chain(chain, key)

    def drop(self) -> None:
        """Cut every open connection, as a server restarting or an idle timeout does."""
        for writer in list(self.connections):
            writer.transport.abort()

    async def holding(self, count: int, within: float = 5.0) -> None:
        """Once it holds exactly `count` connections (fails the test after `within` s)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.connections) == count)

    async def _counted(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.handshakes += 1
        self.connections.add(writer)
        await self._counted()
        framer = StreamFramer()
        try:
            while data := await reader.read(65536):
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    if isinstance(message, Request) and not self.silent:
                        code, reason = self.status
                        answer = build_response(
                            message, code, reason, to_tag="sb1", extra_headers=(("Allow", ALLOW),)
                        )
                        writer.write(answer.to_bytes())
        except (OSError, SipError):
            pass
        finally:
            self.connections.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
            await self._counted()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=self.context, ssl_handshake_timeout=5
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def switchboard(chain: Path, key: Path) -> AsyncIterator[Switchboard]:
    board = Switchboard(chain, key)
    await board.start()
    try:
        yield board
    finally:
        await board.stop()
