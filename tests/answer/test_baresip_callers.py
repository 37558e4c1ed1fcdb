"""baresip, a real phone, calling an answer run over TLS with mandatory SRTP (SDES) or
DTLS-SRTP, driven through its ctrl_tcp module: each call answered, its media received
and authenticated with the phone's keys, ours sent back, the call ended cleanly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from probe.evidence.inbound import InboundCall
from probe.tls.lab import LabFiles
from tests.answer.kit import Answering, answering, config, only_call
from tests.answer.test_tls_callers import der_chain
from tests.peers.baresip import Baresip, Control, log_tail, start_baresip


def phone(
    tmp_path: Path,
    lab: LabFiles,
    mediaenc: str,
    *,
    chain: Path | None = None,
    key: Path | None = None,
) -> Baresip:
    return start_baresip(
        tmp_path / "baresip",
        chain or lab.server,
        key or lab.server_key,
        lab.ca,
        mediaenc=mediaenc,
        control=True,
        net_interface="127.0.0.1",  # its SDP names loopback, where our media may go
    )


def dial(caller: Baresip, run: Answering) -> Control:
    return caller.dial(f"sip:answer@127.0.0.1:{run.port('tls')};transport=tls")


def answered_with_media(call: InboundCall) -> None:
    assert call.transport == "tls"
    assert call.tls is not None
    assert call.tls.version == "TLSv1.3"
    assert call.final_status == 200
    assert call.acked
    assert call.media is not None, call.media_skipped
    assert call.media.sent == 10
    assert call.media.send_skipped is None
    assert call.media.received >= 1
    assert call.media.authenticated == call.media.received
    assert call.media.first_error is None


@pytest.mark.parametrize(
    ("mediaenc", "keying", "proto"),
    [("srtp-mand", "sdes", b"RTP/SAVP"), ("dtls_srtp", "dtls", b"UDP/TLS/RTP/SAVP")],
)
async def test_a_phone_call_with_srtp_is_answered_its_media_authenticated_and_ended(
    tmp_path: Path, lab: LabFiles, mediaenc: str, keying: str, proto: bytes
) -> None:
    caller = phone(tmp_path, lab, mediaenc)
    try:
        async with answering(config(lab, "tls", hold_s=1.0, verify_media=True)) as run:
            control = dial(caller, run)
            evidence = await run.evidence()
        closed = await asyncio.to_thread(control.wait_for, "CALL_CLOSED", time.monotonic() + 10)
        control.close()
    finally:
        caller.stop()
    call = only_call(evidence)
    answered_with_media(call)
    assert call.media is not None
    assert call.media.keying == keying
    assert call.answer is not None
    assert proto in call.answer
    if keying == "dtls":
        assert call.media.dtls is not None
        assert call.media.dtls.fingerprint_match
        assert call.media.dtls.role == "client"  # baresip offered actpass: we went active
        assert b"a=setup:active" in call.answer
    else:
        assert b"a=crypto:" in call.answer
    assert call.teardown == "our_bye", log_tail(caller)
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0
    assert closed["type"] == "CALL_CLOSED"  # the phone saw the call end: our BYE


async def test_a_phone_that_hangs_up_ends_the_call_with_its_bye(
    tmp_path: Path, lab: LabFiles
) -> None:
    caller = phone(tmp_path, lab, "srtp-mand")
    try:
        async with answering(config(lab, "tls", hold_s=30, verify_media=True)) as run:
            control = dial(caller, run)
            await asyncio.to_thread(control.wait_for, "CALL_ESTABLISHED", time.monotonic() + 10)
            await asyncio.sleep(1.0)  # some media first
            control.send("hangup")
            evidence = await run.evidence(timeout=20)
        control.close()
    finally:
        caller.stop()
    assert evidence.waited_ms < 20_000  # the hold of 30 s was cut short by the phone
    call = only_call(evidence)
    answered_with_media(call)
    assert call.teardown == "caller_bye"
    assert call.bye_status is None
    assert call.dialogs_left_open == 0


async def test_a_phone_presenting_a_client_certificate_has_its_chain_recorded(
    tmp_path: Path, lab: LabFiles
) -> None:
    caller = phone(tmp_path, lab, "srtp-mand", chain=lab.client, key=lab.client_key)
    answer_config = config(lab, "tls", client_ca=lab.ca, request_client_cert=True)
    try:
        async with answering(answer_config) as run:
            control = dial(caller, run)
            evidence = await run.evidence()
        control.close()
    finally:
        caller.stop()
    call = only_call(evidence)
    assert call.tls is not None
    assert call.tls.client_cert_requested
    assert call.tls.client_chain == der_chain(lab.client)
    assert call.teardown == "our_bye"


async def test_a_phone_whose_client_certificate_does_not_chain_is_refused_and_recorded(
    tmp_path: Path, lab: LabFiles
) -> None:
    caller = phone(
        tmp_path, lab, "srtp-mand", chain=lab.untrusted_client, key=lab.untrusted_client_key
    )
    answer_config = config(lab, "tls", within_s=4, client_ca=lab.ca, request_client_cert=True)
    try:
        async with answering(answer_config) as run:
            control = dial(caller, run)
            evidence = await run.evidence()
        control.close()
    finally:
        caller.stop()
    assert evidence.calls == ()
    assert evidence.stopped is None  # within_s ran out: nothing was interrupted
    assert evidence.connections
    refused = evidence.connections[0]
    assert refused.tls is not None
    assert refused.tls.error is not None
    assert "client certificate was refused" in refused.tls.error
    assert refused.tls.client_chain == der_chain(lab.untrusted_client)
