"""`sipprobe check SCENARIO --inbound`: both directions of a trunk in one check.

The Teams built-in is pointed at a lab as tests/cli/test_check_lab.py does (three embedded
responders stand in for sip, sip2 and sip3.pstnhub.microsoft.com), and its `[inbound]`
section is overridden to listen on a free loopback port; while the endpoints are probed,
a caller (`sipprobe invite`, presenting the lab's client certificate, as Microsoft's SIP
proxy presents its own) places the test call the check is waiting for. The combined report
judges both directions, the evidence is saved beside the failover run's, and `sipprobe
judge --scenario` gives the inbound findings again offline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from probe.tls.lab import LabFiles, write_lab
from tests.answer.command_kit import announced_port
from tests.cli.test_check_lab import TEAMS, pins, sbc, statuses
from tests.cli.test_check_lab import teams_proxies as teams_proxies  # the fixture

SIPPROBE = [sys.executable, "-m", "probe"]
DEADLINE = 60.0


@pytest.fixture(scope="module")
def teams_lab(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    return write_lab(tmp_path_factory.mktemp("teams-inbound-lab"), server_names=TEAMS)


def inbound_args(lab: LabFiles, *more: str) -> list[str]:
    return [
        "--inbound",
        "--listen",
        "tls:127.0.0.1:0",
        "--listen-cert",
        str(lab.server),
        "--listen-key",
        str(lab.server_key),
        "--peer-ca",
        str(lab.ca),
        "--expect-peer",
        "sipprobe-client",
        "--require-client-cert",
        "--hold",
        "1",
        *more,
    ]


def start_check(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SIPPROBE, "check", "builtin:teams-direct-routing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def call_it(lab: LabFiles, port: int) -> subprocess.CompletedProcess[str]:
    """The trunk's test call: TLS to the listener, the lab client certificate presented."""
    return subprocess.run(
        [
            *SIPPROBE,
            "invite",
            f"sip:{TEAMS[0]}:{port};transport=tls",
            "--to",
            "+15550100",
            "--resolve",
            f"{TEAMS[0]}:{port}:127.0.0.1",
            "--ca",
            str(lab.ca),
            "--cert",
            str(lab.client),
            "--key",
            str(lab.client_key),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    stdout, stderr = process.communicate(timeout=DEADLINE)
    return process.returncode, json.loads(stdout), stderr


def inbound_statuses(report: dict[str, Any]) -> dict[str, str]:
    return {
        f["check"]: f["status"]
        for f in report["findings"]
        if f["check"].startswith(("inbound.", "stir."))
    }


def test_both_directions_in_one_check(
    teams_lab: LabFiles, teams_proxies: list[str], tmp_path: Path
) -> None:
    evidence = tmp_path / "run.json"
    args = [
        *pins(teams_proxies),
        *sbc(teams_lab),
        "--ca",
        str(teams_lab.ca),
        *inbound_args(teams_lab, "--within", "40"),
        "--format",
        "json",
        "--evidence-out",
        str(evidence),
    ]
    process = start_check(args)
    port = announced_port(process)
    caller = call_it(teams_lab, port)
    assert caller.returncode == 0, caller.stdout + caller.stderr
    code, report, stderr = finished(process)
    assert code == 0, stderr
    # The outbound direction, as without --inbound: every proxy probed, the failover judged.
    assert statuses(report, "sip.options") == ["pass"] * 3
    assert statuses(report, "failover.order") == ["pass"]
    # The inbound direction: the call arrived, over TLS, from the expected peer, with SRTP.
    assert inbound_statuses(report) == {
        "inbound.calls": "pass",
        "inbound.tls": "pass",
        "inbound.client_cert": "pass",
        "inbound.invite": "pass",
        "inbound.offer": "pass",
        "inbound.teardown": "pass",
    }
    calls = [t for t in report["targets"] if t["target"].startswith("inbound call 1 from ")]
    assert len(calls) == 1
    assert calls[0]["verdict"] == "pass"
    saved = tmp_path / "run.inbound.json"
    assert saved.is_file()
    assert any(str(saved) in note for note in report["notes"])
    # Offline, under the same scenario and the options that chose the policy: the same
    # inbound findings (the client chain judged against the anchors the run recorded).
    judged = subprocess.run(
        [
            *SIPPROBE,
            "judge",
            str(evidence),
            "--scenario",
            "builtin:teams-direct-routing",
            "--ca",
            str(teams_lab.ca),
            "--expect-peer",
            "sipprobe-client",
            "--require-client-cert",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    again = json.loads(judged.stdout)
    assert inbound_statuses(again) == inbound_statuses(report), judged.stderr


def test_a_call_that_never_comes_fails_the_check_in_time(
    teams_lab: LabFiles, teams_proxies: list[str]
) -> None:
    args = [
        *pins(teams_proxies),
        *sbc(teams_lab),
        "--ca",
        str(teams_lab.ca),
        *inbound_args(teams_lab, "--within", "2"),
        "--format",
        "json",
    ]
    started = time.monotonic()
    process = start_check(args)
    announced_port(process)
    code, report, _ = finished(process)
    assert time.monotonic() - started < 20
    assert code == 1
    assert report["verdict"] == "fail"
    assert statuses(report, "inbound.calls") == ["fail"]
    assert statuses(report, "sip.options") == ["pass"] * 3  # the outbound half still judged


@pytest.mark.parametrize(
    ("stop", "after"),
    [(signal.SIGTERM, 0.2), (signal.SIGTERM, 2.0), (signal.SIGINT, 0.7), (signal.SIGINT, 2.0)],
)
def test_a_signal_while_waiting_ends_both_directions(
    teams_lab: LabFiles, teams_proxies: list[str], stop: signal.Signals, after: float
) -> None:
    # Whenever it comes (while the endpoints are probed, while they are judged, or while
    # the check waits for the call), a signal ends both directions with a report.
    args = [
        *pins(teams_proxies),
        *sbc(teams_lab),
        "--ca",
        str(teams_lab.ca),
        *inbound_args(teams_lab, "--within", "50"),
        "--format",
        "json",
    ]
    process = start_check(args)
    port = announced_port(process)
    time.sleep(after)
    started = time.monotonic()
    os.kill(process.pid, stop)
    code, report, stderr = finished(process)
    assert time.monotonic() - started < 15
    assert code == 128 + stop, stderr
    assert report["verdict"] == "incomplete"
    assert statuses(report, "inbound.calls") == ["incomplete"]
    # The listener is gone with the command.
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_inbound_needs_somewhere_to_listen(tmp_path: Path) -> None:
    scenario = tmp_path / "outbound-only.toml"
    scenario.write_text(
        '[trunk]\nname = "outbound-only"\n\n[[endpoint]]\n'
        'uri = "sip:sip.example.test;transport=tls"\n'
    )
    result = subprocess.run(
        [*SIPPROBE, "check", str(scenario), "--inbound"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "no [inbound] section" in result.stderr
    assert "Traceback" not in result.stderr
