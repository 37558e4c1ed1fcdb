"""`sipprobe answer` as a user runs it, a child process, called by real callers:
`sipprobe invite` (another child), SIPp behind Kamailio. Each test reads only what the
command printed, wrote and exited with: the report in every format, the evidence file
judged again, the exit code, and that no SRTP key leaked into any of it."""

from __future__ import annotations

import asyncio
import re
import socket
import time
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
    assert calls["summary"].startswith("1 of 1 expected call arrived after ")
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


# --- what fails ---------------------------------------------------------------------------


async def test_a_plain_rtp_offer_over_tls_fails_the_offer(lab: LabFiles) -> None:
    async with answering(*listen_tls(lab), "--format", "json") as command:
        await run_sipprobe(*invite_args(lab, command.port, "--offer", "rtp"))
        answered = await command.result()
    assert answered.code == 1, answered.out + answered.err
    assert answered.json()["verdict"] == "fail"
    offer = answered.finding("inbound.offer")
    assert offer["status"] == "fail"
    assert "plain RTP/AVP" in offer["summary"]
    assert answered.finding("inbound.tls")["status"] == "pass"
    assert answered.finding("inbound.calls")["status"] == "pass"


async def test_sdes_keys_offered_over_tcp_fail_the_offer_as_keys_in_the_clear(
    lab: LabFiles,
) -> None:
    async with answering(
        "--listen", "tcp:127.0.0.1:0", "--no-require-tls", "--within", "20", "--format", "json"
    ) as command:
        caller = await run_sipprobe(
            *invite_args(lab, command.port, "--allow-cleartext-keys", transport="tcp")
        )
        answered = await command.result()
    assert caller.code in (0, 1), caller.out + caller.err
    assert answered.code == 1, answered.out + answered.err
    offer = answered.finding("inbound.offer")
    assert offer["status"] == "fail"
    assert "in cleartext over TCP" in offer["summary"]
    assert "RFC 4568 §8.3" in offer["summary"]
    assert answered.finding("inbound.tls")["status"] == "skip"  # --no-require-tls
    assert_no_key([], [answered.out, answered.err, caller.out, caller.err])


async def test_no_call_within_the_time_given_fails_and_ends_on_time(lab: LabFiles) -> None:
    async with answering(*listen_tls(lab, within=2), "--format", "json") as command:
        ready = time.monotonic()
        answered = await command.result(timeout=15)
        took = time.monotonic() - ready
    assert answered.code == 1, answered.out + answered.err
    assert 1.9 <= took < 2 + 3, took
    calls = answered.finding("inbound.calls")
    assert calls["status"] == "fail"
    assert calls["summary"].startswith("no call arrived within 2 s and nothing connected to ")
    assert f"127.0.0.1:{command.port}/tls" in calls["summary"]
    assert answered.json()["targets"] == []


async def test_nagios_says_critical_when_no_call_came(lab: LabFiles) -> None:
    async with answering(*listen_tls(lab, within=1), "--nagios") as command:
        answered = await command.result(timeout=15)
    assert answered.code == 2, answered.out + answered.err  # Nagios CRITICAL
    [line] = answered.out.splitlines()
    assert line.startswith("SIPPROBE CRITICAL - "), line


async def test_two_expected_calls_from_two_callers_are_both_judged(lab: LabFiles) -> None:
    async with answering(*listen_tls(lab), "--expect", "2", "--format", "json") as command:
        assert "waiting for 2 calls within 20 s" in command.ready_line
        callers = await asyncio.gather(
            run_sipprobe(*invite_args(lab, command.port)),
            run_sipprobe(*invite_args(lab, command.port)),
        )
        answered = await command.result()
    assert [caller.code for caller in callers] == [0, 0], callers
    assert answered.code == 0, answered.out + answered.err
    calls = answered.finding("inbound.calls")
    assert calls["summary"].startswith("2 of 2 expected calls arrived, the last after ")
    targets = answered.json()["targets"]
    assert [target["verdict"] for target in targets] == ["pass", "pass"]
    assert [target["target"].split(" from ")[0] for target in targets] == [
        "inbound call 1",
        "inbound call 2",
    ]
    assert len(answered.findings("inbound.teardown")) == 2


# --- refused before anything is bound ------------------------------------------------------


def certificate(lab: LabFiles) -> list[str]:
    return ["--listen-cert", str(lab.server), "--listen-key", str(lab.server_key)]


USAGE_ERRORS = {
    "no certificate for tls": (
        lambda lab, port: ["--listen", f"tls:127.0.0.1:{port}"],
        "--listen-cert: a TLS listener (tls:127.0.0.1:{port}) needs our certificate chain",
    ),
    "certificate file missing": (
        lambda lab, port: [
            "--listen",
            f"tls:127.0.0.1:{port}",
            "--listen-cert",
            str(lab.directory / "absent.pem"),
        ],
        "--listen-cert {directory}/absent.pem: no such file",
    ),
    "listen not transport:address": (
        lambda lab, port: ["--listen", f"sctp:127.0.0.1:{port}", *certificate(lab)],
        "--listen sctp:127.0.0.1:{port}: not TRANSPORT:ADDRESS[:PORT]",
    ),
    "listen on a name": (
        lambda lab, port: ["--listen", f"tls:sbc.example.test:{port}", *certificate(lab)],
        "'sbc.example.test' is not an IP address (names are not resolved to listen",
    ),
    "expect 0": (
        lambda lab, port: ["--listen", f"tls:127.0.0.1:{port}", *certificate(lab), "--expect", "0"],
        "--expect 0: at least 1 call",
    ),
    "within 0": (
        lambda lab, port: ["--listen", f"tls:127.0.0.1:{port}", *certificate(lab), "--within", "0"],
        "--within 0.0: a number of seconds above 0",
    ),
    "identity without trust list": (
        lambda lab, port: [
            "--listen",
            f"tls:127.0.0.1:{port}",
            *certificate(lab),
            "--verify-identity",
        ],
        "--sti-trust: verifying Identity needs the STI-CA trust list",
    ),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
async def test_a_usage_error_exits_2_with_one_line_before_listening(
    lab: LabFiles, case: str
) -> None:
    arguments, message = USAGE_ERRORS[case]
    port = free_port()
    refused = await run_sipprobe("answer", *arguments(lab, port), timeout=20)
    assert refused.code == 2, refused.out + refused.err
    assert refused.out == ""
    [line] = refused.err.splitlines()
    assert line.startswith("sipprobe: "), line
    assert message.format(port=port, directory=lab.directory) in line
    assert "listening" not in refused.err  # refused before any socket was bound


async def test_a_port_already_in_use_is_a_usage_error_naming_it(lab: LabFiles) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = free_port()
        refused = await run_sipprobe(
            "answer",
            "--listen",
            f"tcp:127.0.0.1:{other}",
            "--listen",
            f"tls:127.0.0.1:{busy}",
            "--no-require-tls",
            *certificate(lab),
            timeout=20,
        )
    assert refused.code == 2, refused.out + refused.err
    assert refused.out == ""
    [line] = refused.err.splitlines()
    assert line.startswith(f"sipprobe: --listen tls:127.0.0.1:{busy}: address already in use")
    assert "listening" not in refused.err
