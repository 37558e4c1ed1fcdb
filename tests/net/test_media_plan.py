"""`--verify-media` planning on literal answers: what it can check, and why not."""

from __future__ import annotations

import pytest

from probe.net.media import MEDIA_SUITES, MediaPlan, plan_media
from probe.sdp import SessionDescription, build_offer, parse_sdp
from tests.sdp.samples import KEY30, KEY46

OFFERED = ("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")


def offer() -> SessionDescription:
    return build_offer(
        "sdes",
        address="127.0.0.1",
        port=40000,
        session_id=1,
        suites=OFFERED,
        random_bytes=lambda n: bytes(range(n)),
    )


def answer(crypto: str) -> SessionDescription:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio 20000 RTP/SAVP 0",
        f"a=crypto:{crypto}",
    ]
    return parse_sdp(("\r\n".join(lines) + "\r\n").encode())


@pytest.mark.parametrize(
    ("crypto", "reason"),
    [
        # baresip's answer to a suite it does not implement: the tag echoed, its own suite.
        (
            f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}",
            "tag 1 was offered as AES_256_CM_HMAC_SHA1_80 but answered as"
            " AES_CM_128_HMAC_SHA1_80: no agreed SRTP suite",
        ),
        (f"7 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}", "tag 7 was not offered"),
        (
            f"1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46}",
            "libsrtp cannot do AES_256_CM_HMAC_SHA1_80, the suite the far end chose",
        ),
    ],
)
def test_answers_media_cannot_be_checked_with_say_why(crypto: str, reason: str) -> None:
    plan = plan_media(offer(), answer(crypto))
    assert isinstance(plan, str)
    assert reason in plan


def test_an_agreed_suite_libsrtp_does_is_planned() -> None:
    assert "AES_CM_128_HMAC_SHA1_32" in MEDIA_SUITES
    plan = plan_media(offer(), answer(f"2 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}"))
    assert isinstance(plan, MediaPlan)
    assert plan.ours.suite == plan.theirs.suite == "AES_CM_128_HMAC_SHA1_32"
    assert (plan.address, plan.port) == ("127.0.0.1", 20000)
