"""INVITE client transaction (RFC 3261 §17.1.1), driven by injected time."""

from __future__ import annotations

import pytest

from probe.sip import (
    TIMER_D_UNRELIABLE,
    Deliver,
    InviteClientTransaction,
    InviteTransactionState,
    Retransmit,
    SendAck,
    SipBuildError,
    TimedOut,
    TimerConfig,
    build_ack_non2xx,
    build_invite,
    build_options,
    build_response,
    new_branch,
    parse_uri,
)
from probe.sip.transaction import INVITE_TRANSITIONS

State = InviteTransactionState

INVITE = build_invite(
    parse_uri("sip:trunk.example.com"),
    transport="UDP",
    local_host="192.0.2.10",
    local_port=5060,
    branch=new_branch("ict1"),
    from_tag="ft",
    call_id="c1",
    user_agent="sipprobe/test",
    body=b"v=0\r\n",
)
TRYING = build_response(INVITE, 100, "Trying", to_tag=None)
RINGING = build_response(INVITE, 180, "Ringing", to_tag="uas1")
OK = build_response(INVITE, 200, "OK", to_tag="uas1")
BUSY = build_response(INVITE, 486, "Busy Here", to_tag="uas1")


def run_until_done(
    tx: InviteClientTransaction, limit: float = 1000.0
) -> list[tuple[float, object]]:
    """Fire every timer on time until none is left; return (time, action) pairs."""
    events: list[tuple[float, object]] = []
    while (at := tx.get_timer()) is not None and at <= limit:
        events.extend((at, action) for action in tx.handle_timer(at))
    return events


def test_udp_timer_a_doubles_without_cap_until_timer_b_at_32s():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    assert tx.state is State.CALLING
    assert tx.get_timer() == 0.5
    events = run_until_done(tx)
    retransmits = [t for t, action in events if isinstance(action, Retransmit)]
    # Intervals 0.5, 1, 2, 4, 8, 16: no T2 cap, unlike the non-INVITE Timer E.
    assert retransmits == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert events[-1] == (32.0, TimedOut())
    assert tx.state is State.TERMINATED
    assert tx.state is State.TERMINATED
    assert tx.get_timer() is None


def test_tls_never_retransmits_and_times_out_at_64_t1():
    tx = InviteClientTransaction(INVITE, reliable=True, now=10.0)
    assert tx.get_timer() == 42.0
    assert run_until_done(tx) == [(42.0, TimedOut())]
    assert tx.state is State.TERMINATED


def test_custom_t1_scales_timers_a_and_b():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0, timers=TimerConfig(t1=0.1))
    events = run_until_done(tx)
    retransmits = [round(t, 6) for t, action in events if isinstance(action, Retransmit)]
    assert retransmits == [0.1, 0.3, 0.7, 1.5, 3.1, 6.3]
    assert events[-1][1] == TimedOut()
    assert events[-1][0] == pytest.approx(6.4)


def test_provisional_moves_to_proceeding_and_stops_timers():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    assert tx.handle_timer(0.5) == [Retransmit()]
    assert tx.receive_response(TRYING, now=0.7) == [Deliver(TRYING)]
    assert tx.state is State.PROCEEDING
    # No Timer A, no Timer B: how long to let it ring is the TU's decision (CANCEL).
    assert tx.get_timer() is None
    assert tx.handle_timer(100.0) == []
    assert tx.receive_response(RINGING, now=1.0) == [Deliver(RINGING)]
    assert tx.state is State.PROCEEDING


def test_failure_response_is_delivered_and_acked():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    tx.receive_response(RINGING, now=0.2)
    ack = build_ack_non2xx(INVITE, BUSY)
    assert tx.receive_response(BUSY, now=2.0) == [SendAck(ack), Deliver(BUSY)]
    assert tx.state is State.COMPLETED
    assert ack.top_via.branch == INVITE.top_via.branch
    # Timer D: 32 s on an unreliable transport.
    assert tx.get_timer() == 2.0 + TIMER_D_UNRELIABLE == 34.0


def test_retransmitted_failure_is_acked_again_but_not_delivered():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    first = tx.receive_response(BUSY, now=1.0)
    assert isinstance(first[0], SendAck)
    assert tx.receive_response(BUSY, now=1.5) == [first[0]]
    assert tx.receive_response(BUSY, now=3.0) == [first[0]]
    # A late provisional or 2xx in Completed is absorbed.
    assert tx.receive_response(RINGING, now=3.1) == []
    assert tx.receive_response(OK, now=3.2) == []
    assert tx.state is State.COMPLETED
    assert tx.handle_timer(32.9) == []
    assert tx.handle_timer(33.0) == []
    assert tx.state is State.TERMINATED
    assert tx.get_timer() is None
    assert tx.receive_response(BUSY, now=40.0) == []


def test_failure_over_tls_terminates_at_once_after_one_ack():
    tx = InviteClientTransaction(INVITE, reliable=True, now=0.0)
    actions = tx.receive_response(BUSY, now=1.0)
    assert actions == [SendAck(build_ack_non2xx(INVITE, BUSY)), Deliver(BUSY)]
    assert tx.state is State.TERMINATED
    assert tx.get_timer() is None


@pytest.mark.parametrize("reliable", [False, True])
def test_2xx_terminates_and_is_delivered(reliable):
    tx = InviteClientTransaction(INVITE, reliable=reliable, now=0.0)
    tx.receive_response(RINGING, now=0.1)
    assert tx.receive_response(OK, now=2.0) == [Deliver(OK)]
    assert tx.state is State.TERMINATED
    assert tx.get_timer() is None
    # Retransmissions of the 2xx are the TU's business (RFC 6026 note in the module).
    assert tx.receive_response(OK, now=2.5) == []


def test_2xx_straight_from_calling_stops_retransmissions():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    assert tx.receive_response(OK, now=0.3) == [Deliver(OK)]
    assert tx.handle_timer(0.5) == []
    assert tx.state is State.TERMINATED


def test_late_handle_timer_retransmits_once():
    tx = InviteClientTransaction(INVITE, reliable=False, now=0.0)
    assert tx.handle_timer(5.0) == [Retransmit()]
    assert tx.get_timer() == 6.0


def test_needs_an_invite():
    options = build_options(
        parse_uri("sip:trunk.example.com"),
        transport="UDP",
        local_host="192.0.2.10",
        local_port=5060,
        branch=new_branch("o"),
        from_tag="ft",
        call_id="c1",
        user_agent="ua",
    )
    with pytest.raises(SipBuildError, match="INVITE"):
        InviteClientTransaction(options, reliable=True, now=0.0)


def test_transition_table_covers_every_state():
    assert set(INVITE_TRANSITIONS) == set(State)
    assert INVITE_TRANSITIONS[State.TERMINATED] == {}
    # Timers A and B run only in Calling; Timer D only in Completed.
    timer_rows = {
        state: {event.value for event in row if event.value.startswith("Timer")}
        for state, row in INVITE_TRANSITIONS.items()
    }
    assert timer_rows == {
        State.CALLING: {"Timer A", "Timer B"},
        State.PROCEEDING: set(),
        State.COMPLETED: {"Timer D"},
        State.TERMINATED: set(),
    }


def _in_state(state: InviteTransactionState, *, reliable: bool) -> InviteClientTransaction:
    """A transaction brought to ``state`` at time 1.0 by the responses of figure 5."""
    tx = InviteClientTransaction(INVITE, reliable=reliable, now=0.0)
    if state is State.PROCEEDING:
        tx.receive_response(RINGING, now=1.0)
    elif state is State.COMPLETED:
        tx.receive_response(BUSY, now=1.0)
    elif state is State.TERMINATED:
        tx.receive_response(OK, now=1.0)
    assert tx.state is state
    return tx


ACK = SendAck(build_ack_non2xx(INVITE, BUSY))
# RFC 3261 §17.1.1.2, figure 5, one row per arrow (transport errors aside: a stream that
# breaks ends the whole call, probe.net.call), over UDP where every timer runs.  Each row:
# state, event, next state, what the transaction asks for.
FIGURE_5 = [
    ("calling-1xx", State.CALLING, RINGING, State.PROCEEDING, [Deliver(RINGING)]),
    ("calling-2xx", State.CALLING, OK, State.TERMINATED, [Deliver(OK)]),
    ("calling-300-699", State.CALLING, BUSY, State.COMPLETED, [ACK, Deliver(BUSY)]),
    ("calling-timer-a", State.CALLING, "A", State.CALLING, [Retransmit()]),
    ("calling-timer-b", State.CALLING, "B", State.TERMINATED, [TimedOut()]),
    ("proceeding-1xx", State.PROCEEDING, RINGING, State.PROCEEDING, [Deliver(RINGING)]),
    ("proceeding-2xx", State.PROCEEDING, OK, State.TERMINATED, [Deliver(OK)]),
    ("proceeding-300-699", State.PROCEEDING, BUSY, State.COMPLETED, [ACK, Deliver(BUSY)]),
    ("completed-300-699", State.COMPLETED, BUSY, State.COMPLETED, [ACK]),
    ("completed-timer-d", State.COMPLETED, "D", State.TERMINATED, []),
]


@pytest.mark.parametrize(
    ("state", "event", "after", "actions"),
    [row[1:] for row in FIGURE_5],
    ids=[row[0] for row in FIGURE_5],
)
def test_every_arrow_of_figure_5(state, event, after, actions):
    tx = _in_state(state, reliable=False)
    if event == "A":
        got = tx.handle_timer(0.5)
    elif event == "B":
        got = tx.handle_timer(32.0)
    elif event == "D":
        got = tx.handle_timer(1.0 + TIMER_D_UNRELIABLE)
    else:
        got = tx.receive_response(event, now=2.0)
    assert got == actions
    assert tx.state is after


@pytest.mark.parametrize("state", [State.PROCEEDING, State.COMPLETED, State.TERMINATED])
def test_timers_a_and_b_stop_once_the_transaction_leaves_calling(state):
    tx = _in_state(state, reliable=False)
    assert tx.handle_timer(0.5) == []
    assert tx.handle_timer(32.0) == []
    assert tx.state is state
