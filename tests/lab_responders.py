"""Embedded responders for tests, always stopped: in a thread of their own (`serving`: the
commands under test call asyncio.run themselves, so they cannot share a test's loop), or
as `sipprobe serve` in a process of its own (`serve_process`: a test may stop or kill it,
or need it outside a mount namespace the probe runs in)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from probe.serve import Responder, ResponderConfig


@contextlib.contextmanager
def serving(configs: Sequence[ResponderConfig]) -> Iterator[list[int]]:
    """Every responder of `configs` listening (their TLS ports, in order) until the block
    ends; a responder that cannot start fails the test with the reason."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    ports: list[int] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                for config in configs:
                    responder = await stack.enter_async_context(Responder(config))
                    ports.append(responder.port_of("tls"))
                ready.set()
                await stop.wait()
        except BaseException as exc:  # surfaced to the test below, not lost in the thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the responders did not start: {failure}")
        yield ports
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def serve_process(
    transport: str = "tls",
    *,
    listen: str = "127.0.0.1",
    cert: Path | None = None,
    key: Path | None = None,
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`sipprobe serve` listening on a free port: the process and the port, read from its
    listening line (a readiness signal, not a sleep). Killed when the block ends, even
    if the test stopped it (SIGSTOP) and never let it go on."""
    tls = ["--cert", str(cert), "--key", str(key)] if cert is not None and key is not None else []
    where = ["--transport", transport, "--listen", listen, "--port", "0"]
    server = subprocess.Popen(
        [sys.executable, "-m", "probe", "serve", *where, *tls],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith(f"listening on {transport} {listen}:"), line
        yield server, int(line.rsplit(":", 1)[1])
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
