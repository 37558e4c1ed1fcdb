"""Digest credentials a header cannot carry (a control character in the username, from
SIPPROBE_AUTH_USER or an --auth-file) are a usage error before any packet, where they
once ended in an internal error (exit 3)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener that would see any connection the command opened."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.setblocking(False)
        yield server


def nothing_connected(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def invite_args(listener: socket.socket, *options: str) -> list[str]:
    port = listener.getsockname()[1]
    target = f"sip:127.0.0.1:{port};transport=tls"
    return ["invite", target, "--to", "+15550100", "--timeout", "0.5", *options]


@pytest.mark.parametrize("username", ["\x1b[31m", "line\nbreak", "a\x7f"])
def test_a_control_character_in_the_environments_username_is_a_usage_error(
    listener: socket.socket, username: str
) -> None:
    env = {"SIPPROBE_AUTH_USER": username, "SIPPROBE_AUTH_PASSWORD": "secret"}
    result = CliRunner().invoke(cli, invite_args(listener), env=env)
    assert result.exit_code == 2, result.output
    assert "SIPPROBE_AUTH_USER" in result.output
    assert "control character" in result.output
    assert "secret" not in result.output
    assert nothing_connected(listener)


@pytest.mark.parametrize("username", ["\x1b[31m", "ali\x00ce", "a\x7f"])
def test_a_control_character_in_the_files_username_is_a_usage_error(
    listener: socket.socket, tmp_path: Path, username: str
) -> None:
    auth = tmp_path / "auth"
    auth.write_text(f"username={username}\npassword=secret\n", encoding="utf-8")
    result = CliRunner().invoke(cli, invite_args(listener, "--auth-file", str(auth)))
    assert result.exit_code == 2, result.output
    assert str(auth) in result.output
    assert "control character" in result.output
    assert "secret" not in result.output
    assert nothing_connected(listener)


def test_options_reads_the_same_credentials_and_refuses_a_bad_file_before_any_packet(
    listener: socket.socket, tmp_path: Path
) -> None:
    port = listener.getsockname()[1]
    target = f"sip:127.0.0.1:{port};transport=tcp"
    auth = tmp_path / "auth"
    auth.write_text("username=alice\n", encoding="utf-8")  # no password line
    result = CliRunner().invoke(cli, ["options", target, "--auth-file", str(auth)])
    assert result.exit_code == 2, result.output
    assert "needs a non-empty username= and password= line" in result.output
    assert nothing_connected(listener)
    half = {"SIPPROBE_AUTH_PASSWORD": "secret-in-env"}
    result = CliRunner().invoke(cli, ["options", target], env=half)
    assert result.exit_code == 2, result.output
    assert "set both SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD" in result.output
    assert "secret-in-env" not in result.output
    assert nothing_connected(listener)
