"""The non-INVITE client transaction (RFC 3261 §17.1.2), sans-I/O with injected time.

In aioquic's style the caller owns the clock: it passes ``now`` in, asks
:meth:`~NonInviteClientTransaction.get_timer` when to call back, and calls
:meth:`~NonInviteClientTransaction.handle_timer` then.  Every call returns a list of
actions for the caller to carry out (retransmit the request, hand a response up,
give up).  As in h11's ``_state.py``, all state transitions are the data table
``TRANSITIONS`` below; the code around it only runs timers.

The transaction does not check that a response belongs to it; the caller matches
responses first with :func:`probe.sip.match_response` (§17.1.3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from .errors import SipBuildError
from .message import Request, Response

__all__ = [
    "Deliver",
    "NonInviteClientTransaction",
    "Retransmit",
    "TimedOut",
    "TimerConfig",
    "TransactionAction",
    "TransactionState",
]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """§17.1.1.1 timer values in seconds (defaults from §17, Table 4)."""

    t1: float = 0.5  # RTT estimate; base of Timer E and of Timer F = 64*T1
    t2: float = 4.0  # cap on the non-INVITE retransmit interval
    t4: float = 5.0  # maximum time a message stays in the network; Timer K

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise SipBuildError(f"TimerConfig.{name} must be a positive number, got {value!r}")


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
