"""Fixtures of the exporter's tests: real Kamailio endpoints (good, wrong host, expired,
503) and a black hole that counts the connections it holds."""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio


@dataclass(frozen=True)
class Endpoints:
    """Loopback ports of real Kamailio TLS listeners, each presenting a lab certificate
    for sip.example.test (or not), and the trust anchor that issued them."""

    good: int
    wrong_host: int
    expired: int
    busy: int
    """Answers OPTIONS with 503 Service Unavailable."""
    ca: Path

    def uri(self, port: int) -> str:
        return f"sip:{LAB_NAME}:{port};transport=tls"

    def pins(self) -> list[str]:
        ports = (self.good, self.wrong_host, self.expired, self.busy)
        return [f"{LAB_NAME}:{port}:127.0.0.1" for port in ports]


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Endpoints]:
    variants = lab.variants
    profiles = [
        TlsProfile("good", lab.server, lab.server_key),
        TlsProfile("wrong-host", variants["wrong-host"].chain, variants["wrong-host"].key),
        TlsProfile("expired", variants["expired"].chain, variants["expired"].key),
    ]
    answering = start_kamailio(tmp_path_factory.mktemp("kamailio-exporter"), profiles)
    busy: Kamailio | None = None
    try:
        busy = start_kamailio(
            tmp_path_factory.mktemp("kamailio-503"),
            [TlsProfile("tls", lab.server, lab.server_key)],
            options_reply=(503, "Service Unavailable"),
            reply_headers=["Retry-After: 120"],
        )
        yield Endpoints(
            good=answering.ports["good"],
            wrong_host=answering.ports["wrong-host"],
            expired=answering.ports["expired"],
            busy=busy.tls_port,
            ca=lab.ca,
        )
    finally:
        answering.stop()
        if busy is not None:
            busy.stop()
    assert not answering.crashed(), "Kamailio crashed (signal 11) during the exporter tests"


class BlackHole:
    """Accepts TCP connections and never says a word; counts how many it holds at once."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self.most_at_once = 0
        self._open: set[socket.socket] = set()
        self._stop = threading.Event()
        self._held = threading.Event()
        self._let_go = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self.listener:
                        connection, _ = sock.accept()
                        connection.setblocking(False)
                        self._open.add(connection)
                        self.accepted += 1
                        self.most_at_once = max(self.most_at_once, len(self._open))
                        self._held.set()
                        selector.register(connection, selectors.EVENT_READ)
                        continue
                    try:
                        data = sock.recv(65536)  # what the client says goes unanswered
                    except OSError:
                        data = b""
                    if not data:
                        selector.unregister(sock)
                        self._open.discard(sock)
                        sock.close()
                        if not self._open:
                            self._let_go.set()
        for connection in self._open:
            connection.close()

    async def holds_one(self) -> None:
        """Once a connection is in the hole (fails the test after 10 s)."""
        assert await asyncio.to_thread(self._held.wait, 10), "nothing came into the black hole"

    async def emptied(self, within: float) -> None:
        """Once every connection that came in was closed by the client (fails the test
        when one is still held after `within` seconds)."""
        let_go = await asyncio.to_thread(self._let_go.wait, within)
        assert let_go, f"{self.holding} still held after {within} s"

    @property
    def holding(self) -> int:
        return len(self._open)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()
