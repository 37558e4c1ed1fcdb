"""Ping mode (`options --count`) against the embedded responder, run as a user runs it:
thresholds refused before any packet, a line per reply, a server that dies or stalls
mid-run, a run cut by --max-time, and memory that stays bounded over a long run."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest

from probe.cli.commands import cli
from probe.evidence.ping import SAMPLE_FAILURES, SAMPLE_HEAD, SAMPLE_TAIL
from probe.tls.lab import LabFiles
from probe.verdict.checks.options import PingThresholds
from tests.conftest import LAB_NAME
from tests.lab_responders import serve_process

SIPPROBE = [sys.executable, "-m", "probe"]


def responder(
    transport: str, lab: LabFiles | None = None
) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[str], int]]:
    """`sipprobe serve` in its own process (so a test can kill or stop it): the process
    and its port."""
    if lab is None:
        return serve_process(transport)
    return serve_process(transport, cert=lab.server, key=lab.server_key)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def options_finding(report: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in report["findings"] if f["check"] == "sip.options")
    return found


def read_until(stream: Any, words: str, deadline: float) -> list[str]:
    """Lines of `stream` up to the one holding `words` (a readiness line, not a sleep)."""
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if words in line:
            return lines
    raise AssertionError(f"never saw {words!r}; saw {lines}")


# --- thresholds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--rtt-warn", "600", "--rtt-crit", "500"], "--rtt-warn 600 ms is above --rtt-crit 500"),
        (["--loss-warn", "30", "--loss-crit", "10"], "--loss-warn 30% is above --loss-crit 10%"),
        (["-w", "600,10%", "-c", "500,20%"], "--rtt-warn 600 ms is above --rtt-crit 500"),
        # check_icmp's own default warning is above ours for loss: say the 20% is a default.
        (["-w", "200,40%"], "--loss-crit was not given: that is its default"),
        (["-w", "600"], "-w '600': give RTT,LOSS% as check_icmp does"),
        (["-c", "fast,10%"], "-c 'fast,10%': give RTT,LOSS%"),
        (["-w", "200,0%", "--rtt-warn", "100"], "-w and --rtt-warn/--loss-warn set the same"),
        (["--loss-crit", "120"], "--loss-crit"),
        (["--rtt-warn", "0"], "--rtt-warn"),
        (["-w", "nan,10%"], "--rtt-warn nan: a round-trip time above 0 ms"),
        (["-c", "inf,20%"], "--rtt-crit inf: a round-trip time above 0 ms"),
        (["-w", "300,nan%"], "--loss-warn nan: a loss is a percentage"),
        (["--rtt-crit", "nan"], "--rtt-crit nan"),
    ],
)
def test_bad_thresholds_are_usage_errors_before_any_packet(args: list[str], words: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        result = run("options", f"sip:127.0.0.1:{port};transport=udp", "--count", "3", *args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert words in result.stderr
        assert "Traceback" not in result.stderr
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.recv(65536)  # nothing was sent


def test_help_states_the_defaults_the_checks_use() -> None:
    command = cli.commands["options"]
    helps = {
        param.name: param.help or "" for param in command.params if isinstance(param, click.Option)
    }
    defaults = PingThresholds()
    assert f"[default: {defaults.loss_warn_pct:g}" in helps["loss_warn"]
    assert f"[default: {defaults.loss_crit_pct:g}]" in helps["loss_crit"]
    assert f"[default: {defaults.rtt_warn_ms:g}]" in helps["rtt_warn"]
    assert f"[default: {defaults.rtt_crit_ms:g}," in helps["rtt_crit"]
    docs = (Path(__file__).parents[2] / "docs" / "ping.md").read_text()
    for option, value in (
        ("--loss-warn", defaults.loss_warn_pct),
        ("--loss-crit", defaults.loss_crit_pct),
        ("--rtt-warn", defaults.rtt_warn_ms),
        ("--rtt-crit", defaults.rtt_crit_ms),
    ):
        assert f"| `{option}` | {value:g} " in docs


def test_a_single_probe_is_judged_by_rtt_only_when_a_threshold_is_given() -> None:
    with responder("tcp") as (_server, port):
        target = f"sip:127.0.0.1:{port};transport=tcp"
        plain = run("options", target, "--format", "json")
        strict = run("options", target, "--format", "json", "--rtt-warn", "0.001")
    assert plain.returncode == 0, plain.stderr
    assert options_finding(json.loads(plain.stdout))["status"] == "pass"
    assert strict.returncode == 0, strict.stderr  # a warning exits 0
    finding = options_finding(json.loads(strict.stdout))
    assert finding["status"] == "warn"
    assert "RTT above --rtt-warn 0.001 ms" in finding["summary"]


# --- a line per reply -----------------------------------------------------------------


def test_live_prints_a_line_per_reply_on_stderr() -> None:
    with responder("udp") as (_, port):
        target = f"sip:127.0.0.1:{port};transport=udp"
        result = run(
            "options", target, "--count", "3", "--interval", "0", "--live", "--format", "json"
        )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"200 OK from 127.0.0.1:{port}/udp: seq={number} time="), line
        assert line.endswith(" ms")
    assert options_finding(json.loads(result.stdout))["details"]["answered"] == 3


def _stderr_on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run sipprobe with stderr on a pseudo-terminal and stdout on a pipe."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [*SIPPROBE, *args], stdout=subprocess.PIPE, stderr=secondary, text=True
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: every writer is gone
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=30)
    os.close(main)
    return process.returncode, stdout, seen.decode("utf-8", "replace")


def test_a_terminal_gets_a_line_per_reply_only_beside_the_console_report() -> None:
    with responder("udp") as (_, port):
        target = f"sip:127.0.0.1:{port};transport=udp"
        base = ["options", target, "--count", "2", "--interval", "0", "--no-color"]
        code, stdout, terminal = _stderr_on_a_terminal(base)
        assert code == 0, terminal
        assert f"200 OK from 127.0.0.1:{port}/udp: seq=1" in terminal
        assert "seq=2" in terminal
        assert stdout.startswith("PASS")
        # A report for a program on stdout: stderr stays quiet, terminal or not.
        code, stdout, terminal = _stderr_on_a_terminal([*base, "--format", "json"])
        assert code == 0, terminal
        assert "seq=" not in terminal
        assert json.loads(stdout)["verdict"] == "pass"
        # Not a terminal: no lines unless --live asks.
        quiet = run(*base)
        assert quiet.returncode == 0
        assert "seq=" not in quiet.stderr


# --- the stories of a run that does not go well -------------------------------------------


def test_a_server_killed_mid_run_fails_naming_the_dead_connection() -> None:
    with responder("tcp") as (server, port):
        client = subprocess.Popen(
            [
                *SIPPROBE,
                "options",
                f"sip:127.0.0.1:{port};transport=tcp",
                "--count",
                "200",
                "--interval",
                "0.05",
                "--live",
                "--format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert client.stderr is not None
        read_until(client.stderr, "seq=3 ", time.monotonic() + 30)
        server.kill()
        stdout, stderr = client.communicate(timeout=60)
    assert client.returncode == 1, stderr
    report = json.loads(stdout)
    assert report["verdict"] == "fail"
    finding = options_finding(report)
    details = finding["details"]
    assert finding["status"] == "fail"
    assert details["ended"] == "connection_lost"
    assert details["sent"] >= 4
    assert details["never_sent"] == 200 - details["sent"] > 0
    assert f"{details['never_sent']} never sent" in finding["summary"]
    assert f"connection at probe {details['ended_at']} of 200" in finding["summary"]
    assert "no answer from" in stderr  # the probe the connection died under, live


def test_six_of_twenty_answered_is_critical_by_default(tmp_path: Path) -> None:
    nagios_file = tmp_path / "nagios.txt"
    with responder("tcp") as (server, port):
        client = subprocess.Popen(
            [
                *SIPPROBE,
                "options",
                f"sip:127.0.0.1:{port};transport=tcp",
                "--count",
                "20",
                "--interval",
                "0.3",
                "--timeout",
                "0.25",
                "--live",
                "--format",
                "json",
                "--output",
                f"nagios={nagios_file}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert client.stderr is not None
        read_until(client.stderr, "seq=6 ", time.monotonic() + 30)
        # The server stalls (its connection stays open): the next 14 probes go unanswered.
        server.send_signal(signal.SIGSTOP)
        stdout, stderr = client.communicate(timeout=60)
    assert client.returncode == 1, stderr
    report = json.loads(stdout)
    finding = options_finding(report)
    assert (report["verdict"], finding["status"]) == ("fail", "fail")
    assert (finding["details"]["answered"], finding["details"]["lost"]) == (6, 14)
    assert finding["details"]["loss_pct"] == 70
    assert "loss above --loss-crit 20%" in finding["summary"]
    nagios = nagios_file.read_text()
    assert nagios.startswith("SIPPROBE CRITICAL - sip.options ")
    assert " pl_1=70%;0;20;0;100" in nagios
    assert re.search(r" rta_1=[0-9.]+ms;300;500;0; ", nagios), nagios


def test_max_time_keeps_the_answers_and_the_tls_findings(lab: LabFiles) -> None:
    with responder("tls", lab) as (_, port):
        result = run(
            "options",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--resolve",
            f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca",
            str(lab.ca),
            "--count",
            "100",
            "--interval",
            "0.1",
            "--max-time",
            "1.5",
            "--format",
            "json",
        )
    assert result.returncode == 4, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "incomplete"
    finding = options_finding(report)
    details = finding["details"]
    assert finding["status"] == "incomplete"
    assert details["ended"] == "max_time"
    assert details["answered"] >= 3
    assert details["never_sent"] == 100 - details["sent"] > 0
    assert "--max-time" in finding["summary"]
    passed = {f["check"] for f in report["findings"] if f["status"] == "pass"}
    assert {"net.connect", "tls.handshake", "tls.chain"} <= passed, passed


# --- memory of a long run ------------------------------------------------------------------


def test_a_long_run_keeps_a_bounded_sample_unless_evidence_out(tmp_path: Path) -> None:
    bound = SAMPLE_HEAD + SAMPLE_TAIL + SAMPLE_FAILURES
    evidence_file = tmp_path / "evidence.json"
    with responder("udp") as (_, port):
        target = f"sip:127.0.0.1:{port};transport=udp"
        base = ["options", target, "--count", "2000", "--interval", "0", "--format", "json"]
        sampled = run(*base)
        kept_all = run(*base, "--evidence-out", str(evidence_file))
    assert sampled.returncode == 0, sampled.stderr
    details = options_finding(json.loads(sampled.stdout))["details"]
    assert (details["sent"], details["answered"]) == (2000, 2000)
    assert details["exchanges_kept"] <= bound
    assert kept_all.returncode == 0, kept_all.stderr
    details = options_finding(json.loads(kept_all.stdout))["details"]
    assert (details["sent"], details["exchanges_kept"]) == (2000, 2000)
    saved = json.loads(evidence_file.read_text())
    probes = [t["evidence"] for u in saved["uris"] for t in u["targets"]]
    assert [len(p["exchanges"]) for p in probes] == [2000]
