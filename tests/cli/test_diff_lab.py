"""`options` twice against a real local TLS server, up and then down, each run saved with
--evidence-out: `diff` names what changed and `judge` re-judges the lab run's evidence
with the lab CA it recorded (no --ca needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.lab_responders import serving

SIPPROBE = [sys.executable, "-m", "probe"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_diff_names_a_server_that_went_down_and_judge_keeps_the_lab_ca(
    lab: LabFiles, tmp_path: Path
) -> None:
    up, down = tmp_path / "up.json", tmp_path / "down.json"
    config = ResponderConfig(cert_file=lab.server, key_file=lab.server_key)
    with serving([config]) as (port,):
        probe = [
            "options",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--resolve", f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca", str(lab.ca),
            "--timeout", "2",
        ]  # fmt: skip
        first = run(*probe, "--evidence-out", str(up))
        assert first.returncode == 0, first.stdout + first.stderr
    second = run(*probe, "--evidence-out", str(down))  # nothing listens there now
    assert second.returncode == 1, second.stdout + second.stderr

    label = f"{LAB_NAME} (127.0.0.1:{port}/tls)"
    result = run("diff", str(up), str(down))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"{label}: verdict PASS → FAIL" in lines
    assert any(line.startswith(f"{label}: went down: net.connect: ") for line in lines), lines
    assert f"trunk: calls land first on {label} → nowhere (no healthy target)" in lines
    assert not any("trust anchors" in line for line in lines)  # both runs used the lab CA
    document = json.loads(run("diff", str(up), str(down), "--format", "json").stdout)
    whats = [(c["target"], c["what"], c["before"], c["after"]) for c in document["changes"]]
    assert (label, "verdict", "pass", "fail") in whats
    assert (label, "health", True, False) in whats
    assert ("trunk", "calls.land", label, None) in whats

    # The lab run's evidence judged again without --ca: the lab CA it recorded is used.
    judged = run("judge", str(up), "--format", "json")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    report = json.loads(judged.stdout)
    assert report["verdict"] == "pass"
    assert [f["status"] for f in report["findings"] if f["check"] == "tls.chain"] == ["pass"]
    # Told otherwise, it is held to the system store, which has no lab CA.
    system = run("judge", str(up), "--trust", "system", "--format", "json")
    assert system.returncode == 1
    assert json.loads(system.stdout)["verdict"] == "fail"
