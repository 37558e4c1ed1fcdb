"""The README's Python example runs as printed, against `sipprobe serve` on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from probe.tls.lab import LabFiles
from tests.lab_responders import serve_process

README = Path(__file__).parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## From Python", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_readme_example_probes_the_embedded_responder(lab: LabFiles, tmp_path: Path) -> None:
    with serve_process(cert=lab.server, key=lab.server_key) as (_server, port):
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
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "pass", done.stdout
    assert any(line.startswith("pass  sip.options") for line in lines), done.stdout
