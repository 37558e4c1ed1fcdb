"""Running the real `sipprobe` command and keeping everything it leaves behind.

Each run gets an empty working folder, with HOME and TMPDIR inside it, so every file the
command writes (outputs, evidence, temporary files, caches) is found afterwards. Python's
development mode is on, which turns on asyncio's debug logging and every warning: the
tool has no log of its own (no `logging` anywhere in the package), so this is the most it
can say on standard error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Run:
    """One command: its arguments, exit code, standard streams and written files."""

    name: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    folder: Path
    files: dict[str, str] = field(default_factory=dict)
    """Every file found in the run's folder afterwards, by relative path (text, lossy)."""

    def haystacks(self) -> dict[str, str]:
        found = {f"{self.name}: stdout": self.stdout, f"{self.name}: stderr": self.stderr}
        found.update({f"{self.name}: {path}": text for path, text in self.files.items()})
        return found

    def file(self, name: str) -> str:
        assert name in self.files, f"{self.name} wrote no {name}: {sorted(self.files)}"
        return self.files[name]

    def explain(self) -> str:
        return f"{self.name}: exit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


def run_sipprobe(
    name: str,
    args: Sequence[str],
    folder: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 90,
) -> Run:
    folder.mkdir(parents=True)
    (folder / "home").mkdir()
    (folder / "tmp").mkdir()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SIPPROBE_") and key not in ("COLUMNS", "NO_COLOR")
    }
    environment.update(
        HOME=str(folder / "home"),
        TMPDIR=str(folder / "tmp"),
        PYTHONDEVMODE="1",
        PYTHONASYNCIODEBUG="1",
        PYTHONWARNINGS="default",
    )
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "probe", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    files = {
        str(path.relative_to(folder)): path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    return Run(name, list(args), result.returncode, result.stdout, result.stderr, folder, files)
