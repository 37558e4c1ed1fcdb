"""When media is asked for and cannot be checked, the call says why: a suite libsrtp
cannot do, the srtp extra missing. A small UAC over TCP places the calls."""

from __future__ import annotations

import asyncio
import re

import pytest

from probe.answer import media as answer_media
from probe.net.media import MediaExtraMissing
from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config, only_call

KEY_256 = "A" * 62 + "=="  # 46 bytes: an AES-256 key and salt (RFC 6188 §4)
KEY_128 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def invite(port: int, crypto: str) -> bytes:
    body = (
        "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio 5004 RTP/SAVP 0\r\na=crypto:1 {crypto}\r\n"
    ).encode()
    head = (
        f"INVITE sip:answer@127.0.0.1:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKmedia1;rport\r\nMax-Forwards: 70\r\n"
        "From: <sip:trunk@127.0.0.1>;tag=caller1\r\nTo: <sip:answer@127.0.0.1>\r\n"
        "Call-ID: media-test\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sip:trunk@127.0.0.1:5999;transport=tcp>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def place_call(port: int, crypto: str) -> None:
    """INVITE, ACK the 200, answer the BYE: a well-behaved caller, SDES over TCP."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(invite(port, crypto))
        data = b""
        async with asyncio.timeout(15):
            while b"SIP/2.0 200 OK" not in data:
                data += await reader.read(65536)
            to_tag = re.search(rb"To: [^\r\n]*;tag=([^;\r\n]+)", data)
            assert to_tag is not None
            writer.write(
                (
                    f"ACK sip:sipprobe-answer@127.0.0.1:{port};transport=tcp SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKmedia2;rport\r\n"
                    "Max-Forwards: 70\r\nFrom: <sip:trunk@127.0.0.1>;tag=caller1\r\n"
                    f"To: <sip:answer@127.0.0.1>;tag={to_tag.group(1).decode()}\r\n"
                    "Call-ID: media-test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                ).encode()
            )
            while b"BYE sip:" not in data:
                data += await reader.read(65536)
        bye = data[data.index(b"BYE sip:") :]
        headers = [line for line in bye.split(b"\r\n") if line[:4] in (b"Via:", b"From", b"To: ")]
        call_id = b"Call-ID: media-test"
        cseq = re.search(rb"CSeq: [^\r\n]+", bye)
        assert cseq is not None
        writer.write(
            b"SIP/2.0 200 OK\r\n"
            + b"\r\n".join([*headers, call_id, cseq.group(0)])
            + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        await asyncio.sleep(0.2)
    finally:
        writer.close()


async def test_a_suite_libsrtp_cannot_do_is_answered_and_media_says_so(lab: LabFiles) -> None:
    async with answering(config(lab, "tcp", verify_media=True)) as run:
        await place_call(run.port("tcp"), f"AES_256_CM_HMAC_SHA1_80 inline:{KEY_256}")
        evidence = await run.evidence()
    call = only_call(evidence)
    assert call.final_status == 200
    assert call.answer is not None
    assert b"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" in call.answer
    assert call.media is None
    assert call.media_skipped is not None
    assert call.media_skipped.startswith("libsrtp cannot do AES_256_CM_HMAC_SHA1_80")
    assert call.teardown == "our_bye"
    assert call.bye_status == 200


async def test_without_the_srtp_extra_media_says_what_to_install(
    lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*, dtls: bool = False) -> None:
        raise MediaExtraMissing("--verify-media needs the srtp extra: pip install 'sipprobe[srtp]'")

    monkeypatch.setattr(answer_media, "require_extra", missing)
    async with answering(config(lab, "tcp", verify_media=True)) as run:
        await place_call(run.port("tcp"), f"AES_CM_128_HMAC_SHA1_80 inline:{KEY_128}")
        evidence = await run.evidence()
    call = only_call(evidence)
    assert call.final_status == 200
    assert call.media is None
    assert call.media_skipped == "--verify-media needs the srtp extra: pip install 'sipprobe[srtp]'"
