"""`sipprobe answer` as a user runs it, a child process, called by real callers:
`sipprobe invite` (another child), SIPp behind Kamailio. Each test reads only what the
command printed, wrote and exited with: the report in every format, the evidence file
judged again, the exit code, and that no SRTP key leaked into any of it."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from probe.tls.lab import LabFiles
from tests.answer.command_kit import (
    Ran,
    answering,
    assert_no_key,
    invite_args,
    listen_tls,
    run_sipprobe,
)
from tests.exporter.expositions import promtool_finds_no_problem
from tests.peers.common import free_port
from tests.peers.sbc import calling_over_tls
from tests.peers.sipp import start_sipp_uac

pytestmark = pytest.mark.peer

CALL_CHECKS = ("inbound.tls", "inbound.invite", "inbound.offer", "inbound.teardown")


def per_call(ran: Ran) -> list[tuple[str, str, str]]:
    """(check, status, target) of each finding about a call, in report order."""
    return [
        (item["check"], item["status"], item["target"])
        for item in ran.json()["findings"]
        if item["target"] != "trunk"
    ]


def comparable(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (item["check"], item["status"], item["target"], item["summary"])
        for item in document["findings"]
    ]


# --- sipprobe invite → sipprobe answer ---------------------------------------------------


async def test_a_call_from_sipprobe_invite_passes_on_both_sides_in_every_format(
    tmp_path: Path, lab: LabFiles
) -> None:
    junit, metrics, evidence = tmp_path / "a.xml", tmp_path / "a.prom", tmp_path / "a.json"
    async with answering(
        *listen_tls(lab),
        "--format",
        "json",
        "--output",
        f"junit={junit}",
        "--output",
        f"prometheus={metrics}",
        "--evidence-out",
        str(evidence),
    ) as command:
        caller = await run_sipprobe(*invite_args(lab, command.port, "--format", "json"))
        answered = await command.result()
    assert caller.code == 0, caller.out + caller.err
    assert caller.json()["verdict"] == "pass"
    assert answered.code == 0, answered.out + answered.err
    report = answered.json()
    assert report["command"] == "answer"
    assert report["verdict"] == "pass"
    calls = answered.finding("inbound.calls")
    assert calls["status"] == "pass"
    assert calls["target"] == "trunk"
    assert calls["summary"].startswith("1 of 1 expected call arrived in ")
    assert calls["details"]["listening"] == [f"127.0.0.1:{command.port}/tls"]
    [label] = {target for _, _, target in per_call(answered)}
    assert re.fullmatch(r"inbound call 1 from 127\.0\.0\.1:\d+/tls", label)
    assert [check for check, status, _ in per_call(answered) if status == "pass"] == list(
        CALL_CHECKS
    )
    assert answered.finding("inbound.client_cert")["status"] == "skip"  # none asked for
    [target] = report["targets"]
    assert (target["verdict"], target["missing"]) == ("pass", [])
    assert target["sni"] == "sip.example.test"
    assert answered.finding("inbound.invite")["details"]["from"] == (
        "sip:+15551230001@caller.example.test"
    )
    offer = answered.finding("inbound.offer")
    assert offer["details"]["offer_kind"] == "sdes"
    assert offer["details"]["answered"]["proto"] == "RTP/SAVP"
    teardown = answered.finding("inbound.teardown")["details"]
    assert (teardown["teardown"], teardown["dialogs_left_open"]) == ("caller_bye", 0)

    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0"
    assert suites.get("tests") == str(len(report["findings"]))
    cases = {(case.get("classname"), case.get("name")) for case in suites.iter("testcase")}
    assert ("inbound.calls", "trunk") in cases
    assert {(check, label) for check in CALL_CHECKS} <= cases

    exposition = metrics.read_text()
    promtool_finds_no_problem(exposition)
    assert re.search(r"^probe_success\{[^}]*\} 1\.0$", exposition, re.M)
    assert re.search(
        r'^sipprobe_check_status\{[^}]*check="inbound\.offer",status="pass"[^}]*\} 1\.0$',
        exposition,
        re.M,
    )

    assert evidence.stat().st_mode & 0o777 == 0o600
    judged = await run_sipprobe("judge", str(evidence), "--format", "json")
    assert judged.code == 0, judged.out + judged.err
    assert comparable(judged.json()) == comparable(report)

    assert_no_key(
        [],
        [
            caller.out,
            caller.err,
            answered.out,
            answered.err,
            junit.read_bytes(),
            exposition,
            evidence.read_bytes(),
            judged.out,
        ],
    )


async def test_nagios_says_ok_for_a_call_that_passed(tmp_path: Path, lab: LabFiles) -> None:
    async with answering(*listen_tls(lab), "--nagios") as command:
        caller = await run_sipprobe(*invite_args(lab, command.port))
        answered = await command.result()
    assert caller.code == 0, caller.out + caller.err
    assert answered.code == 0, answered.out + answered.err
    [line] = answered.out.splitlines()
    assert line.startswith("SIPPROBE OK - "), line


async def test_no_key_of_either_side_is_printed_or_saved(tmp_path: Path, lab: LabFiles) -> None:
    """SIPp's offer key is fixed in its scenario, and SIPp's message log shows the key of
    our answer: neither may appear in the report (any format, evidence behind each finding
    included), the evidence file, or its judgement."""
    outputs = {name: tmp_path / name for name in ("r.json", "r.xml", "r.prom", "r.nagios")}
    evidence = tmp_path / "evidence.json"
    port = free_port()
    with calling_over_tls(tmp_path, lab, port) as kamailio:
        async with answering(
            *listen_tls(lab, listen=f"tls:127.0.0.1:{port}"),
            "--verbose",
            "--no-color",
            "--output",
            f"json={outputs['r.json']}",
            "--output",
            f"junit={outputs['r.xml']}",
            "--output",
            f"prometheus={outputs['r.prom']}",
            "--output",
            f"nagios={outputs['r.nagios']}",
            "--evidence-out",
            str(evidence),
        ) as command:
            sipp = start_sipp_uac(
                tmp_path / "sipp", "uac_srtp.xml", ("127.0.0.1", kamailio.plain_port)
            )
            answered = await command.result()
        assert await asyncio.to_thread(sipp.wait, 20) == 0, sipp.errors()
    trace = "".join(path.read_text() for path in (tmp_path / "sipp").glob("*_messages.log"))
    keys = [match.encode() for match in re.findall(r"inline:([A-Za-z0-9+/=]{40})", trace)]
    assert b"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz" in keys  # SIPp's offer
    assert len(set(keys)) == 2, keys  # and our answer's fresh key
    assert answered.code == 0, answered.out + answered.err
    judged = await run_sipprobe("judge", str(evidence), "--verbose", "--no-color")
    assert judged.code == 0, judged.out + judged.err
    assert "inbound.offer" in answered.out
    assert "inbound.offer" in judged.out
    assert_no_key(
        keys,
        [
            answered.out,
            answered.err,
            judged.out,
            judged.err,
            evidence.read_bytes(),
            *(path.read_bytes() for path in outputs.values()),
        ],
    )
