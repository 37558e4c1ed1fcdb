"""Every file a user hands sipprobe can be wrong: each mistake is a usage error (exit 2)
whose message names the file and says what is wrong with it, on one line (a scenario
lists every problem, one line each, every line naming the file), and never a traceback.

Scenario files, trust anchors, client certificates and keys, target lists, credential
files and evidence files. Every case is refused before any connection is opened; the
targets point at a loopback port where nothing is meant to answer in any case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from probe.cli.commands import cli
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME

TARGET = "sips:127.0.0.1:9"
CALLEE = "sip:+15550100@example.test"

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

VALID_SCENARIO = f"""[trunk]
name = "bad-files"

[[endpoint]]
uri = "sip:{LAB_NAME}:9;transport=tls"

[run]
resolve = ["{LAB_NAME}:9:127.0.0.1"]
"""


@dataclass(frozen=True)
class Files:
    """The lab's good files and a folder to put bad ones in."""

    lab: LabFiles
    folder: Path

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def client_identity(self, key: Path) -> list[str]:
        return ["--ca", str(self.lab.ca), "--cert", str(self.lab.client), "--key", str(key)]

    def encrypted_client_key(self) -> Path:
        key = serialization.load_pem_private_key(self.lab.client_key.read_bytes(), password=None)
        return self.write(
            "encrypted.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"bad-files-pass"),
            ),
        )


@pytest.fixture
def files(tmp_path: Path, lab: LabFiles) -> Files:
    return Files(lab, tmp_path)


# A case builds its command line from the files, and says which file the message must
# name and which words must say what is wrong.
Case = Callable[[Files], tuple[list[str], Path, str]]


def scenario_case(content: str | bytes, problem: str) -> Case:
    def build(f: Files) -> tuple[list[str], Path, str]:
        path = f.write("trunk.toml", content)
        return ["check", str(path)], path, problem

    return build


def _scenario_naming(**tls: str) -> Callable[[Files], str]:
    def text(f: Files) -> str:
        lines = [
            f'{key} = "{value.format(lab=f.lab.directory, tmp=f.folder)}"'
            for key, value in tls.items()
        ]
        return VALID_SCENARIO + "\n[tls]\n" + "\n".join(lines) + "\n"

    return text


def scenario_with(
    text: Callable[[Files], str], named: Callable[[Files], Path], problem: str
) -> Case:
    def build(f: Files) -> tuple[list[str], Path, str]:
        path = f.write("trunk.toml", text(f))
        return ["check", str(path)], named(f), problem

    return build


def options_case(make: Callable[[Files], tuple[list[str], Path]], problem: str) -> Case:
    def build(f: Files) -> tuple[list[str], Path, str]:
        args, named = make(f)
        return ["options", TARGET, *args], named, problem

    return build


def invite_auth_case(content: str | None, problem: str) -> Case:
    def build(f: Files) -> tuple[list[str], Path, str]:
        path = f.folder / "trunk.auth" if content is None else f.write("trunk.auth", content)
        args = ["invite", TARGET, "--to", CALLEE, "--ca", str(f.lab.ca), "--auth-file", str(path)]
        return args, path, problem

    return build


def evidence_case(content: str | bytes | None, problem: str, command: str = "judge") -> Case:
    def build(f: Files) -> tuple[list[str], Path, str]:
        path = f.folder / "run.json" if content is None else f.write("run.json", content)
        args = ["judge", str(path)] if command == "judge" else ["diff", str(path), str(path)]
        return args, path, problem

    return build


WRONG_TYPES = """[trunk]
name = 7

[[endpoint]]
uri = "sips:a.example.test"
priority = "first"
"""

UNKNOWN_KEYS = """[trunk]
name = "x"
provder = "twilio"

[[endpoint]]
uri = "sips:a.example.test"

[tsl]
trust = "system"
"""

CASES: dict[str, Case] = {
    # Scenario files.
    "scenario missing": lambda f: (
        ["check", str(f.folder / "nope.toml")],
        f.folder / "nope.toml",
        "No such file or directory",
    ),
    "scenario is a directory": lambda f: (["check", str(f.folder)], f.folder, "Is a directory"),
    "scenario not UTF-8": scenario_case(b'[trunk]\nname = "\xff\xfe"\n', "not UTF-8 text"),
    "scenario invalid TOML": scenario_case('[trunk\nname = "x"\n', "TOML syntax error"),
    "scenario wrong types": scenario_case(WRONG_TYPES, "Input should be a valid string"),
    "scenario unknown keys": scenario_case(UNKNOWN_KEYS, "unknown key 'provder'"),
    "scenario missing CA": scenario_with(
        _scenario_naming(trust="{tmp}/missing-ca.pem"),
        lambda f: f.folder / "missing-ca.pem",
        "does not exist",
    ),
    "scenario missing client key": scenario_with(
        _scenario_naming(client_cert="{lab}/client.pem", client_key="{tmp}/missing.key"),
        lambda f: f.folder / "missing.key",
        "does not exist",
    ),
    "scenario key not matching": scenario_with(
        _scenario_naming(
            trust="{lab}/ca.pem", client_cert="{lab}/client.pem", client_key="{lab}/server.key"
        ),
        lambda f: f.lab.server_key,
        "does not match",
    ),
    # Trust anchors.
    "--ca missing": options_case(
        lambda f: (["--ca", str(f.folder / "ca.pem")], f.folder / "ca.pem"), "does not exist"
    ),
    "--trust missing": options_case(
        lambda f: (["--trust", str(f.folder / "ca.pem")], f.folder / "ca.pem"), "does not exist"
    ),
    "--ca not a certificate": options_case(
        lambda f: (["--ca", str(f.write("ca.pem", "hello\n"))], f.folder / "ca.pem"),
        "neither PEM nor a DER certificate",
    ),
    "--ca folder without certificates": options_case(
        lambda f: (["--ca", str(f.folder)], f.folder), "no *.pem or *.crt files"
    ),
    # Client certificate and key.
    "--key not matching --cert": options_case(
        lambda f: (
            ["--ca", str(f.lab.ca), "--cert", str(f.lab.client), "--key", str(f.lab.server_key)],
            f.lab.server_key,
        ),
        "the key does not match the certificate",
    ),
    "--key missing": options_case(
        lambda f: (
            ["--ca", str(f.lab.ca), "--cert", str(f.lab.client), "--key", str(f.folder / "k")],
            f.folder / "k",
        ),
        "does not exist",
    ),
    "--cert missing": options_case(
        lambda f: (
            ["--ca", str(f.lab.ca), "--cert", str(f.folder / "c"), "--key", str(f.lab.client_key)],
            f.folder / "c",
        ),
        "does not exist",
    ),
    "--key not a key": options_case(
        lambda f: (
            ["--ca", str(f.lab.ca), "--cert", str(f.lab.client), "--key", str(f.lab.ca)],
            f.lab.ca,
        ),
        "holds no usable PEM private key",
    ),
    "--cert not a certificate": options_case(
        lambda f: (
            [
                "--ca",
                str(f.lab.ca),
                "--cert",
                str(f.lab.client_key),
                "--key",
                str(f.lab.client_key),
            ],
            f.lab.client_key,
        ),
        "holds no PEM certificate",
    ),
    "--key encrypted": options_case(
        lambda f: (
            [
                "--ca",
                str(f.lab.ca),
                "--cert",
                str(f.lab.client),
                "--key",
                str(f.encrypted_client_key()),
            ],
            f.folder / "encrypted.key",
        ),
        "is encrypted",
    ),
    "--key encrypted, the password file is wrong": options_case(
        lambda f: (
            [
                *f.client_identity(f.encrypted_client_key()),
                "--key-password-file",
                str(f.write("pass.txt", "not-the-password\n")),
            ],
            f.folder / "encrypted.key",
        ),
        "does not decrypt",
    ),
    "--key-password-file missing": options_case(
        lambda f: (
            [
                *f.client_identity(f.encrypted_client_key()),
                "--key-password-file",
                str(f.folder / "pass.txt"),
            ],
            f.folder / "pass.txt",
        ),
        "No such file or directory",
    ),
    "--key-password-file with an empty first line": options_case(
        lambda f: (
            [
                *f.client_identity(f.encrypted_client_key()),
                "--key-password-file",
                str(f.write("pass.txt", "\nbad-files-pass\n")),
            ],
            f.folder / "pass.txt",
        ),
        "the first line is empty",
    ),
    "--key is a directory": options_case(
        lambda f: (
            ["--ca", str(f.lab.ca), "--cert", str(f.lab.client), "--key", str(f.folder)],
            f.folder,
        ),
        "is a directory",
    ),
    # Target lists.
    "--targets missing": lambda f: (
        ["options", "--targets", str(f.folder / "targets.txt")],
        f.folder / "targets.txt",
        "No such file or directory",
    ),
    "--targets is a directory": lambda f: (
        ["options", "--targets", str(f.folder)],
        f.folder,
        "Is a directory",
    ),
    # Digest credentials.
    "--auth-file missing": invite_auth_case(None, "No such file or directory"),
    "--auth-file without a password": invite_auth_case(
        "username=trunk\n", "needs a non-empty username= and password= line"
    ),
    "--auth-file empty": invite_auth_case("", "needs a non-empty username= and password= line"),
    # Evidence files.
    "evidence missing": evidence_case(None, "no such file"),
    "evidence not JSON": evidence_case("{not json", "is not JSON"),
    "evidence empty": evidence_case("", "is not JSON"),
    "evidence not UTF-8": evidence_case(b"\xff\xfe{}", "not UTF-8 text"),
    "evidence wrong version": evidence_case(
        '{"schema": "sipprobe.evidence/9"}', "expected 'sipprobe.evidence/1'"
    ),
    "evidence not an object": evidence_case("[1, 2]", "not a JSON object"),
    "evidence wrong types": evidence_case(
        '{"schema": "sipprobe.evidence/1", "command": 5}', "command should be one of"
    ),
    "diff evidence wrong version": evidence_case(
        '{"schema": "sipprobe.report/1"}', "is not a sipprobe evidence file", command="diff"
    ),
}


def invoke(args: list[str]) -> tuple[int, str, str, BaseException | None]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr, result.exception


def invoke_without_file_privileges(args: list[str]) -> tuple[int, str, str, None]:
    """`sipprobe ARGS` in a process that obeys file modes: as root (CI containers), it runs
    without the capabilities that let root read a mode-000 file (setpriv, util-linux)."""
    drop = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"] if IS_ROOT else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "probe", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, None


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bad_file_is_a_usage_error_naming_the_file(files: Files, case: Case) -> None:
    args, named, problem = case(files)
    code, stdout, stderr, exception = invoke(args)
    assert code == 2, (code, stdout, stderr)
    # Only a deliberate exit: no exception escaped the command.
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert "Traceback" not in stdout + stderr
    assert stdout == "", "nothing is reported when an input is refused"
    lines = stderr.strip().splitlines()
    assert lines, "a refusal says why"
    assert lines[0].startswith("sipprobe: "), lines[0]
    assert str(named) in lines[0] or str(named.name) in lines[0], lines[0]
    assert problem in stderr, stderr
    if args[0] == "check" and len(lines) > 1:  # a scenario's problems, each naming the file
        scenario = args[1]
        assert all(line.removeprefix("sipprobe: ").startswith(scenario) for line in lines)
    else:
        assert len(lines) == 1, lines


def test_a_scenario_with_every_file_wrong_lists_each_at_its_key(files: Files) -> None:
    text = VALID_SCENARIO + (
        "\n[tls]\n"
        f'trust = "{files.folder}/no-ca.pem"\n'
        f'client_cert = "{files.lab.client}"\n'
        'client_key = "no.key"\n'
        "\n[invite]\n"
        f'to = "{CALLEE}"\n'
        'credentials = "no.auth"\n'
    )
    path = files.write("trunk.toml", text)
    code, _, stderr, _ = invoke(["check", str(path)])
    assert code == 2
    lines = stderr.strip().removeprefix("sipprobe: ").splitlines()
    assert lines == [
        f"{path}:11 tls.trust: {files.folder}/no-ca.pem does not exist",
        f"{path}:13 tls.client_key: {files.folder}/no.key does not exist",
        f"{path}:17 invite.credentials: {files.folder}/no.auth does not exist",
    ]


def test_an_unreadable_scenario_says_permission_denied(files: Files) -> None:
    path = files.write("trunk.toml", VALID_SCENARIO)
    path.chmod(0)
    try:
        code, _, stderr, _ = invoke_without_file_privileges(["check", str(path)])
    finally:
        path.chmod(0o600)
    assert code == 2
    assert stderr.strip() == f"sipprobe: {path}: cannot read: Permission denied"


def test_an_unreadable_client_key_says_permission_denied(files: Files) -> None:
    key = files.write("client.key", files.lab.client_key.read_bytes())
    key.chmod(0)
    try:
        code, _, stderr, _ = invoke_without_file_privileges(
            [
                "options",
                TARGET,
                "--ca",
                str(files.lab.ca),
                "--cert",
                str(files.lab.client),
                "--key",
                str(key),
            ]
        )
    finally:
        key.chmod(0o600)
    assert code == 2
    assert str(key) in stderr
    # click's own check of the option (`Path ... is not readable`) or ours.
    assert "not readable" in stderr or "Permission denied" in stderr, stderr


def test_the_installed_command_refuses_a_bad_file_the_same_way(files: Files) -> None:
    """Through the real entry point (probe.cli.commands:main), not click's runner."""
    path = files.write("trunk.toml", '[trunk\nname = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "probe", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"sipprobe: {path}:1:7 TOML syntax error: Expected ']' at the end of a table declaration\n"
    )
