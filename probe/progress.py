"""A progress display on stderr for long runs, and nothing at all when stderr is not a
terminal (CI logs and pipes stay clean).

The runner reports through a context variable, so no signature in between has to carry
it: `with progress_display():` around a run is all a command does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

SHOW_FROM = 5
"""Fewer targets than this finish before a bar would be worth looking at."""


class ProgressSink(Protocol):
    def started(self, total: int) -> None: ...

    def advanced(self, label: str) -> None: ...


CURRENT: ContextVar[ProgressSink | None] = ContextVar("sipprobe_progress", default=None)


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
