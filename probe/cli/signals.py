"""Signals while a command runs: SIGINT, SIGTERM and SIGHUP all end the run the same way.

CI cancellation, `timeout` and systemd send SIGTERM, a closed terminal SIGHUP, Ctrl-C
SIGINT; a test call must be ended whichever of them comes. The first signal cancels the
run: every call in progress is ended (CANCEL before a final response, ACK and BYE after a
2xx, probe.net.call), the partial report is written and the command exits 128+N. A second
signal exits at once with 128+N, without waiting for that clean-up.

A signal that was ignored when the run began stays ignored (`nohup` ignores SIGHUP, a
shell ignores SIGINT in its background jobs): whoever started us asked for that. The
handlers in place before the run are restored after it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.report.exit_codes import EXIT_SIGNAL_BASE, signal_name

__all__ = [
    "STOP_SIGNALS",
    "SignalStop",
    "StoppedBySignal",
    "handling_stop_signals",
    "signal_name",
    "stop_on_signals",
]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StoppedBySignal(ProbeError):
    """A signal stopped the run before it had anything to report."""

    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"interrupted by {signal_name(number)}")


@dataclass
class SignalStop:
    """What the handlers saw: the first stop signal's number, once one came."""

    received: int | None = None


def _say(text: str) -> None:
    # Written straight to the descriptor: the second signal leaves through os._exit,
    # which flushes nothing.
    with contextlib.suppress(OSError):
        os.write(2, f"sipprobe: {text}\n".encode())


@contextlib.contextmanager
def stop_on_signals(say: Callable[[str], None] = _say) -> Iterator[SignalStop]:
    """While the block runs in the current task, the first stop signal cancels that task
    (the run then ends its calls and keeps what it found) and a second one exits at once.

    The handlers are the interpreter's (signal.signal), not the event loop's: one runs at
    the next bytecode even while the run computes without awaiting, so a signal that
    comes as the run ends is recorded in `received` instead of being dropped with the
    loop's handlers; the cancellation itself is handed to the loop.

    Needs a running loop; off the main thread (where signals cannot be caught) nothing is
    installed and the run goes on as before."""
    import asyncio  # here: the command line imports this module before any run

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stop = SignalStop()

    def cancel_run() -> None:
        if task is not None:
            task.cancel()

    def on_signal(number: int, _frame: object) -> None:
        name = signal_name(number)
        if stop.received is not None:
            say(f"{name} again: exiting now, without waiting for calls to end")
            os._exit(EXIT_SIGNAL_BASE + number)
        stop.received = number
        say(f"interrupted by {name}: ending calls in progress ({name} again to exit at once)")
        # A handler may run between any two steps of the loop itself: the cancellation
        # waits for the loop's next turn, as a callback from another thread would.
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(cancel_run)

    with handling_stop_signals(on_signal):
        yield stop


@contextlib.contextmanager
def handling_stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """`handler` for SIGINT, SIGTERM and SIGHUP while the block runs, and the handlers in
    place before it put back after it. A signal ignored when the block begins stays
    ignored; off the main thread (where signals cannot be caught) nothing is installed."""
    installed: list[tuple[signal.Signals, signal._HANDLER]] = []
    for number in STOP_SIGNALS:
        previous = signal.getsignal(number)
        if previous is signal.SIG_IGN:
            continue
        try:
            signal.signal(number, handler)
        except ValueError:
            continue  # not the main thread
        installed.append((number, previous))
    try:
        yield
    finally:
        for number, previous in installed:
            # None: a handler not installed from Python, which cannot be put back.
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
