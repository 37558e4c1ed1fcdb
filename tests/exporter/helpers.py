"""The exporter under test, in the test's own event loop: started on a free loopback
port, stopped (probes ended, connections closed) when the block ends; and a small HTTP
client whose every wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.exporter.http import HttpLimits
from probe.exporter.modules import load_config
from probe.exporter.server import Exporter, Render, serve


@dataclass
class Running:
    exporter: Exporter
    host: str
    port: int
    config: Path

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextlib.asynccontextmanager
async def running_exporter(
    tmp_path: Path,
    config_text: str,
    *,
    concurrency: int = 8,
    limits: HttpLimits | None = None,
    render: Render | None = None,
) -> AsyncIterator[Running]:
    config = tmp_path / "exporter.toml"
    config.write_text(textwrap.dedent(config_text))
    said: list[str] = []
    exporter = Exporter(
        config, load_config(config), concurrency=concurrency, render=render, say=said.append
    )
    bound: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve(
            exporter,
            "127.0.0.1",
            0,
            limits=limits,
            ready=lambda h, p: bound.set_result((h, p)),
            signals=False,
        )
    )
    try:
        async with asyncio.timeout(5):
            host, port = await asyncio.shield(bound)
        yield Running(exporter, host, port, config)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(server, 20)
        await exporter.stop_probes()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: str


def fetch(url: str, *, headers: Mapping[str, str] | None = None, method: str = "GET") -> Answer:
    """One request (blocking; run it in a thread from a test's loop), 4xx and 5xx
    included; a 30-second deadline on every wait."""
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read().decode())


async def get(url: str, **options: Any) -> Answer:
    return await asyncio.to_thread(fetch, url, **options)


def samples(exposition: str) -> dict[str, float]:
    """`name{labels}` → value, for the lines of an exposition that are samples."""
    found = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found
