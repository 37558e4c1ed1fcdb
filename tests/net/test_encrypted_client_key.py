"""An encrypted client key, from the lab PKI, against a real Kamailio that requires and
verifies a client certificate (`verify_certificate`, `require_certificate`): the password
comes from --key-password-file or SIPPROBE_KEY_PASSWORD, never from the command line; a
wrong or a missing one is a usage error before any packet; no password is ever printed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio

pytestmark = pytest.mark.peer


def password(lab: LabFiles) -> str:
    return lab.client_key_password.read_text().strip()


def args(kamailio: Kamailio, lab: LabFiles, *more: str) -> list[str]:
    port = kamailio.mtls_port
    return [
        "options",
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--cert",
        str(lab.client),
        "--key",
        str(lab.client_key_encrypted),
        "--timeout",
        "3",
        "--format",
        "json",
        *more,
    ]


def test_the_password_file_opens_the_key_for_mutual_tls(kamailio: Kamailio, lab: LabFiles) -> None:
    result = CliRunner().invoke(
        cli, args(kamailio, lab, "--key-password-file", str(lab.client_key_password))
    )
    assert result.exit_code == 0, result.output
    assert '"client_cert_sent": true' in result.output
    assert password(lab) not in result.output


def test_the_environment_opens_it_too(kamailio: Kamailio, lab: LabFiles) -> None:
    result = CliRunner().invoke(
        cli, args(kamailio, lab), env={"SIPPROBE_KEY_PASSWORD": password(lab)}
    )
    assert result.exit_code == 0, result.output
    assert password(lab) not in result.output


def test_the_file_wins_over_the_environment(kamailio: Kamailio, lab: LabFiles) -> None:
    result = CliRunner().invoke(
        cli,
        args(kamailio, lab, "--key-password-file", str(lab.client_key_password)),
        env={"SIPPROBE_KEY_PASSWORD": "a-stale-password"},
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TLS-looking port that records whether the command connected at all."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.setblocking(False)
        yield server


def connected(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def refused_args(listener: socket.socket, lab: LabFiles) -> list[str]:
    port = listener.getsockname()[1]
    return [
        "options",
        f"sip:127.0.0.1:{port};transport=tls",
        "--ca",
        str(lab.ca),
        "--cert",
        str(lab.client),
        "--key",
        str(lab.client_key_encrypted),
        "--timeout",
        "0.5",
    ]


def test_a_wrong_password_is_a_usage_error_before_any_packet_and_never_printed(
    listener: socket.socket, lab: LabFiles, tmp_path: Path
) -> None:
    wrong = "Wr0ng-but-secret-all-the-same"
    result = CliRunner().invoke(
        cli, refused_args(listener, lab), env={"SIPPROBE_KEY_PASSWORD": wrong}
    )
    assert result.exit_code == 2, result.output
    assert "does not decrypt" in result.output
    assert str(lab.client_key_encrypted) in result.output
    assert wrong not in result.output
    assert not connected(listener)
    written = tmp_path / "wrong.txt"
    written.write_text(wrong + "\n")
    result = CliRunner().invoke(
        cli, [*refused_args(listener, lab), "--key-password-file", str(written)]
    )
    assert result.exit_code == 2, result.output
    assert wrong not in result.output
    assert not connected(listener)


def test_an_encrypted_key_without_a_password_says_where_to_give_one(
    listener: socket.socket, lab: LabFiles
) -> None:
    unset = {"SIPPROBE_KEY_PASSWORD": None}
    result = CliRunner().invoke(cli, refused_args(listener, lab), env=unset)
    assert result.exit_code == 2, result.output
    assert "is encrypted" in result.output
    assert "--key-password-file" in result.output
    assert "SIPPROBE_KEY_PASSWORD" in result.output
    assert not connected(listener)


def test_a_password_file_without_a_client_certificate_is_refused(
    listener: socket.socket, lab: LabFiles
) -> None:
    port = listener.getsockname()[1]
    target = f"sip:127.0.0.1:{port};transport=tls"
    result = CliRunner().invoke(
        cli, ["options", target, "--key-password-file", str(lab.client_key_password)]
    )
    assert result.exit_code == 2, result.output
    assert "needs --cert" in result.output
    assert not connected(listener)


def test_there_is_no_option_that_takes_the_password_itself() -> None:
    for command in ("options", "failover", "invite", "check"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--key-password-file" in help_text
        assert "--key-password " not in help_text
        assert "--password" not in help_text
