"""The embedded responder, serving the lab certificate, in a thread of its own: the
commands under test call asyncio.run themselves, so they cannot share a test's loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from probe.serve import Responder, ResponderConfig
from probe.tls.lab import LabFiles


@pytest.fixture(scope="module")
def responder_port(lab: LabFiles) -> Iterator[int]:
    config = ResponderConfig(
        host="127.0.0.1", transports=("tls",), cert_file=lab.server, key_file=lab.server_key
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    ports: list[int] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        try:
            async with Responder(config) as responder:
                ports.append(responder.port_of("tls"))
                ready.set()
                await stop.wait()
        except BaseException as exc:  # surfaced to the test below, not lost in the thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    if failure or not ports:
        raise RuntimeError(f"the responder did not start: {failure}")
    yield ports[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()
