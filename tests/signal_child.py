"""Running sipprobe as a child that a test stops with a signal.

A test suite started with SIGINT ignored (under `nohup`, as a shell's background job)
passes that to its children, and sipprobe deliberately keeps a signal ignored when it was
ignored at start (probe.cli.signals): the child is therefore started with every stop
signal back at its default. Signals are sent once the test has seen the child reach the
state it is about (`wait_until`), never after a fixed sleep.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SIPPROBE = (sys.executable, "-m", "probe")


def default_signals() -> None:
    """In the child, before exec: every stop signal at its default disposition."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


async def start_sipprobe(*args: str, **options: Any) -> asyncio.subprocess.Process:
    """`sipprobe ARGS` with its output piped and its stop signals at their defaults."""
    return await asyncio.create_subprocess_exec(
        *SIPPROBE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=default_signals,
        **options,
    )


async def wait_until(ready: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll `ready` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout:g} s: {what}")
        await asyncio.sleep(0.02)


async def finish(
    process: asyncio.subprocess.Process, timeout: float = 30.0
) -> tuple[int, str, str]:
    """The child's exit code, stdout and stderr; killed (and the test failed) if it hangs."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"sipprobe did not exit within {timeout:g} s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def popen_sipprobe(*args: str) -> subprocess.Popen[str]:
    """`start_sipprobe` for synchronous tests."""
    return subprocess.Popen(
        [*SIPPROBE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )


def wait_until_sync(ready: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """`wait_until` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout:g} s: {what}")
        time.sleep(0.02)


def finish_sync(process: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """`finish` for synchronous tests."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"sipprobe did not exit within {timeout:g} s") from None
    return process.returncode, out, err
