"""A progress display on stderr for long runs, and nothing at all when stderr is not a
terminal (CI logs and pipes stay clean).

The runner reports through a context variable, so no signature in between has to carry
it: `with progress_display():` around a run is all a command does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from probe.evidence.model import SipExchange

SHOW_FROM = 5
"""Fewer targets than this finish before a bar would be worth looking at."""


class ProgressSink(Protocol):
    def started(self, total: int) -> None: ...

    def advanced(self, label: str) -> None: ...


CURRENT: ContextVar[ProgressSink | None] = ContextVar("sipprobe_progress", default=None)


REPLIES: ContextVar[Callable[[str], None] | None] = ContextVar("sipprobe_replies", default=None)
"""Where a ping run's line per reply goes (`--live`), when anywhere."""


def replied(exchange: SipExchange, sequence: int, where: str) -> None:
    """One probe of a `--count` run came back (or did not): its line, when shown."""
    show = REPLIES.get()
    if show is not None:
        from probe.evidence.ping import reply_line

        show(reply_line(exchange, sequence, where))


def started(total: int) -> None:
    sink = CURRENT.get()
    if sink is not None:
        sink.started(total)


def advanced(label: str) -> None:
    sink = CURRENT.get()
    if sink is not None:
        sink.advanced(label)


class _RichSink:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("probing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("", total=None, visible=False)

    def started(self, total: int) -> None:
        if total >= SHOW_FROM:
            self.progress.update(self.task, total=total, visible=True)

    def advanced(self, label: str) -> None:
        self.progress.update(self.task, advance=1, description=label)


@contextlib.contextmanager
def progress_display() -> Iterator[None]:
    if not sys.stderr.isatty():
        yield
        return
    sink = _RichSink()
    token = CURRENT.set(sink)
    try:
        with sink.progress:
            yield
    finally:
        CURRENT.reset(token)


@contextlib.contextmanager
def live_replies(enabled: bool) -> Iterator[None]:
    """A line per reply on stderr, as ping prints, while the run lasts (`--live`);
    through the progress display's console when one is showing, so the two do not
    overwrite each other."""
    if not enabled:
        yield
        return
    token = REPLIES.set(_show_reply)
    try:
        yield
    finally:
        REPLIES.reset(token)


def show_on_stderr(text: str) -> None:
    """`text` on stderr as one line (or block), through the progress display's console
    when one is showing (`--trace`)."""
    _show_reply(text)


def _show_reply(line: str) -> None:
    # The progress display, when there is one, is only known inside the run's context.
    sink = CURRENT.get()
    if isinstance(sink, _RichSink):
        sink.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # a reader of stderr that went away does not end the run
