"""A report file that cannot be written after the run (a full disk: /dev/full) is said on
stderr and makes the run incomplete, never a pass; so does a full standard output. Both
once ended in exit 3, the code kept for faults of sipprobe itself. The other outputs are
still written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.lab_responders import serving

FULL = "/dev/full"


@pytest.fixture
def passing_target(lab: LabFiles) -> Iterator[list[str]]:
    """A TLS target that passes: the embedded responder with the lab chain."""
    config = ResponderConfig(cert_file=lab.server, key_file=lab.server_key)
    with serving([config]) as (port,):
        yield [
            f"sip:{LAB_NAME}:{port};transport=tls",
            *("--resolve", f"{LAB_NAME}:{port}:127.0.0.1", "--ca", str(lab.ca)),
            *("--timeout", "2"),
        ]


def test_a_passing_run_whose_report_file_cannot_be_written_is_incomplete(
    passing_target: list[str],
) -> None:
    clean = CliRunner().invoke(cli, ["options", *passing_target])
    assert clean.exit_code == 0, clean.output
    result = CliRunner().invoke(
        cli, ["options", *passing_target, "--format", "json", "--output", f"junit={FULL}"]
    )
    assert result.exit_code == 4, result.output
    assert f"cannot write {FULL}" in result.output
    assert "internal error" not in result.output
    # Standard output still carries its report.
    assert json.loads(result.stdout)["verdict"] == "pass"


def test_nagios_says_unknown_when_a_report_file_cannot_be_written(
    passing_target: list[str],
) -> None:
    result = CliRunner().invoke(
        cli, ["options", *passing_target, "--nagios", "--output", f"json={FULL}"]
    )
    assert result.exit_code == 3, result.output  # Nagios UNKNOWN
    # The status line says what the exit code says, and why.
    assert result.stdout.startswith(f"SIPPROBE UNKNOWN - report not written to {FULL}; ")


def test_a_failing_run_stays_a_failure(closed_port: int) -> None:
    target = f"sip:127.0.0.1:{closed_port};transport=tcp"
    result = CliRunner().invoke(
        cli, ["options", target, "--timeout", "0.5", "--output", f"json={FULL}"]
    )
    assert result.exit_code == 1, result.output
    assert f"cannot write {FULL}" in result.output


@pytest.mark.parametrize("output_format", ["console", "json", "nagios"])
def test_a_full_standard_output_is_said_on_stderr_and_never_a_pass(
    passing_target: list[str], output_format: str
) -> None:
    with open(FULL, "w", encoding="utf-8") as full:
        finished = subprocess.run(
            [sys.executable, "-m", "probe", "options", *passing_target, "--format", output_format],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert finished.returncode == (3 if output_format == "nagios" else 4), finished.stderr
    assert "cannot write standard output: No space left on device" in finished.stderr
    assert "internal error" not in finished.stderr
    assert "Traceback" not in finished.stderr
