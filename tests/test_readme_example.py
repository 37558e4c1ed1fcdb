"""The README's Python example runs as printed, against `sipprobe serve` on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from probe.tls.lab import LabFiles

README = Path(__file__).parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## From Python", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_readme_example_probes_the_embedded_responder(lab: LabFiles, tmp_path: Path) -> None:
    tls = ["--cert", str(lab.server), "--key", str(lab.server_key)]
    server = subprocess.Popen(
        [sys.executable, "-m", "probe", "serve", "--transport", "tls", "--port", "0", *tls],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on tls 127.0.0.1:"), line
        port = line.rsplit(":", 1)[1].strip()
        # The example's port and CA file, and nothing else, changed for this run.
        script = readme_example().replace(":5061", f":{port}")
        (tmp_path / "lab").mkdir()
        (tmp_path / "lab" / "ca.pem").write_bytes(lab.ca.read_bytes())
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "pass", done.stdout
    assert any(line.startswith("pass  sip.options") for line in lines), done.stdout
