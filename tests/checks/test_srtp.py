"""The SRTP judgement table: `sdp.srtp` and `sdp.sdes_transport` on literal answers.

Offers are built with build_offer and a deterministic random_bytes; answers are SDP text
as an SBC would send it.  No sockets.
"""

from __future__ import annotations

import pytest

from probe.sdp import Fingerprint, SessionDescription, build_offer
from probe.verdict.checks.srtp import check_options_sdp, check_sdes_transport, check_srtp
from probe.verdict.findings import CheckId, Finding, Status
from tests.sdp.samples import KEY28, KEY30, KEY30_B, KEY46, SHA256_FP, TEAMS_OFFER, crlf

LABEL = "sbc.example.test (192.0.2.1:5061/tls)"
FINGERPRINT = Fingerprint("sha-256", SHA256_FP)


def random_bytes(n: int) -> bytes:
    return bytes(range(n))


def offer(kind: str) -> SessionDescription:
    return build_offer(
        kind,  # type: ignore[arg-type]
        address="192.0.2.10",
        port=40000,
        session_id=1,
        random_bytes=random_bytes,
        fingerprint=FINGERPRINT if kind == "dtls" else None,
    )


def answer(m_line: str, *attributes: str, extra_media: str | None = None) -> bytes:
    lines = [
        "v=0",
        "o=sbc 99 99 IN IP4 203.0.113.5",
        "s=SBC",
        "c=IN IP4 203.0.113.5",
        "t=0 0",
        m_line,
        "a=rtpmap:0 PCMU/8000",
        *attributes,
    ]
    if extra_media:
        lines.append(extra_media)
    return crlf("\n".join(lines))


def judge(
    kind: str,
    body: bytes | None,
    *,
    source: str | None = "200 OK",
    status: int | None = 200,
    reason: str | None = "OK",
) -> Finding:
    return check_srtp(
        label=LABEL,
        offer=offer(kind),
        offer_kind=kind,
        answer=body,
        answer_source=source,
        final_status=status,
        final_reason=reason,
    )


SAVP = "m=audio 30000 RTP/SAVP 0"
C80 = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"
C32 = f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY30_B}"


def test_sdes_pass_names_suite_tag_and_source_but_never_the_key() -> None:
    finding = judge("sdes", answer(SAVP, C80 + "|2^31"))
    assert finding.check == CheckId.SDP_SRTP
    assert str(finding.check) == "sdp.srtp"
    assert finding.status is Status.PASS
    assert finding.target == LABEL
    assert finding.summary == "SRTP negotiated: AES_CM_128_HMAC_SHA1_80 (tag 1) in the 200 OK"
    details = finding.details
    assert details["negotiated_suite"] == "AES_CM_128_HMAC_SHA1_80"
    assert details["tag"] == 1
    assert details["key_bytes"] == 30
    assert details["lifetime"] == "2^31"
    assert details["proto"] == "RTP/SAVP"
    assert details["media_address"] == "203.0.113.5"
    assert details["media_port"] == 30000
    assert details["answer_source"] == "200 OK"
    assert details["offered_suites"] == ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"]
    assert KEY30 not in repr(finding.to_dict())


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        pytest.param(answer(SAVP, C32), "AES_CM_128_HMAC_SHA1_32 (tag 2)", id="second_suite"),
        pytest.param(
            answer("m=audio 30000 RTP/SAVPF 0", C80), "AES_CM_128_HMAC_SHA1_80", id="savpf"
        ),
        pytest.param(
            answer(SAVP, C80, "a=sendrecv", "a=ptime:20"), "(tag 1)", id="more_attributes"
        ),
        pytest.param(answer(SAVP, C80 + " KDR=0"), "(tag 1)", id="harmless_session_param"),
    ],
)
def test_sdes_passes(body: bytes, summary: str) -> None:
    finding = judge("sdes", body)
    assert finding.status is Status.PASS, finding.summary
    assert summary in finding.summary


def test_early_media_answer_in_183() -> None:
    finding = judge("sdes", answer(SAVP, C80), source="183 Session Progress")
    assert finding.status is Status.PASS
    assert finding.summary.endswith("in the 183 Session Progress")


SDES_FAILS = [
    (
        "plain_rtp",
        answer("m=audio 30000 RTP/AVP 0"),
        "the answer is plain RTP/AVP: media would be unencrypted",
    ),
    (
        "plain_rtp_with_crypto",
        answer("m=audio 30000 RTP/AVP 0", C80),
        "the answer is plain RTP/AVP",
    ),
    ("no_crypto", answer(SAVP), "no a=crypto line"),
    ("two_crypto", answer(SAVP, C80, C32), "2 a=crypto lines for one m-line"),
    (
        "unoffered_tag",
        answer(SAVP, f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"),
        "tag 3 was not offered (offered: 1, 2",
    ),
    (
        "tag_zero",
        answer(SAVP, f"a=crypto:0 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"),
        "tag 0 was not offered",
    ),
    (
        "suite_swapped",
        answer(SAVP, f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}"),
        "tag 1 was offered as AES_CM_128_HMAC_SHA1_80 but answered as AES_CM_128_HMAC_SHA1_32",
    ),
    (
        "other_suite",
        answer(SAVP, f"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46}"),
        "answered as AES_256_CM_HMAC_SHA1_80",
    ),
    (
        "unknown_suite",
        answer(SAVP, f"a=crypto:1 SOME_FUTURE_SUITE inline:{KEY28}"),
        "answered as SOME_FUTURE_SUITE",
    ),
    (
        "short_key",
        answer(SAVP, f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY28}"),
        "malformed: line 8: a=crypto: AES_CM_128_HMAC_SHA1_80 needs 30 bytes of key||salt, got 28",
    ),
    (
        "bad_base64",
        answer(SAVP, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:not*base64"),
        "is not valid base64",
    ),
    (
        "mki_not_offered",
        answer(SAVP, C80 + "|2^31|1:1"),
        "uses an MKI (1:1) though the offer had none",
    ),
    (
        "unencrypted_srtp",
        answer(SAVP, C80 + " UNENCRYPTED_SRTP"),
        "switches SRTP protection off with UNENCRYPTED_SRTP",
    ),
    ("unauthenticated_srtp", answer(SAVP, C80 + " UNAUTHENTICATED_SRTP"), "UNAUTHENTICATED_SRTP"),
    (
        "port_zero",
        answer("m=audio 0 RTP/SAVP 0", C80),
        "rejected the audio stream (port 0 in the 200 OK, RFC 3264 §6)",
    ),
    (
        "dtls_profile",
        answer("m=audio 30000 UDP/TLS/RTP/SAVP 0", C80),
        "changed the profile to UDP/TLS/RTP/SAVP",
    ),
    (
        "two_m_lines",
        answer(SAVP, C80, extra_media="m=video 0 RTP/AVP 31"),
        "2 m-line(s) for the offer's 1 (RFC 3264 §6)",
    ),
    (
        "video_instead",
        answer("m=video 30000 RTP/SAVP 31", C80),
        "replaced the audio m-line with video",
    ),
    ("malformed", b"v=0\r\nthis is not sdp\r\n", "malformed: line 2:"),
    ("no_v", answer(SAVP, C80).replace(b"v=0\r\n", b""), "malformed: line 1: missing v= line"),
]


@pytest.mark.parametrize(
    ("body", "words"), [pytest.param(body, words, id=name) for name, body, words in SDES_FAILS]
)
def test_sdes_fails_name_the_cause(body: bytes, words: str) -> None:
    finding = judge("sdes", body)
    assert finding.status is Status.FAIL
    assert words in finding.summary
    for key in (KEY30, KEY30_B, KEY46, KEY28):
        assert key not in repr(finding.to_dict())


def test_unencrypted_srtcp_warns() -> None:
    finding = judge("sdes", answer(SAVP, C80 + " UNENCRYPTED_SRTCP"))
    assert finding.status is Status.WARN
    assert "RTCP stays unencrypted" in finding.summary


@pytest.mark.parametrize(
    ("status", "reason", "summary"),
    [
        (488, "Not Acceptable Here", "the endpoint refused the offer: 488 Not Acceptable Here"),
        (415, "Unsupported Media Type", "refused the offer: 415 Unsupported Media Type"),
        (606, "Not Acceptable", "refused the offer: 606 Not Acceptable"),
        (403, "Forbidden", "no SDP in any response: the call failed with 403 Forbidden"),
        (503, "Service Unavailable", "the call failed with 503 Service Unavailable"),
        (200, "OK", "no SDP in any response: the 200 OK carried no answer"),
        (None, None, "no SDP in any response, and no final response"),
    ],
)
@pytest.mark.parametrize("kind", ["sdes", "dtls"])
def test_no_answer(kind: str, status: int | None, reason: str | None, summary: str) -> None:
    finding = judge(kind, None, source=None, status=status, reason=reason)
    assert finding.status is Status.FAIL
    assert summary in finding.summary
    assert finding.details["final_status"] == status


def test_empty_body_counts_as_no_answer() -> None:
    assert judge("sdes", b"\r\n").summary.startswith("no SDP in any response")


DTLS = "m=audio 30000 UDP/TLS/RTP/SAVP 0"
FP = f"a=fingerprint:sha-256 {SHA256_FP}"


@pytest.mark.parametrize("role", ["active", "passive"])
def test_dtls_passes(role: str) -> None:
    finding = judge("dtls", answer(DTLS, FP, f"a=setup:{role}"))
    assert finding.status is Status.PASS
    assert finding.summary == (
        f"DTLS-SRTP negotiated: UDP/TLS/RTP/SAVP, sha-256 fingerprint, setup:{role} in the 200 OK"
    )
    assert finding.details["setup"] == role
    assert finding.details["fingerprint_hashes"] == ["sha-256"]


def test_dtls_session_level_fingerprint_and_savpf() -> None:
    body = answer("m=audio 30000 UDP/TLS/RTP/SAVPF 0", "a=setup:active").replace(
        b"t=0 0\r\n", f"t=0 0\r\n{FP}\r\n".encode()
    )
    assert judge("dtls", body).status is Status.PASS


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(answer(DTLS, FP, "a=setup:actpass"), "a=setup:actpass", id="actpass"),
        pytest.param(answer(DTLS, FP, "a=setup:holdconn"), "a=setup:holdconn", id="holdconn"),
        pytest.param(answer(DTLS, FP), "no a=setup", id="no_setup"),
        pytest.param(answer(DTLS, "a=setup:active"), "no a=fingerprint", id="no_fingerprint"),
        pytest.param(
            answer(DTLS, "a=fingerprint:md5 " + ":".join(["AB"] * 16), "a=setup:active"),
            "weak or unknown",
            id="md5",
        ),
        pytest.param(
            answer(DTLS, "a=fingerprint:sha-256 AB:CD", "a=setup:active"),
            "malformed: line 8: a=fingerprint",
            id="short_fingerprint",
        ),
        pytest.param(answer("m=audio 30000 RTP/AVP 0"), "plain RTP/AVP", id="plain"),
        pytest.param(answer(SAVP, C80), "changed the profile to RTP/SAVP", id="sdes_answer"),
        pytest.param(answer("m=audio 0 UDP/TLS/RTP/SAVP 0", FP), "port 0", id="port_0"),
    ],
)
def test_dtls_fails(body: bytes, words: str) -> None:
    finding = judge("dtls", body)
    assert finding.status is Status.FAIL
    assert words in finding.summary


@pytest.mark.parametrize(
    ("body", "status", "reason", "expected", "words"),
    [
        (
            answer("m=audio 30000 RTP/AVP 0"),
            200,
            "OK",
            Status.FAIL,
            "the endpoint accepted unencrypted media: RTP/AVP answer in the 200 OK",
        ),
        (
            None,
            488,
            "Not Acceptable Here",
            Status.PASS,
            "refused plain RTP (488 Not Acceptable Here)",
        ),
        (None, 606, "Not Acceptable", Status.PASS, "refused plain RTP (606 Not Acceptable)"),
        (
            answer("m=audio 0 RTP/AVP 0"),
            200,
            "OK",
            Status.PASS,
            "rejected the plain RTP stream (port 0",
        ),
        (None, 415, "Unsupported Media Type", Status.FAIL, "415 Unsupported Media Type"),
        (None, 404, "Not Found", Status.FAIL, "the call failed with 404 Not Found"),
        (answer(SAVP, C80), 200, "OK", Status.FAIL, "changed the profile of a plain RTP offer"),
        (b"garbage", 200, "OK", Status.FAIL, "malformed"),
    ],
)
def test_rtp_probe(
    body: bytes | None, status: int, reason: str, expected: Status, words: str
) -> None:
    finding = judge("rtp", body, source="200 OK" if body else None, status=status, reason=reason)
    assert finding.status is expected
    assert words in finding.summary


def test_unknown_offer_kind_is_an_error_not_an_exception() -> None:
    finding = check_srtp(
        label=LABEL,
        offer=offer("sdes"),
        offer_kind="zrtp",
        answer=None,
        answer_source=None,
        final_status=None,
        final_reason=None,
    )
    assert finding.status is Status.ERROR


@pytest.mark.parametrize(
    ("transport", "keys_sent", "status", "words"),
    [
        ("tls", True, Status.PASS, "SDES keys travelled over TLS"),
        ("TLS", True, Status.PASS, "over TLS"),
        ("udp", True, Status.FAIL, "SDES keys were sent in cleartext over UDP"),
        ("tcp", True, Status.FAIL, "cleartext over TCP"),
        ("udp", False, Status.SKIP, "the SDES offer was not sent"),
        ("tcp", False, Status.SKIP, "would have travelled in cleartext over TCP"),
        ("tls", False, Status.SKIP, "the SDES offer was not sent"),
    ],
)
def test_sdes_transport(transport: str, keys_sent: bool, status: Status, words: str) -> None:
    finding = check_sdes_transport(
        label=LABEL, transport=transport, offer_kind="sdes", keys_sent=keys_sent
    )
    assert finding is not None
    assert finding.check == CheckId.SDP_SDES_TRANSPORT
    assert str(finding.check) == "sdp.sdes_transport"
    assert finding.status is status
    assert words in finding.summary
    assert "RFC 4568 §8.3" in finding.summary


@pytest.mark.parametrize("kind", ["dtls", "rtp"])
def test_sdes_transport_ignores_other_offers(kind: str) -> None:
    assert (
        check_sdes_transport(label=LABEL, transport="udp", offer_kind=kind, keys_sent=True) is None
    )


def test_options_sdp_summarises_capabilities_without_failing() -> None:
    finding = check_options_sdp(label=LABEL, body=TEAMS_OFFER, content_type="application/sdp")
    assert finding is not None
    assert finding.check == CheckId.SDP_SRTP
    assert finding.status is Status.SKIP
    assert "audio RTP/SAVP (AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80)" in finding.summary
    assert finding.details["media"] == [
        {
            "media": "audio",
            "proto": "RTP/SAVP",
            "formats": [
                "111",
                "103",
                "104",
                "9",
                "0",
                "8",
                "106",
                "13",
                "110",
                "112",
                "113",
                "126",
            ],
            "suites": ["AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80"],
            "fingerprint_hashes": [],
        }
    ]
    assert KEY30 not in repr(finding.to_dict())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/sdp"),
        (b"", None),
        (b"<xml/>", "application/xml"),
        (b"hello", None),
    ],
)
def test_options_sdp_none_without_sdp(body: bytes, content_type: str | None) -> None:
    assert check_options_sdp(label=LABEL, body=body, content_type=content_type) is None


def test_options_sdp_malformed_is_still_a_skip() -> None:
    finding = check_options_sdp(
        label=LABEL, body=b"v=0\r\nbroken\r\n", content_type="Application/SDP; charset=utf-8"
    )
    assert finding is not None
    assert finding.status is Status.SKIP
    assert "does not parse: line 2:" in finding.summary


def test_options_sdp_without_content_type_but_sdp_body() -> None:
    body = answer("m=audio 30000 RTP/AVP 0")
    finding = check_options_sdp(label=LABEL, body=body, content_type=None)
    assert finding is not None
    assert "audio RTP/AVP" in finding.summary


def judge_suites(suites: tuple[str, ...], body: bytes) -> Finding:
    """`sdp.srtp` on `body`, answering an SDES offer of `suites` (tags 1, 2, ...)."""
    return check_srtp(
        label=LABEL,
        offer=build_offer(
            "sdes",
            address="192.0.2.10",
            port=40000,
            session_id=1,
            suites=suites,
            random_bytes=random_bytes,
        ),
        offer_kind="sdes",
        answer=body,
        answer_source="200 OK",
        final_status=200,
        final_reason="OK",
    )


def test_an_f8_answer_warns_and_says_why() -> None:
    finding = judge_suites(
        ("F8_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"),
        answer(SAVP, f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY30}"),
    )
    assert finding.status is Status.WARN
    assert finding.summary.startswith("SRTP negotiated: F8_128_HMAC_SHA1_80 (tag 1)")
    assert "f8-mode (RFC 3711 §4.1.2)" in finding.summary
    assert finding.details["weak_suite"] == "f8"


def test_f8_and_unencrypted_srtcp_are_both_named() -> None:
    finding = judge_suites(
        ("F8_128_HMAC_SHA1_80",),
        answer(SAVP, f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY30} UNENCRYPTED_SRTCP"),
    )
    assert finding.status is Status.WARN
    assert "f8-mode" in finding.summary
    assert "RTCP stays unencrypted" in finding.summary


@pytest.mark.parametrize(
    "suite", ["NULL_HMAC_SHA1_80", "AES_CM_128_NULL_AUTH", "SRTP_NULL_HMAC_SHA1_32"]
)
def test_a_null_suite_answer_fails_first(suite: str) -> None:
    """Unregistered for SDES, so never offered: the answer fails as NULL, not merely as
    a suite that was not offered."""
    finding = judge("sdes", answer(SAVP, f"a=crypto:1 {suite} inline:{KEY30}"))
    assert finding.status is Status.FAIL
    assert finding.summary.startswith("the answer picks a NULL suite:")
    assert "RFC 3711 §4.1.3" in finding.summary
    assert finding.details["weak_suite"] == "null"
    assert KEY30 not in repr(finding.to_dict())


@pytest.mark.parametrize(
    ("suite", "key"),
    [
        ("AES_CM_128_HMAC_SHA1_80", KEY30),
        ("AES_256_CM_HMAC_SHA1_80", KEY46),
        ("AEAD_AES_128_GCM", KEY28),
    ],
)
def test_strong_suites_are_not_weak(suite: str, key: str) -> None:
    finding = judge_suites((suite,), answer(SAVP, f"a=crypto:1 {suite} inline:{key}"))
    assert finding.status is Status.PASS, finding.summary
    assert finding.details["weak_suite"] is None


def test_options_sdp_names_weak_suites_but_still_skips() -> None:
    body = answer(
        SAVP,
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}",
        f"a=crypto:2 F8_128_HMAC_SHA1_80 inline:{KEY30_B}",
        f"a=crypto:3 NULL_HMAC_SHA1_80 inline:{KEY30}",
    )
    finding = check_options_sdp(label=LABEL, body=body, content_type="application/sdp")
    assert finding is not None
    assert finding.status is Status.SKIP
    assert "weak suites among them: F8_128_HMAC_SHA1_80, NULL_HMAC_SHA1_80" in finding.summary
    assert finding.details["weak_suites"] == ["F8_128_HMAC_SHA1_80", "NULL_HMAC_SHA1_80"]
