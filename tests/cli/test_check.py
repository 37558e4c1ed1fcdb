"""`sipprobe check SCENARIO` end to end: two embedded responders as the trunk's regions, a
scenario file naming them, and the combined report with scenario and provider findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.scenario.requests import call_evidence_path
from probe.tls.lab import LabFiles
from tests.cli.test_scenario_rules import refuse_sockets
from tests.conftest import LAB_NAME

SIPPROBE = [sys.executable, "-m", "probe"]


@pytest.fixture
def regions(lab: LabFiles) -> Iterator[dict[str, int]]:
    """`sipprobe serve` on 127.0.0.1 and 127.0.0.2, each on a free port."""
    processes: list[subprocess.Popen[str]] = []
    ports: dict[str, int] = {}
    try:
        for name, address in (("a", "127.0.0.1"), ("b", "127.0.0.2")):
            process = subprocess.Popen(
                [
                    *SIPPROBE,
                    "serve",
                    "--listen",
                    address,
                    "--port",
                    "0",
                    "--cert",
                    str(lab.server),
                    "--key",
                    str(lab.server_key),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("listening on tls"), line
            ports[name] = int(line.rsplit(":", 1)[1])
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


SCENARIO = """
[trunk]
name = "acme-lab"
provider = "twilio"

[order]
mode = "priority"

[[endpoint]]
uri = "sip:{name}:{a};transport=tls"
region = "lab-a"
priority = 10
weight = 1

[[endpoint]]
uri = "sip:sip2.example.test:{b};transport=tls"
region = "lab-b"
priority = 20
weight = 1

[tls]
trust = "{ca}"

[options]
max_rtt_ms = 5000

[invite]
to = "sip:+15550100@{name}"
via = "lab-a"

[failover]
primary = "lab-a"

[run]
timeout = 3.0
resolve = ["{name}:{a}:127.0.0.1", "sip2.example.test:{b}:127.0.0.2"]
"""


def test_check_runs_failover_call_and_provider_rules(
    tmp_path: Path, lab: LabFiles, regions: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "acme.toml"
    scenario.write_text(SCENARIO.format(name=LAB_NAME, ca=lab.ca, **regions))
    evidence = tmp_path / "acme.json"
    result = subprocess.run(
        [*SIPPROBE, "check", str(scenario), "--format", "json", "--evidence-out", str(evidence)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["command"] == "check"
    checks: dict[str, list[str]] = {}
    for finding in report["findings"]:
        checks.setdefault(finding["check"], []).append(finding["status"])
    assert checks["failover.order"] == ["pass"]
    assert checks["failover.primary"] == ["pass"]
    assert checks["sdp.srtp"] == ["pass"]
    assert checks["sip.teardown"] == ["pass"]
    assert any(check.startswith("scenario.") for check in checks)
    twilio = {c: s for c, s in checks.items() if c.startswith("policy.twilio.")}
    assert twilio, checks
    # The lab's ports are not 5061, which Twilio's TLS endpoints use: a policy finding says so.
    assert "fail" in {s for statuses in twilio.values() for s in statuses}
    assert result.returncode == 1

    # The saved run (the failover check, and the test call beside it) judged again under
    # the same scenario, offline: the same findings, scenario and provider ones included,
    # and the same exit code. With no socket to be had: judging sends nothing.
    assert call_evidence_path(evidence).is_file()
    refuse_sockets(monkeypatch)
    again = CliRunner().invoke(
        cli, ["judge", str(evidence), "--scenario", str(scenario), "--format", "json"]
    )
    judged = json.loads(again.stdout)
    assert judged["findings"] == report["findings"]
    assert [f["check"] for f in judged["findings"] if f["check"].startswith("scenario.")] == [
        "scenario.max_rtt",
        "scenario.max_rtt",
        "scenario.primary",
    ]
    assert again.exit_code == result.returncode


def test_a_bad_scenario_lists_every_problem(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(
        '[trunk]\nname = "x"\n\n[[endpoint]]\nuri = "sip:a.example.test;transport=tls"\n'
        'priorty = 10\n\n[options]\naccept = "2xx"\ncount = 0\n'
    )
    result = subprocess.run(
        [*SIPPROBE, "check", str(scenario)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "bad.toml:6 endpoint[0].priorty" in result.stderr
    assert "bad.toml:10 options.count" in result.stderr
    assert "Traceback" not in result.stderr


def test_scenarios_lists_the_builtins() -> None:
    result = subprocess.run(
        [*SIPPROBE, "scenarios"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    for name in ("ibm-voice-agent", "twilio-secure-trunk", "teams-direct-routing", "amazon-chime"):
        assert f"builtin:{name}" in result.stdout


def test_ctrl_c_during_the_failover_check_places_no_call(
    tmp_path: Path, lab: LabFiles, regions: dict[str, int]
) -> None:
    import signal
    import socket

    from tests.signal_child import finish_sync, popen_sipprobe, wait_until_sync

    with socket.socket() as listener:  # accepts the connection and never speaks
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        silent = int(listener.getsockname()[1])
        scenario = tmp_path / "acme.toml"
        text = SCENARIO.format(name=LAB_NAME, ca=lab.ca, a=regions["a"], b=silent)
        # Region b never answers the ClientHello: the failover check waits on it.
        text = text.replace(f":{silent}:127.0.0.2", f":{silent}:127.0.0.1")
        scenario.write_text(text.replace("timeout = 3.0", "timeout = 30.0"))
        process = popen_sipprobe("check", str(scenario), "--format", "json")
        accepted: list[socket.socket] = []

        def region_b_reached() -> bool:
            try:
                accepted.append(listener.accept()[0])
            except BlockingIOError:
                return False
            return True

        try:
            wait_until_sync(region_b_reached, "the failover check connects to region b")
            process.send_signal(signal.SIGINT)
            returncode, out, err = finish_sync(process)
        finally:
            for connection in accepted:
                connection.close()
    assert returncode == 130, err
    assert "interrupted by SIGINT: the report is partial" in err
    report = json.loads(out)
    assert report["interrupted_by"] == "SIGINT"
    unplaced = [f for f in report["findings"] if f["check"] == "sip.invite"]
    assert [(f["status"], f["summary"]) for f in unplaced] == [
        ("incomplete", "test call not placed: the run was interrupted by SIGINT")
    ]
    assert report["verdict"] != "pass"
    checks = {finding["check"] for finding in report["findings"]}
    assert "sdp.srtp" not in checks  # no call, so no SDP verdict


def test_each_note_appears_once_in_console_and_json(
    tmp_path: Path, lab: LabFiles, regions: dict[str, int]
) -> None:
    # The failover check and the test call are two runs with the same settings: each run's
    # report says --insecure, and the scenario's notes come with the failover run.
    scenario = tmp_path / "acme.toml"
    scenario.write_text(SCENARIO.format(name=LAB_NAME, ca=lab.ca, **regions))
    json_out = tmp_path / "report.json"
    result = subprocess.run(
        [
            *SIPPROBE, "check", str(scenario), "--insecure", "--no-color",
            "--format", "console,json", "--output", f"json={json_out}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    notes = json.loads(json_out.read_text())["notes"]
    assert "--insecure: certificate failures are reported as warnings" in notes
    assert any(note.startswith("scenario acme-lab") for note in notes)
    assert len(notes) == len(set(notes)), notes
    console = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert sorted(line.removeprefix("note: ") for line in console) == sorted(notes)
