"""Running an answer run in the background of a test, and its configurations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from probe.answer import AnswerConfig, IdentityCheck, ListenerSpec, answer_calls
from probe.evidence.inbound import (
    InboundCall,
    InboundEvidence,
    InboundExpectation,
    InboundTransport,
    Listening,
)
from probe.sip import TimerConfig
from probe.tls.lab import LabFiles

RUN_SECONDS = 60.0
"""No answer run in a test may take longer: a hang fails the test, not the suite."""


def config(
    lab: LabFiles,
    *transports: InboundTransport,
    calls: int = 1,
    within_s: float = 20.0,
    hold_s: float = 0.5,
    verify_media: bool = False,
    client_ca: Path | None = None,
    request_client_cert: bool = False,
    ring_s: float = 0.0,
    t1: float = 0.5,
    port: int = 0,
) -> AnswerConfig:
    return AnswerConfig(
        listeners=tuple(ListenerSpec(t, "127.0.0.1", port) for t in transports or ("tls",)),
        cert_file=lab.server,
        key_file=lab.server_key,
        client_ca=client_ca,
        request_client_cert=request_client_cert,
        expectation=InboundExpectation(
            calls=calls, within_s=within_s, verify_media=verify_media, hold_s=hold_s
        ),
        ring_s=ring_s,
        timers=TimerConfig(t1=t1),
    )


@dataclass
class Answering:
    listening: tuple[Listening, ...]
    stop: asyncio.Event
    task: asyncio.Task[InboundEvidence]

    def port(self, transport: InboundTransport = "tls") -> int:
        return next(item.port for item in self.listening if item.transport == transport)

    async def evidence(self, timeout: float = RUN_SECONDS) -> InboundEvidence:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self.task)


@contextlib.asynccontextmanager
async def answering(
    answer_config: AnswerConfig, *, identity: IdentityCheck | None = None
) -> AsyncIterator[Answering]:
    """The run started; on leaving the block it is stopped if still running."""
    bound: list[tuple[Listening, ...]] = []
    ready = asyncio.Event()

    def on_ready(listening: tuple[Listening, ...]) -> None:
        bound.append(listening)
        ready.set()

    stop = asyncio.Event()
    task = asyncio.ensure_future(
        answer_calls(answer_config, identity=identity, stop=stop, ready=on_ready)
    )
    waiting = asyncio.ensure_future(ready.wait())
    try:
        async with asyncio.timeout(10):
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            task.result()  # raises what stopped the run before it listened
        yield Answering(bound[0], stop, task)
    finally:
        waiting.cancel()
        stop.set()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(RUN_SECONDS):
                await task


def only_call(evidence: InboundEvidence) -> InboundCall:
    assert len(evidence.calls) == 1, evidence.calls
    return evidence.calls[0]


def first_lines(call: InboundCall) -> list[tuple[str, str]]:
    """(direction, start line) of each message of the call, in order."""
    return [
        (event.direction, event.data.split(b"\r\n", 1)[0].decode(errors="replace"))
        for event in call.events
    ]
