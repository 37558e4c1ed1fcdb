"""The README's "Receiving the trunk's calls" lab run works as printed: `sipprobe answer`
takes the call `sipprobe invite` places and both exit 0. Only the port is changed (to a
free one) and `sipprobe` is this interpreter's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.peers.common import free_port

README = Path(__file__).parents[1] / "README.md"
PRINTED_PORT = "5062"


def lab_run() -> str:
    section = README.read_text().split("## Receiving the trunk's calls", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)[0]


def test_the_lab_run_works_as_printed(tmp_path: Path) -> None:
    script = lab_run()
    assert script.count(PRINTED_PORT) == 3  # where it listens, what is dialled, the pin
    port = str(free_port())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "sipprobe"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m probe "$@"\n')
    wrapper.chmod(0o755)
    # The printed script, with its port replaced and each step's exit status kept: the
    # caller's as it returns, the background answer run's through `wait $!`.
    body = script.replace(PRINTED_PORT, port)
    body = body.replace("--ca lab/ca.pem\n", "--ca lab/ca.pem; echo invite=$?\n", 1)
    body = body.replace("wait $!", "wait $!; echo answer=$?", 1)
    assert body.count("invite=") == body.count("answer=") == 1
    result = subprocess.run(
        ["bash", "-c", body],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PYTHONPATH": str(README.parent),
        },
    )
    assert "invite=0" in result.stdout, result.stdout + result.stderr
    assert "answer=0" in result.stdout, result.stdout + result.stderr
    assert "inbound call 1 from 127.0.0.1:" in result.stdout
    assert "PASS" in result.stdout
