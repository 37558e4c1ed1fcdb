"""End-to-end exit codes for the two verdicts no other CLI test reaches: a run whose only
blemishes are warnings (exit 0; Nagios WARNING 1) and one with an ERROR finding (exit 1).

Each test runs the real command in a child process against a loopback TLS server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from probe.sip import Request
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.net.scripted import response_bytes, scripted_server, tls_server_context

SIPPROBE = (sys.executable, "-m", "probe")


async def answer_ok(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(response_bytes(request, 200, "OK"))


async def busy(request: Request, writer: asyncio.StreamWriter) -> None:
    if request.method == "INVITE":
        writer.write(response_bytes(request, 486, "Busy Here"))


async def run(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *SIPPROBE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert b"Traceback" not in err, err.decode()
    assert process.returncode is not None
    return process.returncode, out.decode()


def target(port: int) -> list[str]:
    return [
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
    ]


async def test_a_run_with_only_warnings_exits_0_and_nagios_warning(lab: LabFiles) -> None:
    # The lab leaf has a year to run: --warn-days 400 makes tls.validity warn, nothing else.
    async with scripted_server(answer_ok, tls_server_context(lab.server, lab.server_key)) as port:
        args = ["options", *target(port), "--ca", str(lab.ca), "--warn-days", "400"]
        code, out = await run(*args, "--format", "json")
        nagios_code, nagios_out = await run(*args, "--nagios")
    report = json.loads(out)
    statuses = {f["check"]: f["status"] for f in report["findings"]}
    assert statuses["tls.validity"] == "warn"
    assert set(statuses.values()) == {"pass", "warn"}, statuses
    assert report["verdict"] == "warn"
    assert code == 0
    assert nagios_code == 1
    assert nagios_out.startswith("SIPPROBE WARNING")


async def test_a_run_with_an_error_finding_exits_1(lab: LabFiles, tmp_path: Path) -> None:
    # An ERROR is sipprobe unable to judge what it holds: here evidence whose offer kind
    # is none it knows, judged offline. It is a failure, never a pass or a warning.
    saved = tmp_path / "evidence.json"
    async with scripted_server(busy, tls_server_context(lab.server, lab.server_key)) as port:
        code, _ = await run(
            "invite", *target(port), "--ca", str(lab.ca), "--to", "+15550100",
            "--evidence-out", str(saved), "--format", "json",
        )  # fmt: skip
    assert code == 1  # 486 Busy Here: the call failed
    evidence = saved.read_text()
    assert '"offer_kind": "sdes"' in evidence
    saved.write_text(evidence.replace('"offer_kind": "sdes"', '"offer_kind": "zrtp"'))
    code, out = await run("judge", str(saved), "--ca", str(lab.ca), "--format", "json")
    report = json.loads(out)
    (sdp,) = [f for f in report["findings"] if f["check"] == "sdp.srtp"]
    assert sdp["status"] == "error"
    assert "unknown offer kind 'zrtp'" in sdp["summary"]
    assert report["verdict"] == "fail"
    assert code == 1
