"""`inbound.invite` and `inbound.offer`: who the INVITE says is calling and where it says
to send what follows, and the media it offers. Keys never reach a finding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.evidence.model import WireEvent
from probe.verdict.checks.inbound import judge_inbound
from probe.verdict.checks.policy import InboundPolicy
from probe.verdict.findings import CheckId, Finding, Status, TargetResult, Verdict
from tests.inbound import kit


def judged(invite: bytes, policy: InboundPolicy | None = None, **changes: object) -> TargetResult:
    call = kit.good_call(invite=invite, **changes)
    _trunk, (result,) = judge_inbound(kit.evidence(call), policy or kit.policy())
    return result


def finding(result: TargetResult, check: str) -> Finding:
    (found,) = [f for f in result.findings if f.check == check]
    return found


def no_secret_in(result: TargetResult) -> None:
    text = json.dumps([f.to_dict() for f in result.findings])
    for secret in kit.SECRETS:
        assert secret not in text


def test_the_invite_s_parties_and_hosts_are_reported() -> None:
    identity = "Identity: eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://cert.example.test/a.pem>"
    result = judged(kit.invite(headers=(identity,)))
    invite = finding(result, CheckId.INBOUND_INVITE)
    assert invite.status is Status.PASS, invite.summary
    assert invite.details["from"] == "sip:+15550123@sbc.example.test"
    assert invite.details["p_asserted_identity"] == ["sip:+15550123@sbc.example.test;user=phone"]
    assert invite.details["identity_fields"] == 1
    assert invite.details["via_hosts"] == ["sbc.example.test"]
    assert invite.details["contact_host"] == "sbc.example.test"
    assert "1 Identity header field" in invite.summary
    assert invite.details["request_uri"].startswith("sip:+15550100@probe.example.test")
    assert result.target.uri == invite.details["request_uri"]
    # The whole exchange is there to read, its keys redacted.
    messages = "".join(item["message"] for item in invite.details["exchange"])
    assert "inline:<redacted>" in messages
    no_secret_in(result)


def test_a_contact_host_that_is_no_expected_peer_warns() -> None:
    result = judged(kit.invite(contact="<sip:+15550123@other.example.test:5061;transport=tls>"))
    invite = finding(result, CheckId.INBOUND_INVITE)
    assert invite.status is Status.WARN
    assert "the Contact host other.example.test is none of the expected peer names" in (
        invite.summary
    )
    assert result.verdict is Verdict.WARN


def test_a_private_contact_from_a_public_peer_warns() -> None:
    result = judged(kit.invite(contact="<sip:+15550123@10.0.0.5:5061;transport=tls>"))
    invite = finding(result, CheckId.INBOUND_INVITE)
    assert invite.status is Status.WARN
    assert any("private address 10.0.0.5" in text for text in invite.details["cautions"])


def test_a_private_contact_from_a_private_peer_is_normal() -> None:
    lab_call = kit.invite(via_host="127.0.0.1", contact="<sip:+15550123@127.0.0.1:5061>")
    policy = kit.policy(expect_peer=())
    invite = finding(judged(lab_call, policy, peer="127.0.0.1:40000"), CheckId.INBOUND_INVITE)
    assert invite.status is Status.PASS, invite.summary


def test_an_invite_without_contact_fails() -> None:
    invite = finding(judged(kit.invite(contact=None)), CheckId.INBOUND_INVITE)
    assert invite.status is Status.FAIL
    assert "no Contact" in invite.summary
    assert "RFC 3261 §8.1.1.8" in invite.summary


def test_an_unreadable_invite_fails_the_invite_and_is_not_judged_further() -> None:
    result = judged(b"INVITE nonsense\r\n\r\n")
    assert finding(result, CheckId.INBOUND_INVITE).status is Status.FAIL
    assert "cannot be read" in finding(result, CheckId.INBOUND_INVITE).summary
    assert finding(result, CheckId.INBOUND_OFFER).status is Status.FAIL
    assert result.target.uri == ""
    assert result.verdict is Verdict.FAIL


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (kit.offer(), Status.PASS, "SRTP offered with SDES: AES_CM_128_HMAC_SHA1_80"),
        (kit.offer("RTP/AVP", ()), Status.FAIL, "offers plain RTP/AVP"),
        (
            kit.offer("RTP/SAVP", (f"a=crypto:1 NULL_HMAC_SHA1_80 inline:{kit.OFFER_KEY}",)),
            Status.FAIL,
            "every offered suite leaves the media unprotected",
        ),
        (
            kit.offer(
                "RTP/SAVP",
                (
                    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{kit.OFFER_KEY}",
                    f"a=crypto:2 AES_CM_128_NULL_AUTH inline:{kit.OFFER_KEY_32}",
                ),
            ),
            Status.WARN,
            "also offers AES_CM_128_NULL_AUTH",
        ),
        (
            kit.offer(
                "RTP/SAVP",
                (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{kit.OFFER_KEY} UNENCRYPTED_SRTP",),
            ),
            Status.FAIL,
            "UNENCRYPTED_SRTP",
        ),
        (
            kit.offer("RTP/SAVP", (f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{kit.OFFER_KEY}",)),
            Status.WARN,
            "f8-mode",
        ),
        (
            kit.offer("RTP/AVP"),
            Status.WARN,
            "offered as an option on RTP/AVP (best effort)",
        ),
        (kit.offer("RTP/SAVP", ()), Status.FAIL, "neither a=crypto nor a=fingerprint"),
        (
            kit.offer("UDP/TLS/RTP/SAVP", (), (kit.FINGERPRINT, "a=setup:actpass")),
            Status.PASS,
            "DTLS-SRTP offered: UDP/TLS/RTP/SAVP, sha-256 fingerprint",
        ),
        (
            kit.offer("UDP/TLS/RTP/SAVP", (), (kit.FINGERPRINT, "a=setup:active")),
            Status.WARN,
            "a=setup:active where RFC 5763 §5 has the offerer say actpass",
        ),
        (
            kit.offer("UDP/TLS/RTP/SAVP", (), ("a=setup:actpass",)),
            Status.FAIL,
            "no a=fingerprint",
        ),
        (kit.offer(port=0), Status.FAIL, "disables its audio stream"),
        (
            kit.offer("RTP/SAVP", ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",)),
            Status.FAIL,
            "malformed",
        ),
    ],
    ids=[
        "sdes",
        "plain rtp",
        "null only",
        "null among others",
        "unencrypted srtp",
        "f8",
        "best effort",
        "savp without key",
        "dtls",
        "dtls setup active",
        "dtls without fingerprint",
        "port 0",
        "short key",
    ],
)
def test_the_offer_is_judged_for_what_it_protects(body: bytes, status: Status, words: str) -> None:
    result = judged(kit.invite(body))
    offer = finding(result, CheckId.INBOUND_OFFER)
    assert offer.status is status, offer.summary
    assert words in offer.summary
    no_secret_in(result)


def test_plain_rtp_passes_where_srtp_is_not_required() -> None:
    policy = kit.policy(require_srtp=False)
    offer = finding(judged(kit.invite(kit.offer("RTP/AVP", ())), policy), CheckId.INBOUND_OFFER)
    assert offer.status is Status.PASS
    assert "SRTP not required" in offer.summary


def test_sdes_keys_over_a_cleartext_hop_fail_whatever_the_policy() -> None:
    policy = kit.policy(require_tls=False, require_srtp=False, require_client_cert=False)
    result = judged(kit.invite(), policy, transport="tcp", tls=None)
    offer = finding(result, CheckId.INBOUND_OFFER)
    assert offer.status is Status.FAIL
    assert "SDES keys" in offer.summary
    assert "in cleartext over TCP" in offer.summary
    assert "RFC 4568 §8.3" in offer.summary
    no_secret_in(result)


def test_an_offer_in_the_ack_is_judged_when_the_invite_had_none() -> None:
    late = kit.good_call(invite=kit.invite(b""))
    ack = WireEvent(30.0, "received", kit.request("ACK", kit.offer()))
    call = kit.good_call(invite=late.invite, events=(*late.events[:3], ack))
    _trunk, (result,) = judge_inbound(kit.evidence(call), kit.policy())
    offer = finding(result, CheckId.INBOUND_OFFER)
    assert offer.status is Status.PASS
    assert offer.details["offer_in"] == "ACK"
    assert "answer in the ACK" in offer.summary


def test_a_call_without_any_sdp_fails_when_srtp_is_required() -> None:
    offer = finding(judged(kit.invite(b"")), CheckId.INBOUND_OFFER)
    assert offer.status is Status.FAIL
    assert "sent no SDP" in offer.summary


def test_a_call_that_ended_before_the_ack_could_answer_is_incomplete() -> None:
    result = judged(kit.invite(b""), acked=False, teardown="caller_cancel", final_status=None)
    assert finding(result, CheckId.INBOUND_OFFER).status is Status.INCOMPLETE


def test_our_answer_is_named_by_suite_never_by_key() -> None:
    result = judged(kit.invite())
    offer = finding(result, CheckId.INBOUND_OFFER)
    assert offer.details["answered"] == {"proto": "RTP/SAVP", "suites": ["AES_CM_128_HMAC_SHA1_80"]}
    crypto = offer.details["media"][0]["crypto"]
    assert [(line["tag"], line["suite"], line["key_bytes"]) for line in crypto] == [
        (1, "AES_CM_128_HMAC_SHA1_80", 30),
        (2, "AES_CM_128_HMAC_SHA1_32", 30),
    ]
    no_secret_in(result)


@settings(max_examples=150, deadline=None)
@given(
    invite=st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda body: kit.invite(body),
            st.binary(max_size=300).map(lambda noise: kit.offer() + noise),
        ),
    ),
    answer=st.one_of(st.none(), st.binary(max_size=200)),
)
def test_whatever_the_caller_sent_the_call_is_judged_never_raised(
    invite: bytes, answer: bytes | None
) -> None:
    result = judged(invite, answer=answer)
    checks = {f.check for f in result.findings}
    assert {CheckId.INBOUND_INVITE, CheckId.INBOUND_OFFER, CheckId.INBOUND_TEARDOWN} <= checks
    no_secret_in(result)
