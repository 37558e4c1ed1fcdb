"""`sipprobe pcap FILE` on the command line: every output format, the exit codes, and
its evidence judged again offline by `sipprobe judge`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.evidence.capture_file import load_capture
from probe.report.schema import ReportModel
from tests.pcap.frames import (
    SECRET_KEY,
    invite_with_keys,
    sip_request,
    sip_response,
    udp_frame,
    write_pcap,
)

A, B = "192.0.2.10", "192.0.2.20"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """An OPTIONS ping and an INVITE with SDES keys, both over UDP."""
    return write_pcap(
        tmp_path / "leaky.pcap",
        [
            udp_frame(A, 40000, B, 5060, sip_request()),
            udp_frame(B, 5060, A, 40000, sip_response()),
            udp_frame(A, 5060, B, 5060, invite_with_keys()),
        ],
    )


@pytest.fixture
def quiet(tmp_path: Path) -> Path:
    """Media only: no SIP."""
    frame = udp_frame(A, 4000, B, 4002, b"\x80\x00" + bytes(160))
    return write_pcap(tmp_path / "quiet.pcap", [frame] * 5)


def test_console_report_fails_and_names_what_it_saw(leaky: Path) -> None:
    code, output = invoke("pcap", str(leaky), "--no-color")
    assert code == 1
    assert output.startswith("FAIL  sipprobe pcap: 1 capture(s), 1 incomplete, 2 fail")
    assert "pcap.sip_cleartext" in output
    assert "pcap.sdes_exposed" in output
    assert "inline:<redacted>" in output
    assert SECRET_KEY not in output
    assert "pcap · 3 packets" in output


def test_a_capture_without_sip_passes(quiet: Path) -> None:
    code, output = invoke("pcap", str(quiet), "--no-color")
    assert code == 0
    assert output.startswith("PASS  sipprobe pcap: 1 capture(s), 3 pass")


def test_json_report_follows_the_schema(leaky: Path) -> None:
    code, output = invoke("pcap", str(leaky), "--format", "json")
    assert code == 1
    document = json.loads(output)
    ReportModel.model_validate(document)
    assert document["command"] == "pcap"
    assert document["targets"] == []
    [capture] = document["captures"]
    assert capture["capture"] == str(leaky)
    assert capture["verdict"] == "fail"
    assert capture["required"] == [
        "pcap.sip_cleartext",
        "pcap.sdes_exposed",
        "pcap.media",
    ]
    assert capture["facts"]["records"] == 3
    checks = {finding["check"]: finding for finding in document["findings"]}
    assert checks["pcap.sip_cleartext"]["details"]["requests"] == {"OPTIONS": 1, "INVITE": 1}
    assert SECRET_KEY not in output


def test_junit_has_a_suite_for_the_capture(leaky: Path) -> None:
    code, output = invoke("pcap", str(leaky), "--format", "junit")
    assert code == 1
    root = ElementTree.fromstring(output.split("\n", 1)[1])
    [suite] = root.findall("testsuite")
    assert suite.get("name") == str(leaky)
    assert suite.get("failures") == "2"


def test_nagios_line_and_codes(leaky: Path, quiet: Path) -> None:
    code, output = invoke("pcap", str(leaky), "--nagios")
    assert code == 2
    assert output.startswith(f"SIPPROBE CRITICAL - pcap.sip_cleartext {leaky}: ")
    code, output = invoke("pcap", str(quiet), "--nagios")
    assert (code, output.strip()) == (0, "SIPPROBE OK - 1 capture(s), 3 checks pass")


def test_a_truncated_capture_without_sip_is_incomplete(quiet: Path) -> None:
    quiet.write_bytes(quiet.read_bytes()[:-20])
    code, output = invoke("pcap", str(quiet), "--no-color")
    assert code == 4
    assert "it was cut short" in output
    code, output = invoke("pcap", str(quiet), "--nagios")
    assert code == 3
    assert output.startswith("SIPPROBE UNKNOWN - pcap.sip_cleartext")


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"plain text", "is not a pcap or pcapng capture")],
)
def test_a_file_that_cannot_be_audited_is_a_usage_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    code, output = invoke("pcap", str(path))
    assert code == 2
    assert message in output


def test_evidence_is_saved_and_judged_again_offline(leaky: Path, tmp_path: Path) -> None:
    saved = tmp_path / "audit.json"
    code, first = invoke("pcap", str(leaky), "--format", "json", "--evidence-out", str(saved))
    assert code == 1
    text = saved.read_text()
    assert SECRET_KEY not in text
    assert "A" * len(SECRET_KEY) in text  # the key's length is kept, as zeros
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    document = json.loads(text)
    assert (document["schema"], document["command"]) == ("sipprobe.capture/1", "pcap")
    assert load_capture(saved).sip.exposures_total == 1
    leaky.unlink()  # judging needs the evidence, not the capture
    code, again = invoke("judge", str(saved), "--format", "json")
    assert code == 1
    before, after = json.loads(first), json.loads(again)
    assert after["findings"] == before["findings"]
    assert after["captures"] == before["captures"]
    assert after["notes"][0].startswith(f"judged again from {saved}")


def test_capture_evidence_is_refused_where_a_run_is_expected(leaky: Path, tmp_path: Path) -> None:
    saved = tmp_path / "audit.json"
    invoke("pcap", str(leaky), "--evidence-out", str(saved))
    code, output = invoke("judge", str(saved), "--scenario", "builtin:teams-direct-routing")
    assert code == 2
    assert "is a capture audit, not a run" in output
    code, output = invoke("diff", str(saved), str(saved))
    assert code == 2
    assert "sipprobe.capture/1" in output


def test_damaged_capture_evidence_is_a_usage_error(tmp_path: Path) -> None:
    saved = tmp_path / "audit.json"
    saved.write_text(json.dumps({"schema": "sipprobe.capture/1", "sip": 3}))
    code, output = invoke("judge", str(saved))
    assert code == 2
    assert "is not valid capture evidence" in output


def test_max_flows_is_recorded_and_noted(tmp_path: Path) -> None:
    frames = [udp_frame(A, 10000 + n, B, 5060, sip_request(call_id=f"c{n}")) for n in range(5)]
    path = write_pcap(tmp_path / "five.pcap", frames)
    saved = tmp_path / "audit.json"
    code, output = invoke(
        "pcap", str(path), "--max-flows", "2", "--evidence-out", str(saved), "--format", "json"
    )
    assert code == 1
    document = json.loads(output)
    assert "3 flows were closed early to stay within 2 open flows" in document["notes"][0]
    assert load_capture(saved).limits.max_flows == 2
    assert document["findings"][0]["details"]["messages"] == 5


def test_a_signal_stops_the_audit_and_reports_what_was_read(tmp_path: Path) -> None:
    # A pipe as the capture (as `tcpdump -w - | sipprobe pcap -` gives one): what the
    # audit has read when the signal comes is known from what the pipe let through.
    pipe = tmp_path / "live.pcap"
    os.mkfifo(pipe)
    frame = udp_frame(A, 40000, B, 5060, sip_request())
    record = struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    process = subprocess.Popen(
        [sys.executable, "-m", "probe", "pcap", str(pipe), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pipe.open("wb") as writer:
            # More than a pipe holds: once written, the audit is reading in its loop.
            writer.write(header + record * 3000)
            writer.flush()
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(BrokenPipeError):
                # Enough for the loop to reach its next look at the signal.
                for _ in range(20):
                    writer.write(record * 200)
                    writer.flush()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert "interrupted by SIGINT: the report is partial" in stderr
    document = json.loads(stdout)
    assert document["interrupted_by"] == "SIGINT"
    assert document["captures"][0]["facts"]["read"] == "interrupted"
    checks = {finding["check"]: finding for finding in document["findings"]}
    assert checks["pcap.sip_cleartext"]["status"] == "fail"
    assert checks["pcap.sdes_exposed"]["status"] == "incomplete"
    assert "the audit was interrupted" in checks["pcap.sdes_exposed"]["summary"]
    assert 2000 <= checks["pcap.sip_cleartext"]["details"]["messages"] < 7000
