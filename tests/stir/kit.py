"""What the STIR tests build at run time: PASSporTs signed (or forged) with the lab's STI
PKI, requests carrying them, and a local HTTPS server playing the x5u host, well-behaved
or hostile (silent, endless, redirecting in circles)."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from probe.stir.es256 import sign_es256
from probe.stir.passport import b64url_encode, canonical_json, shaken_claims, shaken_header
from probe.stir.tn import http_date
from probe.tls.lab import LabFiles

CALLER = "15550123"
CALLEE = "15550100"
FROM = f"<sip:+{CALLER}@example.test>;tag=caller"
TO = f"<sip:+{CALLEE}@example.test;user=phone>"


def token(
    key: ec.EllipticCurvePrivateKey,
    header: dict[str, Any],
    claims: dict[str, Any],
    *,
    signature: bytes | None = None,
) -> str:
    """A PASSporT in full form, signed with `key` unless `signature` is given."""
    data = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    signed = signature if signature is not None else sign_es256(key, data.encode("ascii"))
    return f"{data}.{b64url_encode(signed)}"


def claims(**changes: Any) -> dict[str, Any]:
    """Good SHAKEN claims for CALLER → CALLEE, issued now, with `changes` applied (a value
    of None removes the claim)."""
    base = shaken_claims(
        attest="A",
        orig_tn=CALLER,
        dest_tns=[CALLEE],
        iat=int(time.time()),
        origid=str(uuid.uuid4()),
    )
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def header(x5u: str, **changes: Any) -> dict[str, Any]:
    base = shaken_header(x5u)
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def identity(passport: str, x5u: str, *, ppt: str | None = "shaken", alg: str = "ES256") -> str:
    value = f"{passport};info=<{x5u}>;alg={alg}"
    return value if ppt is None else f"{value};ppt={ppt}"


def request(
    *identities: str,
    from_: str = FROM,
    to: str = TO,
    date: str | None = "now",
    pai: str | None = None,
) -> list[tuple[str, str]]:
    """The header fields of an INVITE carrying `identities`."""
    fields = [("From", from_), ("To", to)]
    if pai is not None:
        fields.append(("P-Asserted-Identity", pai))
    if date == "now":
        fields.append(("Date", http_date(time.time())))
    elif date is not None:
        fields.append(("Date", date))
    fields += [("Identity", value) for value in identities]
    return fields


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class X5uServer:
    """An HTTPS server on 127.0.0.1 (the lab's server certificate) with a handler per
    path; `hits` counts the requests each path got."""

    port: int
    routes: dict[str, Handler]
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def ok(
    body: bytes, *, cache_control: str | None = None, content_type: str = "application/x-pem-file"
) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        extra = f"Cache-Control: {cache_control}\r\n" if cache_control else ""
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{extra}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        await writer.drain()

    return handle


def endless(*, announce: bool, total: int = 10 * 1024 * 1024) -> Handler:
    """10 MB of body: announced in Content-Length, or streamed without one."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = f"Content-Length: {total}\r\n" if announce else "Connection: close\r\n"
        writer.write(f"HTTP/1.1 200 OK\r\n{length}\r\n".encode())
        chunk = b"A" * 65536
        sent = 0
        while sent < total:
            writer.write(chunk)
            sent += len(chunk)
            await writer.drain()

    return handle


def silent() -> Handler:
    """Reads the request and never answers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    return handle


def status(code: int) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()

    return handle


class Served:
    """Starts and stops an `X5uServer` (and a plain TCP tarpit that never does TLS)."""

    def __init__(self, lab: LabFiles) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(lab.server, lab.server_key)
        self._context = context
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._servers: list[asyncio.Server] = []

    async def start(self, routes: dict[str, Handler]) -> X5uServer:
        served = X5uServer(0, routes)

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            self._writers.add(writer)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                served.hits[path] = served.hits.get(path, 0) + 1
                await routes.get(path, status(404))(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                self._tasks.discard(task)
                writer.transport.abort()

        server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=self._context)
        self._servers.append(server)
        served.port = server.sockets[0].getsockname()[1]
        return served

    async def tarpit(self) -> int:
        """A TCP port that accepts and never says a word (no TLS handshake)."""

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await asyncio.sleep(3600)
            finally:
                self._tasks.discard(task)
                writer.transport.abort()

        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            server.close()
            await server.wait_closed()
