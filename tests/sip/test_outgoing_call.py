"""The call's own state machine (probe.sip.outgoing_call) with a fake clock and a fake far
end: CANCEL only after a provisional and never after a final response (RFC 3261 §9.1), the
ACK for a 2xx (§13.2.2.4), BYE (§15.1.1), credentials once (§22.2), and the clean-up."""

from __future__ import annotations

import pytest

from probe.sip import (
    DigestCredentials,
    Response,
    build_ack_non2xx,
    build_response,
    parse_message,
)
from probe.sip.outgoing_call import (
    CALL_TRANSITIONS,
    INVITE_TIMER,
    CallState,
    CheckMedia,
    Send,
)

from .call_harness import CHALLENGE, CONTACT, EARLY_SDP, Harness

PROXY_CHALLENGE = (
    "Proxy-Authenticate",
    'Digest realm="sipprobe.test", nonce="p1", algorithm=SHA-512-256, qop="auth"',
)

State = CallState


def test_answered_call_is_acked_then_ended_with_bye() -> None:
    h = Harness.start()
    assert h.methods() == ["INVITE"]
    assert [d.phase for d in h.call.deadlines()] == ["first_byte", "answer", INVITE_TIMER]
    h.respond(100, "Trying")
    assert h.call.state is State.RINGING
    assert [d.phase for d in h.call.deadlines()] == ["answer"]  # the first byte came
    ok = h.invite_response(200, "OK")
    h.feed(ok)
    assert h.methods() == ["INVITE", "ACK", "BYE"]
    ack, bye = h.last("ACK"), h.last("BYE")
    # §13.2.2.4: the 2xx ACK is a transaction of its own, with the INVITE's CSeq number.
    assert ack.top_via.branch != h.call.invite.top_via.branch
    assert ack.cseq.number == h.call.invite.cseq.number
    assert str(ack.uri) == "sip:uas@192.0.2.20;transport=tls"  # the Contact (§12.1.2)
    assert bye.cseq.number == h.call.invite.cseq.number + 1
    assert h.call.state is State.HANGING_UP
    assert [d.phase for d in h.call.deadlines()] == ["transaction"]
    h.feed(h.answer(bye, 200, "OK"))
    assert h.call.state is State.ENDED
    assert h.call.outcome == ("bye", "ACK sent; BYE answered 200 OK")
    assert h.call.bye_done
    assert h.call.dialogs_left_open == 0
    assert h.call.deadlines() == ()


def test_retransmitted_2xx_gets_the_same_ack_again() -> None:
    h = Harness.start()
    ok = h.invite_response(200, "OK")
    h.feed(ok)
    first_ack = h.last("ACK")
    again = h.feed(ok)
    assert again == [Send(first_ack, "ACK for a retransmitted 2xx")]
    assert h.methods() == ["INVITE", "ACK", "BYE", "ACK"]


def test_rejection_is_acked_by_the_transaction_on_the_invite_branch() -> None:
    h = Harness.start()
    h.respond(180, "Ringing")
    busy = h.invite_response(486, "Busy Here")
    actions = h.feed(busy)
    assert actions == [Send(build_ack_non2xx(h.call.invite, busy), "ACK for 486")]
    assert h.call.outcome == ("rejected", "rejected with 486 Busy Here (ACKed)")
    assert h.call.state is State.ENDED
    assert h.call.final is busy
    assert h.call.deadlines() == ()


def test_silence_ends_without_cancel_since_nothing_can_be_cancelled() -> None:
    h = Harness.start(first_byte=1.0)
    assert h.expire() == "first_byte"
    assert h.methods() == ["INVITE"]
    assert h.call.expired == "first_byte"
    assert h.call.outcome is not None
    assert h.call.outcome[0] == "no_answer"
    assert "nothing to CANCEL (RFC 3261 §9.1)" in (h.call.outcome[1] or "")


def test_ring_time_out_cancels_and_the_487_ends_the_call() -> None:
    h = Harness.start(answer_timeout=3.0)
    h.respond(180, "Ringing")
    assert h.expire() == "answer"
    assert h.methods() == ["INVITE", "CANCEL"]
    assert h.call.state is State.CANCELLING
    assert h.call.expired == "answer"
    cancel = h.last("CANCEL")
    assert cancel.top_via.branch == h.call.invite.top_via.branch  # §9.1
    h.feed(h.answer(cancel, 200, "OK"))  # the CANCEL's own answer: no stray
    h.respond(487, "Request Terminated")
    assert h.methods() == ["INVITE", "CANCEL", "ACK"]
    assert h.call.outcome == ("cancel", "CANCEL answered; 487 Request Terminated ACKed")
    assert h.call.faults == []


def test_an_unanswered_cancel_fails_the_teardown_and_is_not_waited_for_again() -> None:
    h = Harness.start(answer_timeout=3.0, transaction=2.0)
    h.respond(100, "Trying")
    h.expire()
    assert h.expire() == "transaction"
    assert h.call.outcome == ("failed", "CANCEL sent but transaction passed")
    assert h.call.cancel_unanswered
    assert h.call.expired == "transaction"
    assert h.take(h.call.hang_up(h.now, grace=1.0, interrupted=False)) == []
    assert h.call.deadlines() == ()


def test_a_2xx_that_races_the_cancel_is_acked_and_byed() -> None:
    h = Harness.start(hangup="immediately")
    h.respond(100, "Trying")
    assert h.methods() == ["INVITE", "CANCEL"]
    h.respond(200, "OK")
    assert h.methods() == ["INVITE", "CANCEL", "ACK", "BYE"]
    h.feed(h.answer(h.last("BYE"), 200, "OK"))
    assert h.call.outcome == ("bye", "a 2xx raced our CANCEL: ACK sent; BYE answered 200 OK")


def test_early_media_hang_up_waits_for_an_sdp_in_a_provisional() -> None:
    h = Harness.start(hangup="on-early-media")
    h.respond(180, "Ringing")
    assert h.methods() == ["INVITE"]  # no SDP yet
    h.respond(183, "Session Progress", body=EARLY_SDP, content_type="application/sdp")
    assert h.methods() == ["INVITE", "CANCEL"]
    assert h.call.early_answer == (EARLY_SDP, "183 Session Progress")
    assert h.call.provisional == [180, 183]


def test_a_second_provisional_never_sends_a_second_cancel() -> None:
    h = Harness.start(hangup="immediately")
    h.respond(100, "Trying")
    h.respond(180, "Ringing")
    h.respond(183, "Session Progress")
    assert h.methods().count("CANCEL") == 1


def test_a_challenge_is_answered_once_on_a_new_transaction() -> None:
    h = Harness.start(credentials=DigestCredentials("alice", "s3cret"))
    first = h.call.invite
    h.respond(100, "Trying")
    h.respond(401, "Unauthorized", extra_headers=(CHALLENGE,))
    assert h.methods() == ["INVITE", "ACK", "INVITE"]
    second = h.call.invite
    assert h.last("ACK").top_via.branch == first.top_via.branch
    assert second.cseq.number == first.cseq.number + 1
    assert second.top_via.branch != first.top_via.branch
    assert second.headers.get("Authorization") is not None
    # Sent with credentials, not yet answered: nothing is authenticated until a final
    # response answers this INVITE.
    assert not h.call.authenticated
    assert h.call.challenge_answered is not None
    assert h.call.challenge_answered.algorithm == "MD5"
    assert h.call.provisional == []
    assert h.call.state is State.CALLING
    assert [d.phase for d in h.call.deadlines()][:2] == ["first_byte", "answer"]
    # A response to the first INVITE is now a stray; a second challenge is final.
    h.feed(build_response(first, 180, "Ringing", to_tag="uas"))
    assert len(h.call.faults) == 1
    assert "stray 180" in h.call.faults[0]
    h.respond(401, "Unauthorized", extra_headers=(CHALLENGE,))
    assert h.methods() == ["INVITE", "ACK", "INVITE", "ACK"]
    assert h.call.outcome == ("rejected", "rejected with 401 Unauthorized (ACKed)")
    assert h.call.authenticated  # sent and answered: refused, but answered
    assert h.call.challenge is not None
    assert h.call.challenge.status_code == 401


def test_an_answered_invite_with_credentials_is_authenticated() -> None:
    h = Harness.start(credentials=DigestCredentials("alice", "s3cret"))
    h.respond(407, "Proxy Authentication Required", extra_headers=(PROXY_CHALLENGE,))
    assert h.methods() == ["INVITE", "ACK", "INVITE"]
    assert h.call.invite.headers.get("Proxy-Authorization") is not None
    h.respond(180, "Ringing")
    assert not h.call.authenticated  # a provisional answers no credentials yet
    h.respond(200, "OK", extra_headers=(CONTACT,))
    assert h.call.authenticated
    assert h.call.challenge_problem is None


@pytest.mark.parametrize(
    "challenge",
    [
        'Digest realm="sipprobe.test", nonce="n1", algorithm=AKAv1-MD5',
        'Digest realm="sipprobe.test", nonce="n1", qop="auth-conf"',
        'Basic realm="sipprobe.test"',
    ],
)
def test_a_challenge_sipprobe_cannot_answer_is_never_authenticated(challenge: str) -> None:
    h = Harness.start(credentials=DigestCredentials("alice", "s3cret"))
    h.respond(401, "Unauthorized", extra_headers=(("WWW-Authenticate", challenge),))
    assert h.methods() == ["INVITE", "ACK"]
    assert not h.call.authenticated
    assert h.call.challenge_answered is None
    assert h.call.challenge_problem is not None
    assert "no usable Digest challenge" in h.call.challenge_problem


def test_a_challenge_without_credentials_or_after_cancel_is_the_final_answer() -> None:
    h = Harness.start()
    h.respond(407, "Proxy Authentication Required")
    assert h.methods() == ["INVITE", "ACK"]
    cancelled = Harness.start(hangup="immediately", credentials=DigestCredentials("a", "b"))
    cancelled.respond(100, "Trying")
    cancelled.respond(401, "Unauthorized", extra_headers=(CHALLENGE,))
    assert cancelled.methods() == ["INVITE", "CANCEL", "ACK"]
    assert cancelled.call.outcome is not None
    assert cancelled.call.outcome[0] == "rejected"


def test_a_challenge_that_cannot_be_answered_is_named() -> None:
    h = Harness.start(credentials=DigestCredentials("alice", "s3cret"))
    h.respond(401, "Unauthorized")  # no WWW-Authenticate
    assert h.methods() == ["INVITE", "ACK"]
    assert h.call.outcome is not None
    assert h.call.outcome[1] is not None
    assert h.call.outcome[1].startswith("challenged with 401, which cannot be answered")


def test_a_2xx_without_contact_is_a_fault_and_still_ended() -> None:
    h = Harness.start()
    h.respond(200, "OK", extra_headers=())
    assert h.methods() == ["INVITE", "ACK", "BYE"]
    assert str(h.last("BYE").uri) == str(h.call.invite.uri)  # the fallback target
    assert "no Contact" in h.call.faults[0]


def test_a_2xx_that_cannot_make_a_dialog_counts_as_left_open() -> None:
    h = Harness.start()
    h.respond(200, "OK", extra_headers=(CONTACT, ("Record-Route", "<not a uri")))
    assert h.methods() == ["INVITE"]
    assert h.call.unusable_2xx
    assert h.call.dialogs_left_open == 1
    assert h.call.outcome is not None
    assert h.call.outcome[0] == "failed"
    assert "cannot even be ACKed" in (h.call.error or "")


def test_a_stray_response_is_a_fault_not_an_answer() -> None:
    h = Harness.start()
    wire = h.invite_response(180, "Ringing").to_bytes()
    stray = parse_message(wire.replace(h.call.invite.top_via.branch.encode(), b"z9hG4bKother"))
    assert isinstance(stray, Response)
    h.feed(stray)
    assert h.call.state is State.CALLING
    assert h.call.provisional == []
    assert "ignored a stray 180 Ringing" in h.call.faults[0]


def test_the_far_end_hanging_up_first_ends_the_bye_wait() -> None:
    h = Harness.start()
    h.respond(200, "OK")
    h.take(h.call.remote_hung_up(h.now))
    assert h.call.state is State.ENDED
    assert h.call.bye_done
    assert h.call.outcome == ("bye", "the far end hung up with BYE, answered 200")


def test_no_bye_is_sent_when_the_far_end_already_hung_up() -> None:
    h = Harness.start(verify_media=True)
    h.respond(200, "OK")
    assert h.methods() == ["INVITE", "ACK"]
    assert len(h.media_checks) == 1
    assert h.call.deadlines() == ()  # nothing is read while the media check runs
    h.take(h.call.remote_hung_up(h.now))
    h.take(h.call.media_checked(h.now))
    assert h.methods() == ["INVITE", "ACK"]
    assert h.call.dialogs_left_open == 0


def test_media_is_checked_before_the_bye() -> None:
    h = Harness.start(verify_media=True)
    ok = h.invite_response(200, "OK")
    h.feed(ok)
    assert h.actions[-1] == CheckMedia(ok)
    assert h.call.state is State.ANSWERED
    h.take(h.call.media_checked(h.now))
    assert h.methods() == ["INVITE", "ACK", "BYE"]


@pytest.mark.parametrize(("code", "left_open"), [(401, 1), (481, 0)])
def test_bye_answers(code: int, left_open: int) -> None:
    h = Harness.start()
    h.respond(200, "OK")
    h.feed(h.answer(h.last("BYE"), 100, "Trying"))
    assert h.call.state is State.HANGING_UP
    h.feed(h.answer(h.last("BYE"), code))
    assert h.call.dialogs_left_open == left_open
    assert h.call.bye_answer == f"{code} Status {code}"
    # Nothing more is sent for the dialog, even by a clean-up.
    h.take(h.call.hang_up(h.now, grace=1.0, interrupted=True))
    assert h.methods() == ["INVITE", "ACK", "BYE"]


def test_an_unanswered_bye_ends_the_call_as_sent() -> None:
    h = Harness.start()
    h.respond(200, "OK")
    assert h.expire() == "transaction"
    assert h.call.outcome == ("bye", "ACK and BYE sent; BYE unanswered")
    assert h.call.dialogs_left_open == 1


def test_timer_b_ends_a_calling_transaction_that_outlives_the_deadlines() -> None:
    h = Harness.start(first_byte=100.0, answer_timeout=100.0)
    assert h.expire() == INVITE_TIMER
    assert h.now == 32.0  # 64*T1
    assert h.call.outcome is not None
    assert "Timer B" in (h.call.outcome[1] or "")
    assert h.call.expired == "transaction"


def test_timer_a_retransmits_the_invite_over_udp_only() -> None:
    h = Harness.start("UDP", first_byte=5.0, answer_timeout=30.0)
    assert h.expire() == INVITE_TIMER
    assert h.now == 0.5
    assert h.methods() == ["INVITE", "INVITE"]
    assert Harness.start("TLS").call.deadlines()[-1].at == 32.0  # only Timer B


# --- the clean-up (errors, a signal) -----------------------------------------------------


def test_stopped_before_any_response_waits_briefly_then_cancels() -> None:
    h = Harness.start()
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    assert h.call.deadlines()[0].phase == "transaction"
    h.respond(100, "Trying")
    assert h.methods() == ["INVITE", "CANCEL"]
    h.respond(487, "Request Terminated")
    assert h.sent[-1].method == "ACK"
    assert h.call.cleanup_note == "a ringing call was cancelled during clean-up"
    assert h.call.teardown_so_far() == "cancel"
    assert h.call.outcome is None  # the run never finished: the caller says so


def test_stopped_before_any_response_gives_up_after_the_grace() -> None:
    h = Harness.start()
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    h.run_out()
    assert h.methods() == ["INVITE"]
    assert h.call.cleanup_note is None
    assert h.call.teardown_so_far() == "no_answer"


def test_a_broken_connection_before_any_response_has_nothing_to_end() -> None:
    h = Harness.start()
    h.call.connection_broken("the server closed the connection", expired=None)
    assert h.call.outcome == (
        "failed",
        "the call ended abnormally: the server closed the connection",
    )
    assert h.take(h.call.hang_up(h.now, grace=2.0, interrupted=False)) == []
    assert h.call.state is State.ENDED


def test_stopped_while_ringing_cancels_with_the_grace_as_deadline() -> None:
    h = Harness.start(transaction=5.0)
    h.respond(180, "Ringing")
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    assert h.methods() == ["INVITE", "CANCEL"]
    assert h.call.deadlines()[0].seconds == 2.0
    h.run_out()
    assert h.call.cleanup_note == (
        "a ringing call was cancelled during clean-up (no final response seen)"
    )
    assert h.call.teardown_so_far() == "cancel"


def test_stopped_after_our_cancel_waits_for_its_answer_again() -> None:
    h = Harness.start(hangup="immediately")
    h.respond(180, "Ringing")
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    assert h.methods() == ["INVITE", "CANCEL"]
    h.run_out()
    assert h.call.cleanup_note == "the call was cancelled; no final response was seen"


def test_a_2xx_during_the_clean_up_cancel_is_acked_and_byed() -> None:
    h = Harness.start()
    h.respond(180, "Ringing")
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    h.respond(200, "OK")
    assert h.methods() == ["INVITE", "CANCEL", "ACK", "BYE"]
    h.feed(h.answer(h.last("BYE"), 200, "OK"))
    assert h.call.cleanup_note == "a 2xx arrived during clean-up; it was ACKed and ended with BYE"
    assert h.call.teardown_so_far() == "bye"


def test_stopped_during_the_media_check_sends_bye() -> None:
    h = Harness.start(verify_media=True)
    h.respond(200, "OK")
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    assert h.methods() == ["INVITE", "ACK", "BYE"]
    h.feed(h.answer(h.last("BYE"), 200, "OK"))
    assert h.call.cleanup_note == "an open dialog was ended with BYE during clean-up"
    assert h.call.dialogs_left_open == 0


def test_stopped_during_the_bye_wait_waits_again_without_a_second_bye() -> None:
    h = Harness.start()
    h.respond(200, "OK")
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    assert h.methods() == ["INVITE", "ACK", "BYE"]
    h.feed(h.answer(h.last("BYE"), 200, "OK"))
    assert h.call.bye_done


def test_a_final_response_during_the_first_answer_wait_is_acked() -> None:
    h = Harness.start()
    h.take(h.call.hang_up(h.now, grace=2.0, interrupted=True))
    h.respond(603, "Decline")
    assert h.methods() == ["INVITE", "ACK"]
    assert h.actions[-1] == Send(h.last("ACK"), "ACK")
    assert h.call.cleanup_note == "a final response arrived during clean-up; it was ACKed"
    assert h.call.teardown_so_far() == "rejected"


def test_the_state_table_names_every_state_and_ends_in_ended() -> None:
    assert set(CALL_TRANSITIONS) == set(State)
    assert CALL_TRANSITIONS[State.ENDED] == frozenset()
    for state, targets in CALL_TRANSITIONS.items():
        if state is not State.ENDED:
            assert State.ENDED in targets, state
    # §9.1 as structure: CANCELLING is reached only from RINGING.
    assert [s for s, targets in CALL_TRANSITIONS.items() if State.CANCELLING in targets] == [
        State.RINGING
    ]


def test_a_call_starts_once() -> None:
    h = Harness.start()
    with pytest.raises(RuntimeError, match="already started"):
        h.call.start(h.now)
