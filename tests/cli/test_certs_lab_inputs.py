"""`sipprobe certs lab` refuses what it cannot write (exit 2, one line saying why) before
any key is generated, where it once ended in an internal error (exit 3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("bücher.test", "A-label"),
        ("💥", "A-label"),
        ("", "empty"),
        ("a" * 65, "at most 64"),
        ("a\x01b.test", "control characters"),
    ],
)
def test_a_name_no_certificate_can_hold_is_a_usage_error(
    tmp_path: Path, name: str, said: str
) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["certs", "lab", str(tmp_path / "lab"), "--name", name])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "Traceback" not in result.output
    # Refused before generating keys (seconds of RSA) and before writing anything.
    assert time.monotonic() - started < 2
    assert not (tmp_path / "lab").exists()


def test_a_long_name_after_the_first_is_a_san_only_and_accepted(tmp_path: Path) -> None:
    long_label_name = ".".join(["a" * 60] * 3) + ".test"
    result = CliRunner().invoke(
        cli, ["certs", "lab", str(tmp_path), "--name", "a.test", "--name", long_label_name]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "server.pem").exists()


@pytest.mark.parametrize("where", ["/dev/null", "file", "file/below"])
def test_a_directory_that_cannot_be_made_is_a_usage_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    directory = where if where.startswith("/") else str(tmp_path / where)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["certs", "lab", directory])
    assert result.exit_code == 2, result.output
    assert directory in result.output
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 2
    assert (tmp_path / "file").read_text(encoding="utf-8") == "not a folder"
