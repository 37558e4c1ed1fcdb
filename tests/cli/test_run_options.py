"""Usage errors of the run controls: refused before any connection, exit 2, one sentence."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli

TARGET = "sip:127.0.0.1:9;transport=tls"  # never contacted: every case is refused first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deadline", "handshake"], "expected PHASE=SECONDS"),
        (["--deadline", "lunch=2"], "unknown phase 'lunch'"),
        (["--deadline", "connect=soon"], "'soon' is not a number of seconds"),
        (["--deadline", "connect=0"], "between 0.01 and 3600"),
        (["--max-time", "0"], "--max-time"),
        (["--rate", "0"], "--rate"),
        (["--per-target", "0"], "--per-target"),
        (["--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_run_controls_are_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["options", TARGET, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_every_phase_is_named_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["options", "--help"])
    for word in ("--deadline", "first_byte", "transaction", "--max-time", "--rate"):
        assert word in result.output


@pytest.mark.parametrize("option", ["--timeout", "--rate", "--max-time", "--interval"])
def test_a_nan_number_is_a_usage_error_naming_the_option(option: str) -> None:
    # NaN passes click's ranges and every `<= 0` check; it once reached the evidence file.
    result = CliRunner().invoke(cli, ["options", "sip:127.0.0.1:9;transport=tcp", option, "nan"])
    assert result.exit_code == 2, result.output
    assert option in result.stderr
