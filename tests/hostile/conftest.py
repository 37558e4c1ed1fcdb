"""After every hostile case: no task, socket or file descriptor left behind."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator

import pytest

SETTLE_S = 0.02
"""Time for aborted transports to run their connection_lost callbacks."""


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    # Async, so that it runs inside the test's own event loop: the loop's descriptors
    # (selector, self-pipe) exist both before and after, and only the case's count.
    gc.collect()
    before = open_descriptors()
    yield
    await asyncio.sleep(SETTLE_S)
    gc.collect()
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert not left, f"tasks left behind: {left}"
    after = open_descriptors()
    assert after == before, f"{after - before} file descriptor(s) left open"
