"""--evidence-out naming a device or a pipe (/dev/null, /dev/stdout, a shell's
>(gzip ...)) writes through it: the temporary-file-and-rename used for regular files once
replaced the node itself with a regular file, which for /dev/null run as root breaks the
machine. A FIFO stands in for the device here: same code path, harmless if it breaks."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from click.testing import CliRunner

from probe.cli.commands import cli
from probe.evidence.file import loads_evidence, write_evidence
from tests.evidence import sample


def read_in_background(fifo: Path) -> tuple[threading.Thread, list[str]]:
    received: list[str] = []

    def read() -> None:
        with fifo.open(encoding="utf-8") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, received


def test_write_evidence_to_a_pipe_writes_through_and_keeps_the_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "evidence.fifo"
    os.mkfifo(fifo)
    reader, received = read_in_background(fifo)
    write_evidence(fifo, sample.run())
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the pipe was replaced by a regular file"
    assert received
    assert loads_evidence(received[0]).uris
    assert [entry.name for entry in tmp_path.iterdir()] == ["evidence.fifo"]


def test_evidence_out_to_a_pipe_from_the_command_line(tmp_path: Path, closed_port: int) -> None:
    fifo = tmp_path / "evidence.fifo"
    os.mkfifo(fifo)
    reader, received = read_in_background(fifo)
    target = f"sip:127.0.0.1:{closed_port};transport=tcp"
    result = CliRunner().invoke(
        cli, ["options", target, "--timeout", "0.5", "--evidence-out", str(fifo)]
    )
    reader.join(10)
    assert result.exit_code == 1, result.output  # nothing listens: a failure, reported
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the pipe was replaced by a regular file"
    assert received
    assert loads_evidence(received[0]).uris[0].uri == target
