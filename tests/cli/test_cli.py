"""The command line, through click's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe import __version__
from probe.cli.commands import cli
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio

SIPPROBE = [sys.executable, "-m", "probe"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sipprobe {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["options", "http://example.test"], "target 'http://example.test'"),
        (["options", "sip:example.test;transport=sctp"], "transport=sctp"),
        (["options"], "at least one TARGET"),
        (["options", "sip:127.0.0.1", "--resolve", "nonsense"], "NAME:PORT:ADDRESS"),
        (["options", "sip:127.0.0.1", "--accept", "503"], "always unhealthy"),
        (["options", "sips:127.0.0.1", "--ca", "/nonexistent/ca.pem"], "--ca"),
        (["options", "sip:127.0.0.1", "--key", "/tmp/k.pem"], "--key needs --cert"),
    ],
)
def test_usage_errors_exit_2_with_a_sentence(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_targets_file_with_comments(tmp_path: Path, closed_port: int) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text(
        f"# trunk endpoints\nsip:127.0.0.1:{closed_port};transport=tcp  # primary\n\n"
    )
    result = CliRunner().invoke(cli, ["options", "--targets", str(targets), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [t["port"] for t in report["targets"]] == [closed_port]


@pytest.mark.peer
def test_json_report_shape_against_kamailio(kamailio: Kamailio, lab: LabFiles) -> None:
    port = kamailio.tls_port
    result = run(
        "options",
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "sipprobe.report/1"
    assert report["verdict"] == "pass"
    checks = [finding["check"] for finding in report["findings"]]
    assert checks == [
        "net.connect",
        "tls.handshake",
        "tls.version",
        "tls.chain",
        "tls.identity",
        "tls.validity",
        "tls.key",
        "tls.signature",
        "tls.eku",
        "tls.client_cert",
        "sip.options",
        "sip.response",
    ]
    for finding in report["findings"]:
        assert set(finding) == {"check", "status", "target", "summary", "details"}
        assert finding["status"] in ("pass", "warn", "fail", "skip", "error")
        assert finding["target"] == f"{LAB_NAME} (127.0.0.1:{port}/tls)"
        assert finding["summary"]


@pytest.mark.peer
def test_console_report_shows_the_tls_facts(kamailio: Kamailio, lab: LabFiles) -> None:
    port = kamailio.tls_port
    result = run(
        "options",
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("PASS")
    for fact in (
        "200 OK",
        "TLSv1.",
        "kamailio-sipprobe-test",
        f"CN={LAB_NAME}",
        "days left",
        "Allow: INVITE",
    ):
        assert fact in out, out
    assert "\x1b[" not in out  # no colour when not a terminal


def test_exit_code_1_when_the_target_fails(closed_port: int) -> None:
    result = run("options", f"sip:127.0.0.1:{closed_port};transport=tcp", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["verdict"] == "fail"
    assert report["findings"][0]["check"] == "net.connect"
    assert "refused" in report["findings"][0]["summary"]


def test_demo_prints_a_real_report() -> None:
    result = run("demo", "--format", "json", timeout=60)
    # us-west is broken on purpose: the verdict is FAIL, but the demo showed what it is
    # designed to show, so `make demo` succeeds.
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "fail"
    findings = report["findings"]
    trunk = {f["check"]: f["status"] for f in findings if f["target"] == "trunk"}
    assert set(trunk.values()) == {"pass"}, trunk
    failing = [(f["check"], f["target"]) for f in findings if f["status"] == "fail"]
    assert [check for check, _target in failing] == ["net.connect"]
    assert failing[0][1].startswith("us-west.demo.sipprobe.test")
    south = {f["check"]: f["status"] for f in findings if f["target"].startswith("us-south.")}
    assert (south["tls.chain"], south["sip.options"], south["sdp.srtp"]) == ("pass",) * 3


def test_internal_error_exits_3_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import probe.run.commands
    from probe.cli.commands import main

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(probe.run.commands, "options_run", explode)
    with pytest.raises(SystemExit) as exit_info:
        main(["options", "sip:127.0.0.1"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_certs_lab_writes_the_pki(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["certs", "lab", str(tmp_path / "lab"), "--name", "a.test"])
    assert result.exit_code == 0, result.output
    for name in ("ca.pem", "server.pem", "server.key", "client.pem", "other-ca.pem"):
        assert (tmp_path / "lab" / name).exists()
    assert "PRIVATE KEY" not in result.output
    assert (tmp_path / "lab" / "server.key").stat().st_mode & 0o077 == 0


def test_serve_answers_a_real_probe(lab: LabFiles) -> None:
    server = subprocess.Popen(
        [
            *SIPPROBE,
            "serve",
            "--port",
            "0",
            "--cert",
            str(lab.server),
            "--key",
            str(lab.server_key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on tls 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        result = run(
            "options",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--resolve",
            f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca",
            str(lab.ca),
            "--format",
            "json",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        options = next(f for f in report["findings"] if f["check"] == "sip.options")
        assert options["details"]["server"].startswith("sipprobe-responder/")
    finally:
        server.terminate()
        server.wait(10)
        for pipe in (server.stdout, server.stderr):
            if pipe is not None:
                pipe.close()


def test_ca_and_trust_together_is_a_usage_error(lab: LabFiles) -> None:
    result = CliRunner().invoke(
        cli, ["options", "sips:127.0.0.1", "--ca", str(lab.ca), "--trust", "mozilla"]
    )
    assert result.exit_code == 2
    assert "give one" in result.output


@pytest.mark.peer
def test_mozilla_trust_does_not_know_the_lab_root(kamailio: Kamailio) -> None:
    port = kamailio.tls_port
    result = run(
        "options",
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--trust",
        "mozilla",
        "--format",
        "json",
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    chain = next(f for f in report["findings"] if f["check"] == "tls.chain")
    assert chain["status"] == "fail"
    assert chain["details"]["trust"].startswith("Mozilla (certifi)")
    assert chain["details"]["chain"][0]["pem"].startswith("-----BEGIN CERTIFICATE-----")


def test_encrypted_client_key_is_a_usage_error_not_a_prompt(tmp_path: Path, lab: LabFiles) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(lab.client_key.read_bytes(), password=None)
    encrypted = tmp_path / "client-encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret-pass"),
        )
    )
    result = run(
        "options", "sips:127.0.0.1", "--cert", str(lab.client), "--key", str(encrypted), timeout=20
    )
    assert result.returncode == 2
    assert "encrypted" in result.stderr
    assert "secret-pass" not in result.stdout + result.stderr


def test_demo_expectations_catch_a_wrong_shape() -> None:
    from dataclasses import replace

    from probe.run.demo import demo_as_designed, run_demo

    report = run_demo()
    assert demo_as_designed(report) == []
    assert demo_as_designed(replace(report, trunk_findings=())) == [
        "calls should land on us-south",
        "us-south and us-east should give a real failover path",
    ]


def test_serve_with_an_unusable_certificate_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = run("serve", "--cert", str(junk), "--key", str(junk), timeout=20)
    assert result.returncode == 2
    assert "cannot serve" in result.stderr
    assert "internal error" not in result.stderr
