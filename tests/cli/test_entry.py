"""The console entry point: `--version` answers without importing the CLI framework."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from probe import __version__
from probe.cli.commands import cli


def test_fast_version_matches_the_cli_version() -> None:
    script = (
        "import sys; sys.argv = ['sipprobe', '--version']\n"
        "from probe.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules"
        " if m in ('click', 'asyncio', 'ssl', 'probe.cli.commands')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    version_line, imported = done.stdout.splitlines()
    assert version_line == f"sipprobe {__version__}"
    assert imported == "[]", "the fast path imported the CLI or the network stack"
    assert CliRunner().invoke(cli, ["--version"]).output.strip() == version_line


def test_every_other_invocation_reaches_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "probe", "--help"], capture_output=True, text=True, check=True
    )
    assert "Verify SIP trunks end to end" in done.stdout
