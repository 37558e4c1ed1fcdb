"""SIPp placing calls to an answer run: over UDP and TCP itself, over TLS through
Kamailio (Debian's SIPp has no TLS), with an SDES or a plain RTP offer, cancelling,
never acknowledging, or hanging up itself. SIPp exits 0 only when its scenario ran to
its end, BYE included: the far side's proof that the call was ended cleanly."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from probe.evidence.inbound import InboundTransport, Listening
from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config, first_lines, only_call
from tests.peers.common import free_port
from tests.peers.sbc import calling_over_tls
from tests.peers.sipp import Sipp, start_sipp_uac

SIPP_TRANSPORT = {"udp": "u1", "tcp": "t1"}


async def sipp_finished(sipp: Sipp) -> int:
    return await asyncio.to_thread(sipp.wait, 20)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_call_is_answered_with_srtp_and_ended_by_our_bye(
    tmp_path: Path, lab: LabFiles, transport: InboundTransport
) -> None:
    started = time.monotonic()
    async with answering(config(lab, transport)) as run:
        port = run.port(transport)
        sipp = start_sipp_uac(
            tmp_path, "uac_srtp.xml", ("127.0.0.1", port), transport=SIPP_TRANSPORT[transport]
        )
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    assert time.monotonic() - started < 10  # ended once the call did, not at within_s
    assert evidence.stopped is None
    assert evidence.listening == (Listening(transport, "127.0.0.1", port),)
    call = only_call(evidence)
    assert call.number == 1
    assert call.transport == transport
    assert call.tls is None
    assert call.peer == f"127.0.0.1:{sipp.port}"
    assert call.local == f"127.0.0.1:{port}"
    assert call.invite.startswith(b"INVITE sip:answer@")
    assert call.final_status == 200
    assert call.acked
    assert call.teardown == "our_bye"
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0
    assert call.answer is not None
    assert b"RTP/SAVP" in call.answer
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in call.answer
    assert [line for _, line in first_lines(call)][:4] == [
        f"INVITE sip:answer@127.0.0.1:{port} SIP/2.0",
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
    ]
    directions = [(direction, line.split()[0]) for direction, line in first_lines(call)[4:]]
    assert directions == [("received", "ACK"), ("sent", "BYE"), ("received", "SIP/2.0")]


async def test_a_call_over_tls_through_kamailio_is_answered_and_ended(
    tmp_path: Path, lab: LabFiles
) -> None:
    port = free_port()
    with calling_over_tls(tmp_path, lab, port) as kamailio:
        async with answering(config(lab, "tls", port=port)) as run:
            sipp = start_sipp_uac(tmp_path, "uac_srtp.xml", ("127.0.0.1", kamailio.plain_port))
            evidence = await run.evidence()
        assert await sipp_finished(sipp) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.transport == "tls"
    assert call.tls is not None
    assert call.tls.version in ("TLSv1.2", "TLSv1.3")
    assert call.tls.error is None
    assert not call.tls.client_cert_requested
    assert call.teardown == "our_bye"
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0
    # Kamailio's double Record-Route came back in our 2xx, so SIPp's ACK and our BYE
    # crossed it (§12.1.1).
    ok = next(event.data for event in call.events if event.data.startswith(b"SIP/2.0 200"))
    assert ok.count(b"Record-Route:") == 2


async def test_a_plain_rtp_offer_is_answered_plain_and_media_says_why_it_was_not_checked(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with answering(config(lab, "udp", verify_media=True)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_rtp.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.final_status == 200
    assert call.answer is not None
    assert b"m=audio " in call.answer
    assert b" RTP/AVP 0" in call.answer
    assert b"crypto" not in call.answer
    assert call.media is None
    assert call.media_skipped == "the offer was plain RTP: there is no SRTP to authenticate"
    assert call.teardown == "our_bye"
    assert call.dialogs_left_open == 0


async def test_a_cancel_before_our_answer_gets_200_and_487(tmp_path: Path, lab: LabFiles) -> None:
    started = time.monotonic()
    async with answering(config(lab, "udp", ring_s=10, verify_media=True)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_cancel.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    assert time.monotonic() - started < 8  # the ringing was cut short by the CANCEL
    call = only_call(evidence)
    assert call.final_status == 487
    assert call.teardown == "caller_cancel"
    assert not call.acked
    assert call.answer is not None  # built, but never sent: no 200 went out
    sent = [event.note for event in call.events if event.direction == "sent"]
    assert sent == ["100 Trying", "180 Ringing", "200 OK", "487 Request Terminated"]
    assert call.media_skipped == "no media: the call was not answered (caller_cancel)"
    assert call.dialogs_left_open == 0
    lines = first_lines(call)
    assert [direction for direction, _ in lines] == [
        "received", "sent", "sent", "received", "sent", "sent", "received",
    ]  # fmt: skip
    assert lines[3][1].startswith("CANCEL ")
    assert lines[4][1] == "SIP/2.0 200 OK"  # to the CANCEL (§9.2)
    assert lines[5][1] == "SIP/2.0 487 Request Terminated"
    assert lines[6][1].startswith("ACK ")


async def test_a_2xx_never_acknowledged_is_retransmitted_then_ended_with_bye(
    tmp_path: Path, lab: LabFiles
) -> None:
    # T1 of 50 ms: 64*T1 is 3.2 s, the retransmissions doubling from 50 ms (§13.3.1.4).
    async with answering(config(lab, "tcp", t1=0.05)) as run:
        sipp = start_sipp_uac(
            tmp_path, "uac_no_ack.xml", ("127.0.0.1", run.port("tcp")), transport="t1"
        )
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.final_status == 200
    assert not call.acked
    assert call.teardown == "no_ack"
    assert call.teardown_detail is not None
    assert "not acknowledged within 3.2 s" in call.teardown_detail
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0
    resent = [event for event in call.events if event.note == "200 again"]
    assert len(resent) >= 5
    gaps = [b.at_ms - a.at_ms for a, b in itertools.pairwise(resent)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps))


async def test_a_caller_bye_is_answered_200(tmp_path: Path, lab: LabFiles) -> None:
    async with answering(config(lab, "tcp", hold_s=20)) as run:
        sipp = start_sipp_uac(
            tmp_path, "uac_bye.xml", ("127.0.0.1", run.port("tcp")), transport="t1"
        )
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    assert evidence.waited_ms < 10_000  # not the 20 s hold: the caller hung up
    call = only_call(evidence)
    assert call.teardown == "caller_bye"
    assert call.acked
    assert call.bye_status is None
    assert call.dialogs_left_open == 0
    assert first_lines(call)[-1] == ("sent", "SIP/2.0 200 OK")


@pytest.mark.parametrize("trusted", [True, False])
async def test_mutual_tls_records_the_chain_kamailio_presented(
    tmp_path: Path, lab: LabFiles, trusted: bool
) -> None:
    from tests.answer.test_tls_callers import der_chain

    chain, key = (
        (lab.client, lab.client_key)
        if trusted
        else (lab.untrusted_client, lab.untrusted_client_key)
    )
    port = free_port()
    # A refused chain never becomes a call: the run need not wait long for one, nor SIPp
    # for an answer that cannot come.
    answer_config = config(
        lab,
        "tls",
        port=port,
        within_s=6 if trusted else 3,
        client_ca=lab.ca,
        request_client_cert=True,
    )
    with calling_over_tls(tmp_path, lab, port, client_cert=(chain, key)) as kamailio:
        async with answering(answer_config) as run:
            sipp = start_sipp_uac(
                tmp_path,
                "uac_srtp.xml",
                ("127.0.0.1", kamailio.plain_port),
                timeout_s=30 if trusted else 5,
            )
            evidence = await run.evidence()
        code = await sipp_finished(sipp)
    if trusted:
        assert code == 0, sipp.errors()
        call = only_call(evidence)
        assert call.tls is not None
        assert call.tls.client_cert_requested
        assert call.tls.client_chain == der_chain(lab.client)
        assert call.teardown == "our_bye"
        return
    assert code != 0  # its INVITE never got through
    assert evidence.calls == ()
    assert evidence.connections
    for connection in evidence.connections:
        assert connection.tls is not None
        assert connection.tls.error is not None
        assert "client certificate was refused" in connection.tls.error
        assert connection.tls.client_chain == der_chain(lab.untrusted_client)


async def test_an_offer_nothing_can_answer_is_refused_488_with_a_warning_and_acked(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with answering(config(lab, "udp", verify_media=True)) as run:
        sipp = start_sipp_uac(tmp_path, "uac_488.xml", ("127.0.0.1", run.port("udp")))
        evidence = await run.evidence()
    assert await sipp_finished(sipp) == 0, sipp.errors()
    call = only_call(evidence)
    assert call.final_status == 488
    assert call.teardown == "refused"
    assert call.refusal == '305 sipprobe-responder "no offered audio format is PCMU or PCMA"'
    assert call.answer is None
    assert call.media_skipped == "no media: the call was not answered (refused)"
    assert call.dialogs_left_open == 0
    refused = next(event.data for event in call.events if event.note == "488 Not Acceptable Here")
    assert f"Warning: {call.refusal}".encode() in refused
    assert first_lines(call)[-1][1].startswith("ACK ")  # §17.2.1: the 488 was acknowledged


async def test_two_callers_at_once_over_udp_and_tcp_are_both_answered(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with answering(config(lab, "udp", "tcp", calls=2, hold_s=1.0)) as run:
        over_udp = start_sipp_uac(tmp_path / "udp", "uac_srtp.xml", ("127.0.0.1", run.port("udp")))
        over_tcp = start_sipp_uac(
            tmp_path / "tcp", "uac_srtp.xml", ("127.0.0.1", run.port("tcp")), transport="t1"
        )
        evidence = await run.evidence()
    assert await sipp_finished(over_udp) == 0, over_udp.errors()
    assert await sipp_finished(over_tcp) == 0, over_tcp.errors()
    assert [call.number for call in evidence.calls] == [1, 2]
    assert {call.transport for call in evidence.calls} == {"udp", "tcp"}
    assert {call.peer for call in evidence.calls} == {
        f"127.0.0.1:{over_udp.port}",
        f"127.0.0.1:{over_tcp.port}",
    }
    for call in evidence.calls:
        assert call.teardown == "our_bye"
        assert call.dialogs_left_open == 0
