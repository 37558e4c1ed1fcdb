"""The client transactions (RFC 3261 §17.1): INVITE (§17.1.1) and non-INVITE (§17.1.2),
sans-I/O with injected time.

In aioquic's style the caller owns the clock: it passes ``now`` in, asks
:meth:`~NonInviteClientTransaction.get_timer` when to call back, and calls
:meth:`~NonInviteClientTransaction.handle_timer` then.  Every call returns a list of
actions for the caller to carry out (retransmit the request, hand a response up,
give up).  As in h11's ``_state.py``, all state transitions are the data tables
``TRANSITIONS`` and ``INVITE_TRANSITIONS`` below; the code around them only runs timers.

The transaction does not check that a response belongs to it; the caller matches
responses first (§17.1.3).  UDP exchanges (probe.net.exchange) run the non-INVITE
transaction; every test call runs the INVITE one under its transaction user,
:mod:`probe.sip.outgoing_call`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from .errors import SipBuildError
from .invite import build_ack_non2xx
from .message import Request, Response
from .timers import TimerConfig

__all__ = [
    "TIMER_D_UNRELIABLE",
    "Deliver",
    "InviteClientTransaction",
    "InviteTransactionAction",
    "InviteTransactionState",
    "NonInviteClientTransaction",
    "Retransmit",
    "SendAck",
    "TimedOut",
    "TimerConfig",
    "TransactionAction",
    "TransactionState",
]


class TransactionState(enum.Enum):
    """§17.1.2.2, Figure 6."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class _Event(enum.Enum):
    PROVISIONAL = "1xx"
    FINAL = "200-699"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_K = "Timer K"


_S, _E = TransactionState, _Event
# Figure 6 as data.  An event missing from a state's row is ignored there: responses
# in Completed are retransmissions of the final response, absorbed (§17.1.2.2).
TRANSITIONS: dict[TransactionState, dict[_Event, TransactionState]] = {
    _S.TRYING: {
        _E.PROVISIONAL: _S.PROCEEDING,
        _E.FINAL: _S.COMPLETED,
        _E.TIMER_E: _S.TRYING,
        _E.TIMER_F: _S.TERMINATED,
    },
    _S.PROCEEDING: {
        _E.PROVISIONAL: _S.PROCEEDING,
        _E.FINAL: _S.COMPLETED,
        _E.TIMER_E: _S.PROCEEDING,
        _E.TIMER_F: _S.TERMINATED,
    },
    _S.COMPLETED: {_E.TIMER_K: _S.TERMINATED},
    _S.TERMINATED: {},
}


@dataclass(frozen=True, slots=True)
class Retransmit:
    """Send the request again (Timer E, unreliable transports only)."""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer F fired: no final response within 64*T1 (§17.1.2.2); report 408."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Pass this response up to the transaction user."""

    response: Response


TransactionAction: TypeAlias = Retransmit | TimedOut | Deliver


class NonInviteClientTransaction:
    """Timers and states of one non-INVITE request we sent at time ``now``."""

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        now: float,
        timers: TimerConfig = TimerConfig(),  # frozen, so one shared default is safe
    ) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.final_response: Response | None = None
        self._state = TransactionState.TRYING
        # §17.1.2.2: Timer F = 64*T1 on every transport; Timer E only where the
        # transport may lose the request.
        self._timer_f: float | None = now + 64 * timers.t1
        self._timer_e: float | None = None if reliable else now + timers.t1
        self._interval_e = timers.t1
        self._timer_k: float | None = None

    @property
    def state(self) -> TransactionState:
        return self._state

    @property
    def terminated(self) -> bool:
        return self._state is TransactionState.TERMINATED

    def get_timer(self) -> float | None:
        """Absolute time the caller should next call :meth:`handle_timer`, or None."""
        armed = [t for t in (self._timer_e, self._timer_f, self._timer_k) if t is not None]
        return min(armed, default=None)

    def handle_timer(self, now: float) -> list[TransactionAction]:
        """Fire whatever timers are due at ``now``."""
        if self._timer_f is not None and now >= self._timer_f:
            self._apply(_Event.TIMER_F)
            return [TimedOut()]
        if self._timer_k is not None and now >= self._timer_k:
            self._apply(_Event.TIMER_K)
            return []
        if self._timer_e is not None and now >= self._timer_e:
            self._apply(_Event.TIMER_E)
            # §17.1.2.2: in Trying the interval doubles up to T2; in Proceeding it is T2.
            # It restarts from `now`, so a late caller gets one retransmission, not a burst.
            if self._state is TransactionState.TRYING:
                self._interval_e = min(2 * self._interval_e, self.timers.t2)
            else:
                self._interval_e = self.timers.t2
            self._timer_e = now + self._interval_e
            return [Retransmit()]
        return []

    def receive_response(self, response: Response, now: float) -> list[TransactionAction]:
        """Feed a response already matched to this transaction (§17.1.3)."""
        final = response.status_code >= 200
        if not self._apply(_Event.FINAL if final else _Event.PROVISIONAL):
            return []
        if final:
            self.final_response = response
            if self.reliable:
                # Timer K is zero on reliable transports: no retransmissions to absorb.
                self._apply(_Event.TIMER_K)
            else:
                self._timer_k = now + self.timers.t4
        return [Deliver(response)]

    def _apply(self, event: _Event) -> bool:
        """Take the transition for ``event``; False if the state ignores it."""
        new_state = TRANSITIONS[self._state].get(event)
        if new_state is None:
            return False
        self._state = new_state
        if new_state in (TransactionState.COMPLETED, TransactionState.TERMINATED):
            # Entering Completed cancels Timers E and F; Terminated cancels everything.
            self._timer_e = self._timer_f = None
        if new_state is TransactionState.TERMINATED:
            self._timer_k = None
        return True


# --- the INVITE client transaction (§17.1.1) ---------------------------------------------

# §17.1.1.2: Timer D, how long Completed absorbs retransmitted final responses, is "at
# least 32 seconds" on unreliable transports (the UAS may retransmit for 64*T1 from
# when it sent its response) and zero on reliable ones.
TIMER_D_UNRELIABLE = 32.0


class InviteTransactionState(enum.Enum):
    """§17.1.1.2, Figure 5."""

    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class _InviteEvent(enum.Enum):
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"


class _Effect(enum.Enum):
    """What a transition asks the caller to do, in the order listed."""

    SEND_ACK = "send the ACK for the failure response"
    DELIVER = "pass the response to the TU"
    RETRANSMIT = "send the INVITE again"
    TIME_OUT = "tell the TU the INVITE timed out"


@dataclass(frozen=True, slots=True)
class SendAck:
    """Send this ACK for a 300-699 response (§17.1.1.3), to where the INVITE went."""

    request: Request


InviteTransactionAction: TypeAlias = Retransmit | TimedOut | Deliver | SendAck

_IS, _IE, _FX = InviteTransactionState, _InviteEvent, _Effect
# Figure 5 as data: (next state, effects).  An event missing from a state's row is
# ignored there.  Notes on the rows:
# - 2xx goes straight to Terminated (§17.1.1.2).  RFC 6026 §7.2 later added an
#   "Accepted" state that keeps the transaction alive for 64*T1 to hand 2xx
#   retransmissions up; we keep the RFC 3261 shape and make those retransmissions
#   the TU's business instead: the transaction is gone, so the caller matches a
#   retransmitted 2xx to its dialog (Call-ID, tags, CSeq) and re-sends the same ACK
#   (§13.2.2.4: the UAC core answers every 2xx retransmission with its ACK).
# - A failure is ACKed before it is handed up (§17.1.1.2 asks for both and orders
#   neither): whatever the TU does next, a new INVITE with credentials or its verdict,
#   comes after the ACK on the wire.
# - In Completed, a retransmitted final response is acknowledged again but not
#   delivered again (§17.1.1.2); a late 2xx or 1xx there is absorbed.
# - Proceeding has no timer: Timer B guards only Calling.  Once the far end said it
#   is working on the call, how long to let it ring is the TU's choice (it CANCELs,
#   §9.1), so get_timer() returns None there.
INVITE_TRANSITIONS: dict[
    InviteTransactionState, dict[_InviteEvent, tuple[InviteTransactionState, tuple[_Effect, ...]]]
] = {
    _IS.CALLING: {
        _IE.PROVISIONAL: (_IS.PROCEEDING, (_FX.DELIVER,)),
        _IE.SUCCESS: (_IS.TERMINATED, (_FX.DELIVER,)),
        _IE.FAILURE: (_IS.COMPLETED, (_FX.SEND_ACK, _FX.DELIVER)),
        _IE.TIMER_A: (_IS.CALLING, (_FX.RETRANSMIT,)),
        _IE.TIMER_B: (_IS.TERMINATED, (_FX.TIME_OUT,)),
    },
    _IS.PROCEEDING: {
        _IE.PROVISIONAL: (_IS.PROCEEDING, (_FX.DELIVER,)),
        _IE.SUCCESS: (_IS.TERMINATED, (_FX.DELIVER,)),
        _IE.FAILURE: (_IS.COMPLETED, (_FX.SEND_ACK, _FX.DELIVER)),
    },
    _IS.COMPLETED: {
        _IE.FAILURE: (_IS.COMPLETED, (_FX.SEND_ACK,)),
        _IE.TIMER_D: (_IS.TERMINATED, ()),
    },
    _IS.TERMINATED: {},
}


class InviteClientTransaction:
    """Timers and states of one INVITE we sent at time ``now`` (§17.1.1).

    The caller matches responses to the transaction first (§17.1.3,
    :func:`probe.sip.match_response`) and carries out the returned actions:
    :class:`Retransmit` (Timer A), :class:`TimedOut` (Timer B: report 408, §8.1.3.1),
    :class:`SendAck` and :class:`Deliver`.  Its user is :class:`probe.sip.outgoing_call.
    OutgoingCall`, which starts one transaction for each INVITE it sends.
    """

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        now: float,
        timers: TimerConfig = TimerConfig(),  # frozen, so one shared default is safe
    ) -> None:
        if request.method != "INVITE":
            raise SipBuildError(
                f"an INVITE client transaction needs an INVITE, not {request.method}"
            )
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self._ack: Request | None = None
        self._state = InviteTransactionState.CALLING
        # §17.1.1.2: Timer B = 64*T1 on every transport; Timer A only where the
        # transport may lose the request.
        self._timer_b: float | None = now + 64 * timers.t1
        self._timer_a: float | None = None if reliable else now + timers.t1
        self._interval_a = timers.t1
        self._timer_d: float | None = None

    @property
    def state(self) -> InviteTransactionState:
        return self._state

    def get_timer(self) -> float | None:
        """Absolute time the caller should next call :meth:`handle_timer`, or None."""
        armed = [t for t in (self._timer_a, self._timer_b, self._timer_d) if t is not None]
        return min(armed, default=None)

    def handle_timer(self, now: float) -> list[InviteTransactionAction]:
        """Fire whatever timer is due at ``now``."""
        if self._timer_b is not None and now >= self._timer_b:
            return self._step(_InviteEvent.TIMER_B, now)
        if self._timer_d is not None and now >= self._timer_d:
            return self._step(_InviteEvent.TIMER_D, now)
        if self._timer_a is not None and now >= self._timer_a:
            # §17.1.1.2: Timer A doubles every time, with no T2 cap (unlike Timer E);
            # Timer B ends it at 64*T1 after six retransmissions with default timers.
            # It restarts from `now`, so a late caller gets one retransmission.
            self._interval_a *= 2
            self._timer_a = now + self._interval_a
            return self._step(_InviteEvent.TIMER_A, now)
        return []

    def receive_response(self, response: Response, now: float) -> list[InviteTransactionAction]:
        """Feed a response already matched to this transaction (§17.1.3)."""
        code = response.status_code
        if code < 200:
            event = _InviteEvent.PROVISIONAL
        elif code < 300:
            event = _InviteEvent.SUCCESS
        else:
            event = _InviteEvent.FAILURE
        return self._step(event, now, response)

    def _step(
        self, event: _InviteEvent, now: float, response: Response | None = None
    ) -> list[InviteTransactionAction]:
        row = INVITE_TRANSITIONS[self._state]
        if event not in row:
            return []
        new_state, effects = row[event]
        entering = new_state is not self._state
        self._state = new_state
        if entering:
            self._enter(new_state, now, response)
        actions: list[InviteTransactionAction] = []
        for effect in effects:
            if effect is _Effect.DELIVER and response is not None:
                actions.append(Deliver(response))
            elif effect is _Effect.SEND_ACK and self._ack is not None:
                # §17.1.1.2: the same ACK for every retransmission of the response.
                actions.append(SendAck(self._ack))
            elif effect is _Effect.RETRANSMIT:
                actions.append(Retransmit())
            elif effect is _Effect.TIME_OUT:
                actions.append(TimedOut())
        if entering and new_state is InviteTransactionState.COMPLETED and self.reliable:
            # Timer D is zero on reliable transports: no retransmissions to absorb.
            actions += self._step(_InviteEvent.TIMER_D, now)
        return actions

    def _enter(self, state: InviteTransactionState, now: float, response: Response | None) -> None:
        """Arm and cancel timers on entering ``state`` (§17.1.1.2)."""
        # Leaving Calling, whatever the way, stops retransmissions and Timer B.
        self._timer_a = self._timer_b = None
        if state is InviteTransactionState.COMPLETED and response is not None:
            self._ack = build_ack_non2xx(self.request, response)
            self._timer_d = None if self.reliable else now + TIMER_D_UNRELIABLE
        elif state is InviteTransactionState.TERMINATED:
            self._timer_d = None
