"""`sipprobe answer` as a command, called by baresip, a real phone, over TLS: its SRTP
(SDES or DTLS-SRTP) received and authenticated, its client certificate judged (mutual
TLS), and the command stopped by a signal while the phone's call is up: the phone gets
our BYE, the report is partial, a second signal exits at once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.tls.lab import LabFiles
from tests.answer.command_kit import (
    AnswerCommand,
    Ran,
    answering,
    invite_args,
    listen_tls,
    run_sipprobe,
)
from tests.answer.test_tls_callers import der_chain
from tests.peers.baresip import Baresip, Control, log_tail, start_baresip

pytestmark = pytest.mark.peer

PHONE_SECONDS = 15.0
"""How long the phone may take to report a call's event."""


def phone(
    workdir: Path,
    lab: LabFiles,
    mediaenc: str = "srtp-mand",
    *,
    chain: Path | None = None,
    key: Path | None = None,
) -> Baresip:
    return start_baresip(
        workdir,
        chain or lab.server,
        key or lab.server_key,
        lab.ca,
        mediaenc=mediaenc,
        control=True,
        net_interface="127.0.0.1",  # its SDP names loopback, where our media may go
    )


@pytest.fixture
def caller(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    started = phone(tmp_path / "baresip", lab)
    yield started
    started.stop()


def dial(caller: Baresip, command: AnswerCommand) -> Control:
    return caller.dial(f"sip:+15550100@127.0.0.1:{command.port};transport=tls")


async def phone_event(control: Control, event: str) -> dict[str, object]:
    return await asyncio.to_thread(control.wait_for, event, time.monotonic() + PHONE_SECONDS)


# --- media ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("mediaenc", "keying"), [("srtp-mand", "sdes"), ("dtls_srtp", "dtls")])
async def test_a_phones_srtp_is_received_and_authenticated(
    tmp_path: Path, lab: LabFiles, mediaenc: str, keying: str
) -> None:
    caller = phone(tmp_path / "baresip", lab, mediaenc)
    try:
        async with answering(
            *listen_tls(lab, hold=2), "--verify-media", "--format", "json"
        ) as command:
            control = dial(caller, command)
            answered = await command.result()
        closed = await phone_event(control, "CALL_CLOSED")
        control.close()
    finally:
        caller.stop()
    assert answered.code == 0, answered.out + answered.err + log_tail(caller)
    assert answered.json()["verdict"] == "pass"
    media = answered.finding("inbound.media")
    assert media["status"] == "pass", media
    details = media["details"]
    assert details["keying"] == keying
    assert details["received"] >= 1
    assert details["authenticated"] == details["received"]
    assert details["first_error"] is None
    assert details["sent"] >= 1
    if keying == "dtls":
        assert details["dtls"]["fingerprint_match"] is True
    offer = answered.finding("inbound.offer")
    assert (offer["status"], offer["details"]["offer_kind"]) == ("pass", keying)
    teardown = answered.finding("inbound.teardown")["details"]
    assert (teardown["teardown"], teardown["bye_status"]) == ("our_bye", 200)
    assert teardown["dialogs_left_open"] == 0
    assert closed["type"] == "CALL_CLOSED"  # the phone saw our BYE


# --- mutual TLS -----------------------------------------------------------------------------


async def test_a_phone_presenting_the_expected_client_certificate_passes(
    tmp_path: Path, lab: LabFiles
) -> None:
    caller = phone(tmp_path / "baresip", lab, chain=lab.client, key=lab.client_key)
    try:
        async with answering(
            *listen_tls(lab),
            "--expect-peer",
            "sipprobe-client",
            "--peer-ca",
            str(lab.ca),
            "--require-client-cert",
            "--format",
            "json",
        ) as command:
            control = dial(caller, command)
            answered = await command.result()
        control.close()
    finally:
        caller.stop()
    client = answered.finding("inbound.client_cert")
    assert client["status"] == "pass", client
    assert "valid for sipprobe-client" in client["summary"]
    assert "chain verified to a trust anchor" in client["summary"]
    assert client["details"]["leaf"]["subject"].startswith("CN=sipprobe-client")
    # The phone's Via names loopback, not the expected peer: a caution, never a failure.
    assert answered.finding("inbound.invite")["status"] in ("pass", "warn")
    assert answered.code == 0, answered.out + answered.err


async def test_a_client_certificate_for_another_name_fails_naming_what_it_covers(
    lab: LabFiles,
) -> None:
    async with answering(
        *listen_tls(lab),
        "--expect-peer",
        "sip.pstnhub.microsoft.com",
        "--peer-ca",
        str(lab.ca),
        "--require-client-cert",
        "--format",
        "json",
    ) as command:
        await run_sipprobe(
            *invite_args(lab, command.port, "--cert", str(lab.client), "--key", str(lab.client_key))
        )
        answered = await command.result()
    assert answered.code == 1, answered.out + answered.err
    client = answered.finding("inbound.client_cert")
    assert client["status"] == "fail"
    assert "DNS:sipprobe-client" in client["summary"]
    assert "not for sip.pstnhub.microsoft.com" in client["summary"]


async def test_an_untrusted_client_chain_fails_and_is_recorded(
    tmp_path: Path, lab: LabFiles
) -> None:
    caller = phone(
        tmp_path / "baresip", lab, chain=lab.untrusted_client, key=lab.untrusted_client_key
    )
    evidence = tmp_path / "evidence.json"
    try:
        async with answering(
            *listen_tls(lab, within=4),
            "--peer-ca",
            str(lab.ca),
            "--require-client-cert",
            "--format",
            "json",
            "--evidence-out",
            str(evidence),
        ) as command:
            control = dial(caller, command)
            answered = await command.result()
        control.close()
    finally:
        caller.stop()
    assert answered.code == 1, answered.out + answered.err
    calls = answered.finding("inbound.calls")
    assert calls["status"] == "fail"
    assert "failed the TLS handshake" in calls["summary"]
    assert "client certificate" in calls["summary"]
    assert "sipprobe-untrusted-client" in calls["summary"]
    [refused] = calls["details"]["connections"]
    assert refused["client_cert_requested"] is True
    assert refused["client_certificates"] == len(der_chain(lab.untrusted_client))
    assert refused["client_chain"][0]["subject"].startswith("CN=sipprobe-untrusted-client")
    saved = json.loads(evidence.read_text())
    [connection] = saved["inbound"]["connections"]
    recorded = tuple(base64.b64decode(der) for der in connection["tls"]["client_chain"])
    assert recorded == der_chain(lab.untrusted_client)
    judged = await run_sipprobe("judge", str(evidence), "--format", "json")
    assert judged.code == 1
    assert judged.finding("inbound.calls")["summary"] == calls["summary"]


# --- signals --------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
async def test_a_signal_while_a_call_is_held_ends_it_with_our_bye(
    caller: Baresip, lab: LabFiles, number: signal.Signals
) -> None:
    async with answering(*listen_tls(lab, hold=30), "--format", "json") as command:
        control = dial(caller, command)
        await phone_event(control, "CALL_ESTABLISHED")
        signalled = time.monotonic()
        command.signal(number)
        answered = await command.result(timeout=20)
        took = time.monotonic() - signalled
    closed = await phone_event(control, "CALL_CLOSED")
    control.close()
    assert closed["type"] == "CALL_CLOSED", log_tail(caller)  # our BYE reached the phone
    assert answered.code == 128 + number, answered.out + answered.err
    assert took < 10, took  # not the 30 s hold
    assert f"interrupted by {number.name}" in answered.err
    report = answered.json()
    assert report["verdict"] == "incomplete"
    calls = answered.finding("inbound.calls")
    assert calls["status"] == "incomplete"
    assert calls["summary"].startswith("the run was interrupted after ")
    teardown = answered.finding("inbound.teardown")
    assert teardown["status"] == "incomplete"
    assert teardown["details"]["teardown"] == "interrupted"
    assert teardown["details"]["bye_status"] == 200
    assert teardown["details"]["dialogs_left_open"] == 0
    assert "we ended it with BYE" in teardown["summary"]


async def test_a_second_signal_exits_at_once_without_waiting_for_the_bye(
    caller: Baresip, lab: LabFiles
) -> None:
    async with answering(*listen_tls(lab, hold=30), "--format", "json") as command:
        control = dial(caller, command)
        await phone_event(control, "CALL_ESTABLISHED")
        os.kill(caller.process.pid, signal.SIGSTOP)  # the phone will not answer our BYE
        try:
            command.signal(signal.SIGTERM)
            await command.said("interrupted by SIGTERM")
            command.signal(signal.SIGTERM)
            signalled = time.monotonic()
            answered: Ran = await command.result(timeout=20)
            took = time.monotonic() - signalled
        finally:
            os.kill(caller.process.pid, signal.SIGCONT)
    control.close()
    assert answered.code == 128 + signal.SIGTERM, answered.out + answered.err
    assert took < 3, took
    assert "SIGTERM again: exiting now" in answered.err
    assert "Traceback" not in answered.err
