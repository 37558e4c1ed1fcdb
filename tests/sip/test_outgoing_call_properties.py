"""Whatever the far end does, in whatever order, the call keeps the RFC's rules: every 2xx
is ACKed (§13.2.2.4), every failure ACKed on the INVITE's branch (§17.1.1.3), CANCEL only
after a provisional and never after a final response (§9.1), a call that was answered
ends with BYE (§15.1.1), and the call always comes to an end."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from probe.sip import DigestCredentials, Response, parse_message
from probe.sip.outgoing_call import CallAction, CallState, CheckMedia, Send

from .call_harness import CHALLENGE, EARLY_SDP, Harness
from .strategies import fuzz_settings

EVENTS = (
    "trying",
    "ringing",
    "early-media",
    "ok",
    "ok-again",
    "busy",
    "terminated",
    "challenge",
    "stray",
    "cancel-ok",
    "bye-ok",
    "bye-trying",
    "bye-challenged",
    "expire",
    "remote-bye",
    "media-done",
)


class Observed:
    """The call under test, and a record of what the far end sent and got back."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.last_2xx: Response | None = None
        self.provisional_to: set[str] = set()
        self.final_to: set[str] = set()
        self.answered: set[str] = set()
        self.media_pending = False

    def waiting(self) -> bool:
        return bool(self.h.call.deadlines())

    def response(self, event: str) -> Response | None:
        h = self.h
        if event == "trying":
            return h.invite_response(100, "Trying")
        if event == "ringing":
            return h.invite_response(180, "Ringing")
        if event == "early-media":
            return h.invite_response(
                183, "Session Progress", body=EARLY_SDP, content_type="application/sdp"
            )
        if event == "ok" or (event == "ok-again" and self.last_2xx is None):
            return h.invite_response(200, "OK")
        if event == "ok-again":
            return self.last_2xx
        if event == "busy":
            return h.invite_response(486, "Busy Here")
        if event == "terminated":
            return h.invite_response(487, "Request Terminated")
        if event == "challenge":
            return h.invite_response(401, "Unauthorized", extra_headers=(CHALLENGE,))
        if event == "stray":
            wire = h.invite_response(180, "Ringing").to_bytes()
            branch = h.call.invite.top_via.branch or ""
            message = parse_message(wire.replace(branch.encode(), b"z9hG4bKstray"))
            assert isinstance(message, Response)
            return message
        sent = {m.method: m for m in h.sent}
        if event == "cancel-ok" and "CANCEL" in sent:
            return h.answer(sent["CANCEL"], 200, "OK")
        if event.startswith("bye-") and "BYE" in sent:
            code = {"bye-ok": 200, "bye-trying": 100, "bye-challenged": 401}[event]
            return h.answer(h.last("BYE"), code)
        return None

    def step(self, event: str) -> None:
        """Feed `event` as the driver would: responses and deadlines only while the call
        waits, the end of the media check only when one was asked for."""
        h = self.h
        if event == "media-done":
            if self.media_pending:
                self.media_pending = False
                self.take(h.call.media_checked(h.now))
            return
        if not self.waiting():
            return
        if event == "expire":
            h.expire()
            self.after(h.actions[-1:])
            return
        if event == "remote-bye":
            self.take(h.call.remote_hung_up(h.now))
            return
        response = self.response(event)
        if response is None:
            return
        branch = response.top_via.branch or ""
        code = response.status_code
        answers_invite = branch == h.call.invite.top_via.branch and response.cseq.method == (
            "INVITE"
        )
        before = len(h.actions)
        h.feed(response)
        actions = h.actions[before:]
        acks = [a.message for a in actions if isinstance(a, Send) and a.message.method == "ACK"]
        if answers_invite and code < 200:
            self.provisional_to.add(branch)
        if answers_invite and 200 <= code < 300:
            self.last_2xx = response
            self.final_to.add(branch)
            self.answered.add(branch)
            # §13.2.2.4: every 2xx, first or retransmitted, is ACKed, on a branch of its own.
            assert len(acks) == 1, (event, actions)
            assert acks[0].cseq.number == response.cseq.number
            assert acks[0].top_via.branch != branch
        if answers_invite and code >= 300 and branch not in self.answered:
            self.final_to.add(branch)
            # §17.1.1.3: the transaction ACKs a failure on the INVITE's own branch (a
            # failure after a 2xx finds the transaction gone, §17.1.1.2, and is ignored).
            assert [ack.top_via.branch for ack in acks] == [branch], (event, actions)
        self.after(actions)

    def take(self, actions: list[CallAction]) -> None:
        self.after(self.h.take(actions))

    def after(self, actions: list[CallAction]) -> None:
        for action in actions:
            if isinstance(action, CheckMedia):
                self.media_pending = True
            if isinstance(action, Send) and action.message.method == "CANCEL":
                branch = action.message.top_via.branch or ""
                # §9.1: after a provisional response to that INVITE, before any final one.
                assert branch in self.provisional_to
                assert branch not in self.final_to


@fuzz_settings()
@given(
    events=st.lists(st.sampled_from(EVENTS), max_size=25),
    stop_at=st.integers(min_value=0, max_value=25),
    interrupted=st.booleans(),
    hangup=st.sampled_from(["on-answer", "on-early-media", "immediately"]),
    with_credentials=st.booleans(),
    verify_media=st.booleans(),
)
def test_the_call_keeps_the_rules_in_any_order(
    events: list[str],
    stop_at: int,
    interrupted: bool,
    hangup: str,
    with_credentials: bool,
    verify_media: bool,
) -> None:
    h = Harness.start(
        hangup=hangup,
        credentials=DigestCredentials("alice", "s3cret") if with_credentials else None,
        verify_media=verify_media,
        answer_timeout=3.0,
        transaction=2.0,
    )
    seen = Observed(h)
    for event in events[:stop_at]:
        seen.step(event)
    # The run is stopped (or it finished): whatever is open gets ended.
    seen.take(h.call.hang_up(h.now, grace=1.0, interrupted=interrupted))
    for event in events[stop_at:]:
        if event != "media-done":  # the clean-up never checks media
            seen.step(event)
    h.run_out()

    methods = h.methods()
    assert methods[0] == "INVITE"
    assert h.call.state is CallState.ENDED
    assert h.call.deadlines() == ()
    # At most one CANCEL per INVITE; never a CANCEL for an INVITE already answered.
    cancels = [m.top_via.branch for m in h.sent if m.method == "CANCEL"]
    assert len(cancels) == len(set(cancels))
    if h.call.dialog is not None:
        # An answered call ends with our BYE, unless the far end hung up first.
        assert "BYE" in methods or h.call.remote_bye
        assert methods.count("BYE") <= 1
    bye_answer = h.call.bye_answer
    if h.call.remote_bye or (bye_answer is not None and bye_answer.split()[0] not in ("401",)):
        assert h.call.dialogs_left_open == 0
    if h.call.dialog is None and not h.call.unusable_2xx:
        assert h.call.dialogs_left_open == 0
        assert "BYE" not in methods
