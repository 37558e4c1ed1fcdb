"""The answer run's side of offer/answer (probe.answer.sdp_answer): pure, no socket."""

from __future__ import annotations

from dataclasses import replace

import pytest

from probe.answer.sdp_answer import build_inbound_answer, plan_inbound_answer
from probe.net.media import MEDIA_SUITES
from probe.sdp import Fingerprint, parse_sdp
from probe.serve.offer_answer import Refusal

KEY_80 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
KEY_256 = "A" * 62 + "=="  # 46 bytes: an AES-256 key and salt
FINGERPRINT = "sha-256 " + ":".join(["AB"] * 32)
OURS = Fingerprint.of("sha-256", bytes(range(32)))


def offer(media: str, address: str = "127.0.0.1") -> bytes:
    return (
        f"v=0\r\no=caller 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n{media}"
    ).encode()


def fixed_bytes(size: int) -> bytes:
    return bytes([0x42]) * size


def answered(sdp: bytes, **kwargs: object) -> tuple[str, object]:
    plan = plan_inbound_answer(parse_sdp(sdp), preferred_suites=MEDIA_SUITES)
    assert not isinstance(plan, Refusal), plan
    answer, ours = build_inbound_answer(
        parse_sdp(sdp),
        plan,
        address="127.0.0.1",
        port=40000,
        session_id=7,
        random_bytes=fixed_bytes,
        fingerprint=OURS,
    )
    return answer.to_bytes(reveal_keys=True).decode(), ours


def test_an_sdes_offer_gets_one_crypto_line_with_a_fresh_key_of_the_offered_suite() -> None:
    sdp = offer(
        "m=audio 5000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"
    )
    plan = plan_inbound_answer(parse_sdp(sdp))
    assert not isinstance(plan, Refusal)
    assert plan.keying == "sdes"
    assert plan.remote == ("127.0.0.1", 5000)
    assert plan.offered is not None
    assert plan.offered.tag == 3
    text, ours = answered(sdp)
    assert "m=audio 40000 RTP/SAVP 0" in text
    assert text.count("a=crypto:") == 1
    assert "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" in text
    assert KEY_80 not in text  # RFC 4568 §7.1.2: our key, never the offerer's
    assert ours is not None
    assert ours.key_salt == fixed_bytes(30)


def test_a_suite_the_media_check_can_run_is_preferred_over_an_earlier_one() -> None:
    sdp = offer(
        "m=audio 5000 RTP/SAVP 0\r\n"
        f"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY_256}\r\n"
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_80}\r\n"
    )
    text, _ = answered(sdp)
    assert "a=crypto:2 AES_CM_128_HMAC_SHA1_32" in text
    # Without a preference the first keyable line is echoed, as RFC 4568 §7.1.2 allows.
    plan = plan_inbound_answer(parse_sdp(sdp))
    assert not isinstance(plan, Refusal)
    assert plan.offered is not None
    assert plan.offered.suite == "AES_256_CM_HMAC_SHA1_80"


def test_a_crypto_line_that_does_not_parse_is_skipped_not_fatal() -> None:
    # The parser refuses such an offer whole (400); a description built in code can
    # still carry one, and the planner skips it (RFC 4568 §7.1.2) rather than fail.
    parsed = parse_sdp(
        offer(f"m=audio 5000 RTP/SAVP 0\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n")
    )
    media = parsed.media[0]
    broken = (("crypto", "1 AES_CM_128_HMAC_SHA1_80 inline:short"), *media.attributes)
    sdp = replace(parsed, media=(replace(media, attributes=broken),))
    plan = plan_inbound_answer(sdp)
    assert not isinstance(plan, Refusal)
    assert plan.offered is not None
    assert plan.offered.tag == 2


@pytest.mark.parametrize(
    ("setup", "address", "ours", "role"),
    [
        ("actpass", "127.0.0.1", "active", "client"),  # RFC 5763 §5: active recommended
        ("actpass", "192.0.2.9", "passive", "server"),  # no DTLS opened towards it
        ("active", "127.0.0.1", "passive", "server"),
        ("passive", "127.0.0.1", "active", "client"),
        (None, "127.0.0.1", "passive", "server"),  # RFC 4145 §4: absent means active
    ],
)
def test_a_dtls_offer_gets_our_fingerprint_and_the_role_rfc_5763_gives(
    setup: str | None, address: str, ours: str, role: str
) -> None:
    setup_line = f"a=setup:{setup}\r\n" if setup else ""
    sdp = offer(
        f"m=audio 5000 UDP/TLS/RTP/SAVPF 0 8\r\na=fingerprint:{FINGERPRINT}\r\n{setup_line}",
        address,
    )
    plan = plan_inbound_answer(parse_sdp(sdp))
    assert not isinstance(plan, Refusal)
    assert plan.keying == "dtls"
    assert plan.dtls_role == role
    assert [f.to_attribute_value() for f in plan.fingerprints] == [FINGERPRINT]
    text, crypto = answered(sdp)
    assert "m=audio 40000 UDP/TLS/RTP/SAVPF 0 8" in text
    assert f"a=setup:{ours}" in text
    assert f"a=fingerprint:{OURS.to_attribute_value()}" in text
    assert crypto is None


def test_a_dtls_answer_cannot_be_built_without_our_fingerprint() -> None:
    sdp = parse_sdp(offer(f"m=audio 5000 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:{FINGERPRINT}\r\n"))
    plan = plan_inbound_answer(sdp)
    assert not isinstance(plan, Refusal)
    with pytest.raises(ValueError, match="fingerprint"):
        build_inbound_answer(
            sdp, plan, address="127.0.0.1", port=1, session_id=1, random_bytes=fixed_bytes
        )


def test_a_plain_rtp_offer_is_answered_plain_so_the_call_completes() -> None:
    sdp = offer("m=audio 5000 RTP/AVP 8 0\r\n")
    plan = plan_inbound_answer(parse_sdp(sdp))
    assert not isinstance(plan, Refusal)
    assert plan.keying == "rtp"
    text, crypto = answered(sdp)
    assert "m=audio 40000 RTP/AVP 8 0" in text
    assert "crypto" not in text
    assert crypto is None


def test_a_secure_stream_is_preferred_over_a_plain_one_in_the_same_offer() -> None:
    sdp = offer(
        "m=audio 5000 RTP/AVP 0\r\n"
        f"m=audio 5002 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"
    )
    text, _ = answered(sdp)
    # RFC 3264 §6: every offered stream gets a line; the refused one has port 0.
    assert "m=audio 0 RTP/AVP 0" in text
    assert "m=audio 40000 RTP/SAVP 0" in text


@pytest.mark.parametrize(
    ("media", "code", "words"),
    [
        ("m=video 5000 RTP/AVP 96\r\n", 304, "no audio"),
        ("m=audio 5000 RTP/AVP 18\r\n", 305, "PCMU or PCMA"),
        ("m=audio 5000 RTP/SAVP 0\r\n", 306, "a=crypto"),
        ("m=audio 5000 UDP/TLS/RTP/SAVP 0\r\n", 306, "without a=fingerprint"),
        (
            f"m=audio 5000 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:{FINGERPRINT}\r\n"
            "a=setup:holdconn\r\n",
            306,
            "holdconn",
        ),
        ("m=audio 5000 TCP/MRCPv2 0\r\n", 302, "TCP/MRCPv2"),
    ],
)
def test_an_offer_nothing_can_answer_is_refused_488_with_a_warning(
    media: str, code: int, words: str
) -> None:
    refusal = plan_inbound_answer(parse_sdp(offer(media)))
    assert isinstance(refusal, Refusal)
    assert refusal.status == 488
    assert refusal.warning_code == code
    assert words in refusal.text


def test_a_plan_never_shows_the_offered_key() -> None:
    sdp = offer(
        f"m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"
    )
    assert KEY_80 not in repr(plan_inbound_answer(parse_sdp(sdp)))
