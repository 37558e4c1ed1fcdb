"""One outgoing test call as its transaction user sees it (RFC 3261 §8.1, §13.2), sans-I/O.

:class:`OutgoingCall` is the call's own state machine.  Each INVITE it sends runs in an
INVITE client transaction (:class:`~probe.sip.transaction.InviteClientTransaction`,
§17.1.1), which ACKs failures and hands responses up; the call adds what the RFC leaves
to the transaction user: CANCEL only after a provisional response and never after a final
one (§9.1), the ACK for a 2xx in a transaction of its own (§13.2.2.4), credentials once
(§22.2), BYE (§15.1.1), and an end for whatever is open when the caller stops the call.

In aioquic's style the caller owns the clock and the connection.  It feeds events, each
with ``now``: :meth:`~OutgoingCall.receive_response`, :meth:`~OutgoingCall.deadline_passed`,
:meth:`~OutgoingCall.remote_hung_up`, :meth:`~OutgoingCall.media_checked`,
:meth:`~OutgoingCall.connection_broken` and :meth:`~OutgoingCall.hang_up`; it carries
out the actions returned, in order (:class:`Send`, :class:`CheckMedia`); and it waits
for the next response under :meth:`~OutgoingCall.deadlines`.  No deadline means the call
needs nothing more from the far end.  Nothing here reads a clock, draws randomness (the
caller passes ``new_token`` in) or touches a socket.

The call's states, and the moves between them, are the table ``CALL_TRANSITIONS``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .builders import new_branch
from .dialog import Dialog
from .digest import DigestChallenge, DigestCredentials, authorize, choose_challenge
from .errors import SipError
from .invite import build_cancel
from .message import Request, Response
from .timers import TimerConfig
from .transaction import (
    Deliver,
    InviteClientTransaction,
    Retransmit,
    SendAck,
    TimedOut,
)

__all__ = [
    "CALL_TRANSITIONS",
    "INVITE_TIMER",
    "CallAction",
    "CallPlan",
    "CallState",
    "CheckMedia",
    "Deadline",
    "HangupMode",
    "LocalEnd",
    "OutgoingCall",
    "Send",
    "Teardown",
]

HangupMode = Literal["on-answer", "on-early-media", "immediately"]
Teardown = Literal["bye", "cancel", "rejected", "no_answer", "failed"]

INVITE_TIMER = "invite_timer"
"""The phase of the deadline that is the INVITE transaction's next timer (A or B)."""


class CallState(enum.Enum):
    CALLING = "calling"
    """An INVITE is out and no provisional response has come back: nothing to CANCEL."""
    RINGING = "ringing"
    """A provisional response arrived: the call may be cancelled (§9.1)."""
    CANCELLING = "cancelling"
    """CANCEL sent; the INVITE's final response (a 487, or a 2xx that raced it) awaited."""
    ANSWERED = "answered"
    """A 2xx was ACKed: the dialog is up (the media check runs now)."""
    HANGING_UP = "hanging up"
    """BYE sent; its answer awaited."""
    ENDED = "ended"
    """Nothing more to do: everything we started is ended, or cannot be."""


_C = CallState
# Every move the call may make.  CALLING → CALLING and RINGING → CALLING are a new INVITE
# with credentials after a challenge; a 2xx moves to ANSWERED from any state an INVITE is
# pending in; ANSWERED → ENDED skips the BYE when the far end already hung up.
CALL_TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    _C.CALLING: frozenset({_C.CALLING, _C.RINGING, _C.ANSWERED, _C.ENDED}),
    _C.RINGING: frozenset({_C.CALLING, _C.CANCELLING, _C.ANSWERED, _C.ENDED}),
    _C.CANCELLING: frozenset({_C.ANSWERED, _C.ENDED}),
    _C.ANSWERED: frozenset({_C.HANGING_UP, _C.ENDED}),
    _C.HANGING_UP: frozenset({_C.ENDED}),
    _C.ENDED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Deadline:
    """One wait of the call: until the absolute time ``at``, named ``phase``."""

    at: float
    phase: str
    """`first_byte`, `answer`, `transaction`, or :data:`INVITE_TIMER`."""
    seconds: float
    until_first_byte: bool = False
    """Dropped as soon as any byte arrives (the `first_byte` deadline)."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request; ``note`` says why, for the evidence."""

    message: Request
    note: str


@dataclass(frozen=True, slots=True)
class CheckMedia:
    """Exchange media with the far end on this answer, then call
    :meth:`OutgoingCall.media_checked`."""

    answer: Response


CallAction: TypeAlias = Send | CheckMedia


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What the call is asked to do, and the deadlines of its waits (seconds)."""

    hangup: HangupMode = "on-answer"
    answer_timeout: float = 30.0
    """From each INVITE to its final response: the ring time (it plays Timer C's part,
    §16.6), not extended by provisional responses."""
    first_byte: float = 5.0
    """From each INVITE to its first response (a UAS sends 100 Trying at once, §8.2.6.1)."""
    transaction: float = 5.0
    """From a CANCEL or BYE to the answer awaited."""
    credentials: DigestCredentials | None = field(default=None, repr=False)
    verify_media: bool = False
    timers: TimerConfig = TimerConfig()  # frozen, so one shared default is safe


@dataclass(frozen=True, slots=True)
class LocalEnd:
    """Our side of the connection, as the requests of the dialog name it (Via)."""

    transport: str
    address: str
    port: int
    user_agent: str

    @property
    def reliable(self) -> bool:
        """TCP and TLS deliver what we send: no retransmission timers (§17.1.1.2)."""
        return self.transport.upper() != "UDP"


def has_sdp(response: Response) -> bool:
    """Whether ``response`` carries an SDP body (§13.2.1: an offer or answer)."""
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return bool(response.body) and content_type == "application/sdp"


class OutgoingCall:
    """The transaction user of one test call, from its INVITE to its end.

    What it saw is kept as attributes for the evidence: ``provisional``, ``early_answer``,
    ``final``, ``dialog``, ``cancelled``, ``bye_done``, ``bye_answer``, ``faults``,
    ``expired``, ``error``, and the digest challenge met: ``challenge``,
    ``challenge_answered``, ``challenge_problem``, ``authenticated``.  ``outcome`` is how
    the call ended before any clean-up, and ``cleanup_note`` what :meth:`hang_up` did.
    """

    def __init__(
        self,
        invite: Request,
        *,
        plan: CallPlan,
        local: LocalEnd,
        new_token: Callable[[int], str],
    ) -> None:
        self.invite = invite
        self.plan = plan
        self.local = local
        self._new_token = new_token
        self.state = CallState.CALLING
        self.provisional: list[int] = []
        self.early_answer: tuple[bytes, str] | None = None
        """The first SDP in a 101-199 response, and which response carried it."""
        self.final: Response | None = None
        self.challenge: Response | None = None
        """The first 401/407 to our INVITE (§22.2, §22.3)."""
        self.challenge_answered: DigestChallenge | None = None
        """The challenge our INVITE with credentials answered."""
        self.challenge_problem: str | None = None
        """Why the challenge was not answered although there were credentials."""
        self.authenticated = False
        """An INVITE with credentials went out and a final response answered it: only
        then may a report say the call was placed with digest authentication."""
        self.cancelled = False
        self.cancel_unanswered = False
        """CANCEL went out and its whole deadline passed in silence: no clean-up waits
        for that answer again (it would only double the time the verdict takes)."""
        self.dialog: Dialog | None = None
        self.unusable_2xx = False
        """A 2xx arrived that not even the fallback could turn into a dialog to end."""
        self.bye_done = False
        self.bye_answer: str | None = None
        self.remote_bye = False
        self.faults: list[str] = []
        self.expired: str | None = None
        self.error: str | None = None
        self.outcome: tuple[Teardown, str | None] | None = None
        self.cleanup_note: str | None = None
        self._transaction: InviteClientTransaction | None = None
        self._ack: Request | None = None
        self._bye: Request | None = None
        self._deadlines: list[Deadline] = []
        self._cleaning_up = False
        self._grace = plan.transaction
        self._cancel_sent_in_clean_up = False
        self._bye_note = "an open dialog was ended with BYE during clean-up"

    # --- what the caller asks ----------------------------------------------------------

    @property
    def dialogs_left_open(self) -> int:
        """1 if a dialog of ours may still be up on the far side, else 0."""
        return 1 if (self.dialog is not None and not self.bye_done) or self.unusable_2xx else 0

    def deadlines(self) -> tuple[Deadline, ...]:
        """What to wait under for the next response; () when nothing is awaited.  The
        INVITE transaction's own timer comes last (on a tie the caller's phases win)."""
        if not self._deadlines:
            return ()
        timer = self._transaction.get_timer() if self._transaction is not None else None
        if timer is None:
            return tuple(self._deadlines)
        # Named by Timer B's span: Timer A (unreliable transports only) expires silently.
        timer_b = 64 * self.plan.timers.t1
        return (*self._deadlines, Deadline(timer, INVITE_TIMER, timer_b))

    def teardown_so_far(self) -> Teardown:
        """How a call stopped midway ended, from what was done."""
        if self.dialog is not None:
            return "bye" if self.bye_done else "failed"
        if self.final is not None:
            return "cancel" if self.cancelled and self.final.status_code == 487 else "rejected"
        return "cancel" if self.cancelled else "no_answer"

    # --- events --------------------------------------------------------------------------

    def start(self, now: float) -> list[CallAction]:
        """Send the INVITE."""
        if self._transaction is not None:
            raise RuntimeError("the call was already started")
        return self._send_invite(now, "INVITE")

    def receive_response(self, response: Response, now: float) -> list[CallAction]:
        """A response arrived on the connection (any response: it is matched here)."""
        # Something came back: the first byte is no longer awaited.
        self._deadlines = [d for d in self._deadlines if not d.until_first_byte]
        if self._answers_invite(response):
            assert self._transaction is not None
            actions: list[CallAction] = []
            for step in self._transaction.receive_response(response, now):
                if isinstance(step, SendAck):
                    note = "ACK" if self._cleaning_up else f"ACK for {response.status_code}"
                    actions.append(Send(step.request, note))
                elif isinstance(step, Deliver) and self.state is not CallState.ENDED:
                    # Once ended, the call acts on nothing more (its caller has stopped
                    # reading by then); the transaction still ACKs a failure above.
                    actions += self._on_invite_response(step.response, now)
            if not actions and 200 <= response.status_code < 300 and self._ack is not None:
                # The transaction ended with the first 2xx; a retransmission means our
                # ACK was lost, and the TU sends the same ACK again (§13.2.2.4).
                actions.append(Send(self._ack, "ACK for a retransmitted 2xx"))
            return actions
        if self.state is CallState.HANGING_UP and self._answers_bye(response):
            return self._on_bye_response(response)
        if self.state in (CallState.CALLING, CallState.RINGING, CallState.CANCELLING):
            self._note_stray(response)
        return []

    def deadline_passed(self, phase: str, why: str, now: float) -> list[CallAction]:
        """The deadline named ``phase`` passed with nothing received; ``why`` says so."""
        if phase == INVITE_TIMER:
            return self._invite_timer(now)
        if not any(deadline.phase == phase for deadline in self._deadlines):
            return []
        return self._no_response(phase, why, now)

    def remote_hung_up(self, now: float) -> list[CallAction]:
        """The far end sent BYE for this call, and it was answered 200 (§15.1.2)."""
        if self.remote_bye:
            return []
        self.remote_bye = True
        if self.state is CallState.HANGING_UP:
            self.bye_done = True
            return self._end_dialog()
        return []

    def media_checked(self, now: float) -> list[CallAction]:
        """The media check asked for by :class:`CheckMedia` is over: hang up."""
        if self.state is not CallState.ANSWERED:
            return []
        return self._hang_up_dialog(now)

    def connection_broken(self, reason: str, *, expired: str | None = None) -> None:
        """The connection failed, or the far end sent what cannot be acted on: the call
        failed; :meth:`hang_up` still ends what it can."""
        self.error = reason
        if expired is not None:
            self.expired = expired
        self.outcome = ("failed", f"the call ended abnormally: {reason}")
        self._deadlines = []

    def hang_up(self, now: float, *, grace: float, interrupted: bool) -> list[CallAction]:
        """End whatever is open, each wait ``grace`` seconds: BYE an answered call,
        CANCEL a ringing one (a 2xx that wins the race is ACKed and BYEd), and, when the
        run was ``interrupted`` before any response, wait for one so there is something
        to cancel (§9.1).  ``cleanup_note`` then says what was done."""
        self._cleaning_up = True
        self._grace = grace
        if self.state is CallState.CALLING:
            if interrupted:
                self._deadlines = [Deadline(now + grace, "transaction", grace)]
                return []
            # The connection broke before any response: nothing can be cancelled (§9.1)
            # and nothing more will be read.
            return self._end("failed", None)
        if self.state is CallState.RINGING:
            return self._cancel(now)
        if self.state is CallState.ANSWERED:
            return self._hang_up_dialog(now)
        if self.state in (CallState.CANCELLING, CallState.HANGING_UP):
            # What we sent is still unanswered: wait for it again, briefly.
            self._deadlines = [Deadline(now + grace, "transaction", grace)]
        return []

    # --- the INVITE and its responses ----------------------------------------------------

    def _send_invite(self, now: float, note: str) -> list[CallAction]:
        self._transaction = InviteClientTransaction(
            self.invite, reliable=self.local.reliable, now=now, timers=self.plan.timers
        )
        first_byte, answer = self.plan.first_byte, self.plan.answer_timeout
        self._deadlines = [
            Deadline(now + first_byte, "first_byte", first_byte, until_first_byte=True),
            Deadline(now + answer, "answer", answer),
        ]
        return [Send(self.invite, note)]

    def _answers_invite(self, response: Response) -> bool:
        """§17.1.3: the top Via branch and the CSeq of the INVITE now pending."""
        try:
            return (
                response.top_via.branch == self.invite.top_via.branch
                and response.cseq.method == "INVITE"
                and response.cseq.number == self.invite.cseq.number
            )
        except SipError:
            return False

    def _note_stray(self, response: Response) -> None:
        """A response that answers none of our requests (§17.1.3) is evidence, not an
        answer; the answer to our own CANCEL (same branch, CSeq CANCEL) is no stray."""
        try:
            ours = response.top_via.branch == self.invite.top_via.branch
            method = response.cseq.method
        except SipError as exc:
            self.faults.append(f"ignored a {response.status_code} that cannot be matched: {exc}")
            return
        if ours and method in ("CANCEL", "INVITE"):
            return
        self.faults.append(
            f"ignored a stray {response.status_code} {response.reason} (CSeq {method},"
            " not this INVITE's branch, RFC 3261 §17.1.3)"
        )

    def _on_invite_response(self, response: Response, now: float) -> list[CallAction]:
        code = response.status_code
        if code < 200:
            return self._on_provisional(response, now)
        if code >= 300:
            return self._on_failure(response, now)
        return self._on_success(response, now)

    def _on_provisional(self, response: Response, now: float) -> list[CallAction]:
        code = response.status_code
        self.provisional.append(code)
        if code > 100 and has_sdp(response) and self.early_answer is None:
            self.early_answer = (response.body, f"{code} {response.reason}")
        if self.state is CallState.CALLING:
            self._move(CallState.RINGING)
        hangup = self.plan.hangup
        wants_cancel = hangup == "immediately" or (
            hangup == "on-early-media" and self.early_answer is not None
        )
        if self._cleaning_up or wants_cancel:
            return self._cancel(now)
        return []

    def _on_failure(self, response: Response, now: float) -> list[CallAction]:
        """A 300-699, already ACKed by the transaction (§17.1.1.3)."""
        code = response.status_code
        credentials = self.plan.credentials
        if self.challenge_answered is not None:
            self.authenticated = True  # this final answers the INVITE with credentials
        elif code in (401, 407) and self.challenge is None:
            self.challenge = response
            # Once we have cancelled, a challenge is just the final answer: re-sending
            # would start a call nobody asked for.  One challenge is answered, not a loop.
            if credentials is not None and (self.cancelled or self._cleaning_up):
                self.challenge_problem = "the call was being cancelled"
            elif credentials is not None:
                return self._answer_challenge(response, credentials, now)
        self.final = response
        if self._cleaning_up:
            note = (
                "a ringing call was cancelled during clean-up"
                if self.state is CallState.CANCELLING
                else "a final response arrived during clean-up; it was ACKed"
            )
            return self._end("rejected", None, cleanup_note=note)
        if self.cancelled and code == 487:
            return self._end("cancel", "CANCEL answered; 487 Request Terminated ACKed")
        return self._end("rejected", f"rejected with {code} {response.reason} (ACKed)")

    def _answer_challenge(
        self, response: Response, credentials: DigestCredentials, now: float
    ) -> list[CallAction]:
        """The INVITE again, with credentials, in a new transaction (§22.2, §22.3)."""
        code = response.status_code
        header = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
        try:
            chosen = choose_challenge(response.headers.get_all(header))
            invite = authorize(
                self.invite,
                response,
                credentials,
                branch=new_branch(self._new_token(12)),
                cnonce=self._new_token(8),
                cseq=self.invite.cseq.number + 1,
            )
        except SipError as exc:
            self.final = response
            self.challenge_problem = str(exc)
            return self._end("rejected", f"challenged with {code}, which cannot be answered: {exc}")
        self.challenge_answered = chosen
        self.invite = invite
        self.provisional.clear()
        self._move(CallState.CALLING)
        return self._send_invite(now, "INVITE with credentials")

    def _on_success(self, response: Response, now: float) -> list[CallAction]:
        self.final = response
        if self.challenge_answered is not None:
            self.authenticated = True
        try:
            dialog = Dialog.from_response(self.invite, response)
        except SipError as problem:
            # A 2xx without a usable Contact or Record-Route: ending the call matters more
            # than strictness, so the BYE goes to the Request-URI (the documented fallback).
            try:
                dialog = Dialog.fallback(self.invite, response)
            except SipError as exc:
                self.unusable_2xx = True
                reason = f"the 2xx cannot even be ACKed ({exc}); the call may be up"
                if not self._cleaning_up:
                    self.error = reason
                return self._end("failed", f"the call ended abnormally: {reason}")
            # §13.3.1.4: a 2xx to INVITE MUST carry a Contact (§12.1.1 makes it the remote
            # target); without one, in-dialog requests can only guess where to go.
            self.faults.append(
                f"{problem}; the ACK and BYE went to the Request-URI instead"
                " (RFC 3261 §12.1.1, §13.3.1.4)"
            )
        # §13.2.2.4: a 2xx is ACKed in a transaction of its own (a new branch), along the
        # route set; the same ACK answers every retransmission of the 2xx.
        ack = dialog.build_ack(
            invite=self.invite,
            branch=new_branch(self._new_token(12)),
            local_host=self.local.address,
            local_port=self.local.port,
            transport=self.local.transport,
        )
        self.dialog, self._ack = dialog, ack
        if self.state is CallState.CANCELLING and self._cleaning_up:
            self._bye_note = "a 2xx arrived during clean-up; it was ACKed and ended with BYE"
        self._move(CallState.ANSWERED)
        self._deadlines = []
        actions: list[CallAction] = [Send(ack, "ACK for 2xx")]
        if self.plan.verify_media and not self._cleaning_up:
            return [*actions, CheckMedia(response)]
        return actions + self._hang_up_dialog(now)

    def _invite_timer(self, now: float) -> list[CallAction]:
        """Timer A (retransmit, unreliable transports) or Timer B (give up), §17.1.1.2."""
        if self._transaction is None:
            return []
        actions: list[CallAction] = []
        for step in self._transaction.handle_timer(now):
            if isinstance(step, Retransmit):
                actions.append(Send(self.invite, "INVITE again (Timer A)"))
            elif isinstance(step, TimedOut):
                timer_b = 64 * self.plan.timers.t1
                why = f"no response within {timer_b:g} s (Timer B, RFC 3261 §17.1.1.2)"
                actions += self._no_response("transaction", why, now)
        return actions

    def _no_response(self, phase: str, why: str, now: float) -> list[CallAction]:
        """A wait ran out: cancel a ringing call, give up on the rest."""
        state = self.state
        if state in (CallState.CALLING, CallState.RINGING) and not self._cleaning_up:
            self.expired = phase
        if state is CallState.RINGING:
            return self._cancel(now)
        if state is CallState.CALLING:
            return self._end(
                "no_answer",
                f"{why}; with no provisional response there is nothing to CANCEL (RFC 3261 §9.1)",
            )
        if state is CallState.CANCELLING:
            if self._cleaning_up:
                note = (
                    "a ringing call was cancelled during clean-up (no final response seen)"
                    if self._cancel_sent_in_clean_up
                    else "the call was cancelled; no final response was seen"
                )
                return self._end("failed", None, cleanup_note=note)
            self.expired = phase
            self.cancel_unanswered = True
            return self._end("failed", f"CANCEL sent but {why}")
        if state is CallState.HANGING_UP:
            return self._end_dialog()  # the BYE went unanswered
        return []

    def _cancel(self, now: float) -> list[CallAction]:
        """CANCEL the INVITE, once (§9.1: only after a provisional response, and never
        after a final one), and wait for its final response."""
        if self.cancelled or not self.provisional or self.final is not None:
            return []
        cancel = build_cancel(self.invite)
        self.cancelled = True
        self._cancel_sent_in_clean_up = self._cleaning_up
        self._move(CallState.CANCELLING)
        wait = self._grace if self._cleaning_up else self.plan.transaction
        self._deadlines = [Deadline(now + wait, "transaction", wait)]
        return [Send(cancel, "CANCEL")]

    # --- the dialog ---------------------------------------------------------------------

    def _hang_up_dialog(self, now: float) -> list[CallAction]:
        """§15.1.1: BYE ends the dialog; not sent when the far end already hung up."""
        assert self.dialog is not None
        if self.remote_bye:
            self.bye_done = True
            return self._end_dialog()
        bye, dialog = self.dialog.build_bye(
            branch=new_branch(self._new_token(12)),
            local_host=self.local.address,
            local_port=self.local.port,
            transport=self.local.transport,
            user_agent=self.local.user_agent,
        )
        self.dialog, self._bye = dialog, bye
        self._move(CallState.HANGING_UP)
        wait = self._grace if self._cleaning_up else self.plan.transaction
        self._deadlines = [Deadline(now + wait, "transaction", wait)]
        return [Send(bye, "BYE")]

    def _answers_bye(self, response: Response) -> bool:
        assert self._bye is not None
        try:
            return (
                response.cseq.method == "BYE"
                and response.top_via.branch == self._bye.top_via.branch
            )
        except SipError:
            return False

    def _on_bye_response(self, response: Response) -> list[CallAction]:
        code = response.status_code
        if code < 200:
            return []
        self.bye_answer = f"{code} {response.reason}"
        # §15.1.1: whatever the answer, the session is over for us; a non-2xx is still
        # worth saying, since the far end may not have let go.  A challenged BYE ended
        # nothing on the far side, so the dialog stays counted open (credentials for a
        # BYE are not sent).
        if code not in (401, 407):
            self.bye_done = True
        return self._end_dialog()

    def _end_dialog(self) -> list[CallAction]:
        if self.remote_bye:
            text = "the far end hung up with BYE, answered 200"
        elif self.bye_done:
            text = f"ACK sent; BYE answered {self.bye_answer}"
        else:
            text = "ACK and BYE sent; BYE unanswered"
        prefix = "a 2xx raced our CANCEL: " if self.cancelled else ""
        return self._end("bye", prefix + text, cleanup_note=self._bye_note)

    # --- state ----------------------------------------------------------------------------

    def _end(
        self, teardown: Teardown, detail: str | None, *, cleanup_note: str | None = None
    ) -> list[CallAction]:
        """Nothing more to wait for.  Before any clean-up this is how the call ended;
        during one, ``cleanup_note`` says what the clean-up did."""
        self._move(CallState.ENDED)
        self._deadlines = []
        if self._cleaning_up:
            self.cleanup_note = cleanup_note
        elif self.outcome is None:
            self.outcome = (teardown, detail)
        return []

    def _move(self, state: CallState) -> None:
        if state not in CALL_TRANSITIONS[self.state]:
            raise RuntimeError(f"a call {self.state.value} cannot become {state.value}")
        self.state = state
