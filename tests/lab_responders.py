"""Embedded responders in a thread of their own, started and stopped by a test: the
commands under test call asyncio.run themselves, so they cannot share a test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence

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
