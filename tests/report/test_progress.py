"""The progress display: fed by the runner through a context variable, silent off a TTY."""

from __future__ import annotations

from probe.run import progress


class Recorder:
    def __init__(self) -> None:
        self.total: int | None = None
        self.labels: list[str] = []

    def started(self, total: int) -> None:
        self.total = total

    def advanced(self, label: str) -> None:
        self.labels.append(label)


def test_runner_reports_through_the_context_variable() -> None:
    recorder = Recorder()
    token = progress.CURRENT.set(recorder)
    try:
        progress.started(3)
        progress.advanced("a")
        progress.advanced("b")
    finally:
        progress.CURRENT.reset(token)
    assert recorder.total == 3
    assert recorder.labels == ["a", "b"]
    progress.advanced("nobody listens")  # no sink: nothing happens, nothing raises


def test_no_display_when_stderr_is_not_a_terminal(capsys) -> None:  # type: ignore[no-untyped-def]
    with progress.progress_display():
        assert progress.CURRENT.get() is None
    assert capsys.readouterr().err == ""
