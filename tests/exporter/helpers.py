"""The exporter under test, in the test's own event loop: started on a free loopback
port, stopped (probes ended, connections closed) when the block ends; and a small HTTP
client whose every wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import signal
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
from tests.signal_child import start_sipprobe


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


class ExporterProcess:
    """A running `sipprobe exporter`, its port, and what it has said on stderr."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.said: list[str] = []
        self._heard = asyncio.Condition()
        self._listening = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            async with self._heard:
                self.said.append(line.decode().rstrip("\n"))
                self._heard.notify_all()

    async def says(self, words: str, timeout: float = 20.0) -> list[str]:
        """Every stderr line from the first one holding `words` on, once it has come."""
        async with asyncio.timeout(timeout), self._heard:
            await self._heard.wait_for(lambda: any(words in line for line in self.said))
            first = next(n for n, line in enumerate(self.said) if words in line)
            return self.said[first:]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def stopped(self, how: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(how)
        async with asyncio.timeout(30):
            code = await self.process.wait()
            await self._listening
        return code


@contextlib.asynccontextmanager
async def exporter_process(config: Path, *extra: str) -> AsyncIterator[ExporterProcess]:
    process = await start_sipprobe(
        "exporter", "--config", str(config), "--listen", "127.0.0.1:0", *extra
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("listening on http 127.0.0.1:"), line
        running = ExporterProcess(process, int(line.rsplit(":", 1)[1]))
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
