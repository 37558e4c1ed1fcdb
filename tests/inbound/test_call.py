"""How a received call went (`inbound.media`, `inbound.teardown`, `stir.*` owed), whether
the expected calls came at all (`inbound.calls`), and what each call owes its PASS."""

from __future__ import annotations

import dataclasses

import pytest

from probe.evidence.inbound import InboundCall, InboundConnection
from probe.evidence.model import MediaEvidence
from probe.stir.verify import StirPolicy, judge_identity, read_identity
from probe.verdict.checks import registry
from probe.verdict.checks.inbound import judge_inbound
from probe.verdict.checks.stir import STIR_CHECKS
from probe.verdict.checks.unit import CallJudging, InboundCheck
from probe.verdict.findings import CheckId, Finding, Status, TargetResult, Verdict
from tests.inbound import kit


def judged(call: InboundCall, **expected: object) -> TargetResult:
    evidence = kit.evidence(call, expectation=kit.expectation(**expected))
    _trunk, (result,) = judge_inbound(evidence, kit.policy())
    return result


def finding(result: TargetResult, check: str) -> Finding:
    (found,) = [f for f in result.findings if f.check == check]
    return found


# --- inbound.media ---------------------------------------------------------------------


def test_media_asked_for_and_not_checked_is_incomplete_never_a_pass() -> None:
    call = kit.good_call(media=None, media_skipped="pylibsrtp is not installed ([srtp] extra)")
    result = judged(call)
    media = finding(result, CheckId.INBOUND_MEDIA)
    assert media.status is Status.INCOMPLETE
    assert "pylibsrtp is not installed" in media.summary
    assert result.verdict is Verdict.INCOMPLETE


def test_media_asked_for_and_nothing_recorded_is_incomplete() -> None:
    result = judged(kit.good_call(media=None))
    assert finding(result, CheckId.INBOUND_MEDIA).status is Status.INCOMPLETE
    assert result.verdict is Verdict.INCOMPLETE


def test_media_on_a_call_that_was_not_answered_is_incomplete() -> None:
    call = kit.good_call(media=None, final_status=488, teardown="refused", acked=False)
    media = finding(judged(call), CheckId.INBOUND_MEDIA)
    assert media.status is Status.INCOMPLETE
    assert "not answered (488)" in media.summary


def test_packets_that_do_not_authenticate_fail() -> None:
    media = MediaEvidence("AES_CM_128_HMAC_SHA1_80", 50, 50, 0, "192.0.2.7:40000")
    found = finding(judged(kit.good_call(media=media)), CheckId.INBOUND_MEDIA)
    assert found.status is Status.FAIL
    assert "none authenticated with the offered key" in found.summary


def test_no_packets_at_all_fail() -> None:
    media = MediaEvidence("AES_CM_128_HMAC_SHA1_80", 50, 0, 0, "192.0.2.7:40000")
    found = finding(judged(kit.good_call(media=media)), CheckId.INBOUND_MEDIA)
    assert found.status is Status.FAIL
    assert "no media arrived from the far end" in found.summary


def test_media_not_asked_for_is_neither_judged_nor_owed() -> None:
    result = judged(kit.good_call(media=None), verify_media=False)
    assert CheckId.INBOUND_MEDIA not in {f.check for f in result.findings}
    assert CheckId.INBOUND_MEDIA not in result.required
    assert result.verdict is Verdict.PASS


# --- inbound.teardown ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, Status.PASS, "the caller ended the call with BYE; dialogs left open: 0"),
        ({"teardown": "our_bye", "bye_status": 200}, Status.PASS, "we ended the call with BYE"),
        ({"teardown": "our_bye", "bye_status": 481}, Status.WARN, "our BYE got 481"),
        ({"teardown": "our_bye"}, Status.WARN, "our BYE got no final response"),
        ({"dialogs_left_open": 1}, Status.FAIL, "dialogs left open: 1"),
        ({"teardown": "no_ack", "acked": False}, Status.FAIL, "RFC 3261 §13.3.1.4"),
        ({"teardown": "connection_lost"}, Status.FAIL, "closed under it"),
        (
            {"teardown": "failed", "teardown_detail": "BYE timed out"},
            Status.FAIL,
            "(BYE timed out)",
        ),
        (
            {"teardown": "interrupted", "interrupted": True, "bye_status": 200},
            Status.INCOMPLETE,
            "the run was stopped with the call up: we ended it with BYE",
        ),
        (
            {"teardown": "interrupted", "interrupted": True, "final_status": 486, "acked": False},
            Status.INCOMPLETE,
            "the run was stopped before the call was answered: we refused it with 486",
        ),
        (
            {"teardown": "caller_cancel", "final_status": 487, "acked": False},
            Status.PASS,
            "the caller cancelled",
        ),
    ],
    ids=[
        "caller bye",
        "our bye",
        "our bye refused",
        "our bye unanswered",
        "dialog left open",
        "no ack",
        "connection lost",
        "failed",
        "interrupted",
        "interrupted before the answer",
        "cancelled",
    ],
)
def test_how_the_call_ended(changes: dict[str, object], status: Status, words: str) -> None:
    teardown = finding(judged(kit.good_call(**changes), verify_media=False), "inbound.teardown")
    assert teardown.status is status, teardown.summary
    assert words in teardown.summary


def test_a_refused_call_names_our_status_and_why() -> None:
    call = kit.good_call(
        final_status=488,
        refusal="plain RTP offered; this trunk requires SRTP",
        teardown="refused",
        acked=False,
        media=None,
    )
    result = judged(call, verify_media=False)
    teardown = finding(result, CheckId.INBOUND_TEARDOWN)
    assert teardown.status is Status.PASS
    assert "we refused the call with 488: plain RTP offered" in teardown.summary
    assert finding(result, CheckId.INBOUND_INVITE).details["final_status"] == 488


def test_an_interrupted_call_makes_the_call_incomplete() -> None:
    call = kit.good_call(teardown="interrupted", interrupted=True, bye_status=200)
    assert judged(call, verify_media=False).verdict is Verdict.INCOMPLETE


# --- stir.* ----------------------------------------------------------------------------


def test_identity_asked_for_and_not_verified_is_incomplete() -> None:
    result = judged(kit.good_call(), verify_identity=True)
    identity = finding(result, CheckId.STIR_IDENTITY)
    assert identity.status is Status.INCOMPLETE
    assert set(STIR_CHECKS) <= set(result.required)
    assert set(result.missing) == set(STIR_CHECKS)
    assert result.verdict is Verdict.INCOMPLETE


@pytest.mark.parametrize("required", [True, False])
def test_a_call_without_identity_fails_when_required_and_passes_when_optional(
    required: bool,
) -> None:
    fields = [("From", "<sip:+15550123@example.test>"), ("To", "<sip:+15550100@example.test>")]
    stir = judge_identity(read_identity(fields), {}, StirPolicy(required=required), now=0.0)
    result = judged(kit.good_call(stir=stir), verify_identity=True)
    identity = finding(result, CheckId.STIR_IDENTITY)
    assert identity.details["cause"] == "identity_missing"
    if required:
        assert identity.status is Status.FAIL
        assert result.verdict is Verdict.FAIL
        assert set(STIR_CHECKS) <= set(result.required)
    else:
        # Verified, with nothing to verify: reported, owed nothing, never incomplete.
        assert identity.status is Status.SKIP
        assert result.missing == ()
        assert result.verdict is Verdict.PASS


def test_identity_not_asked_for_owes_nothing() -> None:
    result = judged(kit.good_call())
    assert not {f.check for f in result.findings} & set(STIR_CHECKS)
    assert not set(result.required) & set(STIR_CHECKS)


# --- inbound.calls ---------------------------------------------------------------------


def trunk(**changes: object) -> Finding:
    (calls,), _results = judge_inbound(kit.evidence(**changes), kit.policy())
    assert calls.check == CheckId.INBOUND_CALLS
    assert calls.target == "trunk"
    return calls


def test_the_expected_calls_arrived() -> None:
    calls = trunk()
    assert calls.status is Status.PASS
    assert calls.summary == "1 of 1 expected call arrived after 1.5 s"
    assert calls.details["calls"] == ["inbound call 1 from 192.0.2.7:5061/tls"]


def test_fewer_calls_than_expected_fail_naming_the_failed_handshakes() -> None:
    calls = trunk(
        expectation=kit.expectation(calls=3),
        connections=(kit.failed_handshake(), kit.failed_handshake("192.0.2.9:40100")),
    )
    assert calls.status is Status.FAIL
    assert calls.summary.startswith("only 1 of 3 expected calls arrived within 60 s")
    assert "2 connections failed the TLS handshake" in calls.summary
    assert "after we asked for a client certificate: tlsv1 alert unknown ca" in calls.summary
    assert calls.details["failed_handshakes"] == 2


def test_a_refused_client_certificate_is_named_by_its_subject_and_issuer() -> None:
    refused = kit.failed_handshake()
    assert refused.tls is not None
    presented = dataclasses.replace(refused.tls, client_chain=kit.client_chain())
    calls = trunk(calls=(), connections=(dataclasses.replace(refused, tls=presented),))
    assert calls.status is Status.FAIL
    assert "; it presented sbc.example.test (issuer CN=" in calls.summary
    assert calls.summary.endswith(": tlsv1 alert unknown ca)")
    [connection] = calls.details["connections"]
    chain = connection["client_chain"]
    assert len(chain) == 2
    assert chain[0]["subject"].startswith("CN=sbc.example.test")


def test_no_call_and_no_connection_says_where_we_listened() -> None:
    calls = trunk(calls=(), waited_ms=60000.0)
    assert calls.status is Status.FAIL
    assert "nothing connected to 198.51.100.20:5061/tls" in calls.summary


def test_connections_that_carried_no_call_are_named() -> None:
    pinger = InboundConnection(
        "tls", "192.0.2.7:40200", 10.0, tls=kit.session(), requests=("OPTIONS",)
    )
    calls = trunk(calls=(), connections=(pinger,))
    assert calls.status is Status.FAIL
    assert "1 connection carried no call (sent OPTIONS)" in calls.summary


def test_a_failed_handshake_beside_the_expected_calls_warns() -> None:
    calls = trunk(connections=(kit.failed_handshake(),))
    assert calls.status is Status.WARN
    assert "1 connection failed the TLS handshake" in calls.summary


@pytest.mark.parametrize(
    ("stopped", "words"),
    [("interrupted", "the run was interrupted after 2.5 s"), ("max_time", "--max-time")],
)
def test_a_run_cut_short_is_incomplete(stopped: str, words: str) -> None:
    calls = trunk(stopped=stopped, calls=())
    assert calls.status is Status.INCOMPLETE
    assert words in calls.summary
    assert "0 of 1 expected call arrived" in calls.summary


def test_calls_over_one_connection_read_apart() -> None:
    _trunk, results = judge_inbound(
        kit.evidence(kit.good_call(1), kit.good_call(2), expectation=kit.expectation(calls=2)),
        kit.policy(),
    )
    labels = [result.target.label for result in results]
    assert labels == [
        "inbound call 1 from 192.0.2.7:5061/tls",
        "inbound call 2 from 192.0.2.7:5061/tls",
    ]
    assert results[0].target != results[1].target
    assert {f.target for f in results[1].findings} == {labels[1]}


def test_an_ipv6_caller_is_bracketed() -> None:
    result = judged(kit.good_call(peer="[2001:db8::7]:5061"))
    assert result.target.label == "inbound call 1 from [2001:db8::7]:5061/tls"
    assert result.target.address == "2001:db8::7"
    assert result.target.port == 5061


# --- what a call owes ------------------------------------------------------------------


def test_findings_come_in_the_order_the_call_happened() -> None:
    result = judged(kit.good_call())
    assert [f.check for f in result.findings] == [
        CheckId.INBOUND_TLS,
        CheckId.INBOUND_CLIENT_CERT,
        CheckId.INBOUND_INVITE,
        CheckId.INBOUND_OFFER,
        CheckId.INBOUND_MEDIA,
        CheckId.INBOUND_TEARDOWN,
    ]


def test_a_new_call_unit_is_judged_by_adding_it_to_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def judge(judging: CallJudging) -> list[Finding]:
        return [Finding("inbound.example", Status.WARN, judging.label, "added in one place")]

    example = InboundCheck(
        ids=("inbound.example",),
        reads=("invite",),
        judge=judge,
        owes=lambda _judging: ("inbound.example",),
    )
    known = registry.inbound_checks()
    monkeypatch.setattr(registry, "inbound_checks", lambda: (*known, example))
    result = judged(kit.good_call())
    assert result.findings[-1].check == "inbound.example"
    assert result.required[-1] == "inbound.example"
    assert result.verdict is Verdict.WARN


def test_a_check_owed_and_never_concluded_keeps_the_call_from_passing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silent = InboundCheck(
        ids=("inbound.example",),
        reads=("invite",),
        judge=lambda _judging: [],
        owes=lambda _judging: ("inbound.example",),
    )
    known = registry.inbound_checks()
    monkeypatch.setattr(registry, "inbound_checks", lambda: (*known, silent))
    result = judged(kit.good_call())
    assert result.missing == ("inbound.example",)
    assert result.verdict is Verdict.INCOMPLETE


def test_judging_is_the_same_twice() -> None:
    evidence = kit.evidence(kit.good_call(), connections=(kit.failed_handshake(),))
    assert judge_inbound(evidence, kit.policy()) == judge_inbound(evidence, kit.policy())
