"""The responder's offer/answer decisions (RFC 3264 §6, RFC 4568 §7.1.2), without sockets:
every answer it builds is judged by the verifier's own `sdp.srtp` check."""

from __future__ import annotations

import base64

import pytest

from probe.sdp import SUITE_KEY_BYTES, SessionDescription, build_offer, parse_sdp
from probe.serve.offer_answer import (
    AnswerPlan,
    MediaMode,
    Refusal,
    build_answer,
    plan_answer,
    read_offer,
)
from probe.verdict.checks.srtp import check_srtp
from probe.verdict.findings import Status
from tests.serve.sip_client import make_invite

KEY = b"\x5a" * 64


def fixed_bytes(count: int) -> bytes:
    return KEY[:count]


def offer(kind: str = "sdes", suites: tuple[str, ...] | None = None) -> SessionDescription:
    extra = {"suites": suites} if suites else {}
    return build_offer(
        kind,  # type: ignore[arg-type]
        address="192.0.2.10",
        port=40000,
        session_id=7,
        random_bytes=fixed_bytes,
        **extra,  # type: ignore[arg-type]
    )


def answered(sdp: SessionDescription, mode: MediaMode = "srtp") -> SessionDescription:
    plan = plan_answer(sdp, mode)
    assert isinstance(plan, AnswerPlan), plan
    return build_answer(
        sdp, plan, address="127.0.0.1", port=50000, session_id=9, random_bytes=fixed_bytes
    )


def judge(sdp: SessionDescription, answer: SessionDescription, kind: str = "sdes") -> Status:
    finding = check_srtp(
        label="t",
        offer=sdp,
        offer_kind=kind,
        answer=answer.to_bytes(reveal_keys=True),
        answer_source="200 OK",
        final_status=200,
        final_reason="OK",
    )
    return finding.status


def test_sdes_answer_echoes_the_first_tag_and_suite_with_a_key_of_its_length() -> None:
    sdp = offer(suites=("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"))
    answer = answered(sdp)
    media = answer.media[0]
    assert media.proto == "RTP/SAVP"
    assert (media.port, answer.connection) == (50000, "127.0.0.1")
    (crypto,) = media.crypto
    assert (crypto.tag, crypto.suite) == (1, "AES_256_CM_HMAC_SHA1_80")
    assert len(crypto.key_salt) == SUITE_KEY_BYTES["AES_256_CM_HMAC_SHA1_80"]
    assert judge(sdp, answer) is Status.PASS


def test_the_answer_key_is_never_the_offered_one() -> None:
    sdp = offer()
    answer = build_answer(
        sdp,
        plan_answer(sdp, "srtp"),  # type: ignore[arg-type]
        address="127.0.0.1",
        port=50000,
        session_id=9,
        random_bytes=lambda n: b"\x01" * n,
    )
    assert answer.media[0].crypto[0].key_salt != sdp.media[0].crypto[0].key_salt


def test_a_suite_it_cannot_key_is_skipped_for_the_next_offered_line() -> None:
    text = offer().to_bytes(reveal_keys=True).decode()
    key = base64.b64encode(b"\x11" * 30).decode()
    text = text.replace("a=crypto:1 ", f"a=crypto:7 FUTURE_SUITE_999 inline:{key}\r\na=crypto:1 ")
    sdp = parse_sdp(text)
    (crypto,) = answered(sdp).media[0].crypto
    assert (crypto.tag, crypto.suite) == (1, "AES_CM_128_HMAC_SHA1_80")


def test_sdes_offer_without_a_crypto_it_can_echo_is_refused_with_488() -> None:
    text = offer().to_bytes(reveal_keys=True).decode()
    lines = [line for line in text.split("\r\n") if not line.startswith("a=crypto")]
    key = base64.b64encode(b"\x11" * 30).decode()
    lines.insert(-1, f"a=crypto:1 FUTURE_SUITE_999 inline:{key}")
    refusal = plan_answer(parse_sdp("\r\n".join(lines)), "srtp")
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.warning_code) == (488, 306)


@pytest.mark.parametrize("kind", ["rtp", "dtls"])
def test_srtp_mode_refuses_plain_rtp_and_dtls_offers(kind: str) -> None:
    if kind == "dtls":
        from probe.sdp import Fingerprint

        sdp = build_offer(
            "dtls",
            address="192.0.2.10",
            port=40000,
            session_id=7,
            random_bytes=fixed_bytes,
            fingerprint=Fingerprint("sha-256", ":".join(["AB"] * 32)),
        )
    else:
        sdp = offer("rtp")
    refusal = plan_answer(sdp, "srtp")
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.warning_code) == (488, 302)
    assert sdp.media[0].proto in refusal.text


def test_rtp_mode_answers_plain_rtp_even_to_an_sdes_offer() -> None:
    sdp = offer()
    answer = answered(sdp, "rtp")
    assert answer.media[0].proto == "RTP/AVP"
    assert answer.media[0].crypto == ()
    assert judge(sdp, answer) is Status.FAIL


def test_reject_mode_refuses_everything() -> None:
    refusal = plan_answer(offer(), "reject")
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.reason) == (488, "Not Acceptable Here")
    assert refusal.warning().startswith('399 sipprobe-responder "')


def test_every_offered_m_line_is_answered_in_order_the_extra_ones_rejected() -> None:
    text = offer().to_bytes(reveal_keys=True).decode()
    text = text.replace("m=audio", "m=video 40002 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio")
    sdp = parse_sdp(text)
    answer = answered(sdp)
    assert [(m.media, m.port) for m in answer.media] == [("video", 0), ("audio", 50000)]
    assert judge(sdp, answer) is Status.PASS


def test_savpf_direction_and_codecs_are_answered_as_offered() -> None:
    text = offer().to_bytes(reveal_keys=True).decode()
    text = text.replace("RTP/SAVP 0 8 101", "RTP/SAVPF 8 101 18").replace("sendrecv", "sendonly")
    text = text.replace("a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:18 G729/8000\r\n")
    media = answered(parse_sdp(text)).media[0]
    assert media.proto == "RTP/SAVPF"
    assert media.formats == ("8", "101")
    assert media.direction == "recvonly"  # RFC 3264 §6.1


def test_no_common_codec_is_refused_with_488() -> None:
    text = offer().to_bytes(reveal_keys=True).decode().replace("RTP/SAVP 0 8 101", "RTP/SAVP 101")
    refusal = plan_answer(parse_sdp(text), "srtp")
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.warning_code) == (488, 305)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"v=0\r\nthis is not SDP\r\n", "application/sdp", 400),
        (b"<xml/>", "application/xml", 415),
        (b"", "application/sdp", 488),
    ],
)
def test_offers_that_cannot_be_read(body: bytes, content_type: str, status: int) -> None:
    refusal = read_offer(make_invite(body, local=("127.0.0.1", 5060), content_type=content_type))
    assert isinstance(refusal, Refusal)
    assert refusal.status == status


def test_the_warning_text_is_a_valid_quoted_string() -> None:
    warning = Refusal(400, "Bad Request", 399, 'bad "field" \\ here\r\n').warning()
    assert warning == '399 sipprobe-responder "bad \\"field\\" \\\\ here  "'
