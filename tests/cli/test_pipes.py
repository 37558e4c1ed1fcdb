"""A reader that goes away (`sipprobe options ... | head -1`) does not change the verdict."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.lab_responders import serve_process

SIPPROBE = [sys.executable, "-m", "probe"]


@pytest.fixture
def responder() -> Iterator[int]:
    """The embedded responder over UDP: every OPTIONS probe of it passes."""
    with serve_process("udp") as (_server, port):
        yield port


@pytest.mark.parametrize("output_format", ["console", "json", "nagios"])
def test_a_closed_stdout_keeps_the_exit_code_of_the_verdict(
    responder: int, output_format: str
) -> None:
    target = f"sip:127.0.0.1:{responder};transport=udp"
    process = subprocess.Popen(
        [*SIPPROBE, "options", target, "--format", output_format],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    # The reader is gone before the report is written: every write to stdout fails.
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(30) == 0, stderr
    assert "Traceback" not in stderr
    assert "Error" not in stderr
