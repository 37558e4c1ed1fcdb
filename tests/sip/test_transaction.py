"""Non-INVITE client transaction timers (RFC 3261 §17.1.2), driven by injected time."""

from __future__ import annotations

import pytest

from probe.sip import (
    Deliver,
    NonInviteClientTransaction,
    Retransmit,
    SipBuildError,
    TimedOut,
    TimerConfig,
    TransactionState,
    build_options,
    new_branch,
    parse_uri,
)
from probe.sip.transaction import TRANSITIONS

from .samples import response_to

REQUEST = build_options(
    parse_uri("sip:trunk.example.com"),
    transport="UDP",
    local_host="192.0.2.10",
    local_port=5060,
    branch=new_branch("t1"),
    from_tag="ft",
    call_id="c1",
    user_agent="sipprobe/test",
)
TRYING = response_to(REQUEST, 100, "Trying")
OK = response_to(REQUEST, 200, "OK")


def run_until_done(
    tx: NonInviteClientTransaction, limit: float = 1000.0
) -> list[tuple[float, object]]:
    """Fire every timer on time until none is left; return (time, action) pairs."""
    events: list[tuple[float, object]] = []
    while (at := tx.get_timer()) is not None and at <= limit:
        events.extend((at, action) for action in tx.handle_timer(at))
    return events


def test_udp_timer_e_doubles_to_t2_then_timer_f_at_32s():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    assert tx.state is TransactionState.TRYING
    assert tx.get_timer() == 0.5
    events = run_until_done(tx)
    retransmits = [t for t, action in events if isinstance(action, Retransmit)]
    # Intervals 0.5, 1, 2, 4, 4, 4...: sent at 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5.
    assert retransmits == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert events[-1] == (32.0, TimedOut())
    assert tx.state is TransactionState.TERMINATED
    assert tx.terminated
    assert tx.get_timer() is None


def test_reliable_never_retransmits_and_times_out_at_32s():
    tx = NonInviteClientTransaction(REQUEST, reliable=True, now=100.0)
    assert tx.get_timer() == 132.0
    assert tx.handle_timer(131.9) == []
    assert tx.handle_timer(132.0) == [TimedOut()]
    assert tx.terminated


def test_custom_timers():
    tx = NonInviteClientTransaction(
        REQUEST, reliable=False, now=0.0, timers=TimerConfig(t1=0.1, t2=0.3)
    )
    events = run_until_done(tx)
    retransmits = [round(t, 6) for t, action in events if isinstance(action, Retransmit)]
    assert retransmits[:5] == [0.1, 0.3, 0.6, 0.9, 1.2]
    assert events[-1][1] == TimedOut()
    assert events[-1][0] == pytest.approx(6.4)


def test_provisional_moves_to_proceeding_and_retransmits_every_t2():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    assert tx.handle_timer(0.5) == [Retransmit()]  # next E at 1.5
    assert tx.receive_response(TRYING, now=1.0) == [Deliver(TRYING)]
    assert tx.state is TransactionState.PROCEEDING
    assert tx.get_timer() == 1.5  # the running Timer E is not reset by the 1xx
    events = run_until_done(tx)
    retransmits = [t for t, action in events if isinstance(action, Retransmit)]
    assert retransmits == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert events[-1] == (32.0, TimedOut())


def test_more_provisionals_in_proceeding_are_delivered():
    tx = NonInviteClientTransaction(REQUEST, reliable=True, now=0.0)
    assert tx.receive_response(TRYING, now=0.1) == [Deliver(TRYING)]
    assert tx.receive_response(TRYING, now=0.2) == [Deliver(TRYING)]
    assert tx.state is TransactionState.PROCEEDING


def test_final_response_over_udp_completes_then_terminates_after_t4():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    tx.receive_response(TRYING, now=0.2)
    assert tx.receive_response(OK, now=2.0) == [Deliver(OK)]
    assert tx.state is TransactionState.COMPLETED
    assert tx.final_response == OK
    # Timers E and F are cancelled; only Timer K = T4 is left.
    assert tx.get_timer() == 7.0
    # Retransmissions of the final response are absorbed.
    assert tx.receive_response(OK, now=3.0) == []
    assert tx.receive_response(TRYING, now=3.0) == []
    assert tx.handle_timer(6.9) == []
    assert tx.state is TransactionState.COMPLETED
    assert tx.handle_timer(7.0) == []
    assert tx.terminated
    assert tx.get_timer() is None


def test_final_response_over_reliable_transport_terminates_at_once():
    tx = NonInviteClientTransaction(REQUEST, reliable=True, now=0.0)
    assert tx.receive_response(OK, now=1.0) == [Deliver(OK)]
    assert tx.terminated
    assert tx.get_timer() is None
    assert tx.receive_response(OK, now=1.1) == []


def test_final_response_straight_from_trying():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    failure = response_to(REQUEST, 503, "Service Unavailable")
    assert tx.receive_response(failure, now=0.3) == [Deliver(failure)]
    assert tx.state is TransactionState.COMPLETED
    assert tx.get_timer() == 5.3


def test_late_handle_timer_retransmits_once_not_in_a_burst():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    assert tx.handle_timer(10.0) == [Retransmit()]
    assert tx.get_timer() == 11.0


def test_handle_timer_before_anything_is_due_does_nothing():
    tx = NonInviteClientTransaction(REQUEST, reliable=False, now=0.0)
    assert tx.handle_timer(0.1) == []
    assert tx.state is TransactionState.TRYING


def test_transition_table_covers_every_state():
    assert set(TRANSITIONS) == set(TransactionState)
    assert TRANSITIONS[TransactionState.TERMINATED] == {}


@pytest.mark.parametrize("kwargs", [{"t1": 0}, {"t2": -1.0}, {"t4": "5"}])
def test_timer_config_must_be_positive(kwargs):
    with pytest.raises(SipBuildError, match="TimerConfig"):
        TimerConfig(**kwargs)
