"""A `--count` run judged from its figures: the whole story, thresholds, bounded memory."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

import pytest

from probe.evidence.model import PingEnd, ProbeEvidence, SipExchange
from probe.evidence.ping import (
    SAMPLE_FAILURES,
    SAMPLE_HEAD,
    SAMPLE_TAIL,
    PingCounter,
    reply_line,
    stdev_ms,
)
from probe.verdict.checks.options import (
    AcceptedCodes,
    PingThresholds,
    ThresholdError,
    check_options,
    parse_icmp_pair,
)
from probe.verdict.findings import Status
from tests.checks.evidence_factory import evidence, exchange, options_request, response

ACCEPT_2XX = AcceptedCodes()


def answered(number: int, rtt: float = 2.0, code: int = 200) -> SipExchange:
    request = options_request(cseq=number, branch=f"p{number}")
    reason = "OK" if code == 200 else "Service Unavailable"
    made = exchange(request, [response(request, code, reason)], sent_at=10.0, final_at=10 + rtt)
    return replace(made, received=(replace(made.received[0], at_ms=10 + rtt),), final_status=code)


def unanswered(number: int, outcome: str = "timeout", error: str = "no answer") -> SipExchange:
    request = options_request(cseq=number, branch=f"p{number}")
    return exchange(request, [], outcome=outcome, final_at=None, error=error)  # type: ignore[arg-type]


def run(
    count: int,
    exchanges: list[SipExchange],
    *,
    lost: bool = False,
    stopped: PingEnd | None = None,
) -> ProbeEvidence:
    """The evidence the collector makes of a `--count` run (probe.net.options)."""
    counter = PingCounter(count)
    for item in exchanges:
        counter.add(item)
    if lost:
        counter.connection_lost(exchanges[-1])
    return replace(evidence(), exchanges=counter.exchanges(), ping=counter.tally(stopped))


def test_every_probe_answered_passes_with_the_figures() -> None:
    finding = check_options(run(5, [answered(n, rtt=float(n)) for n in range(1, 6)]), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.PASS, finding.summary
    details = finding.details
    assert (details["count"], details["sent"], details["answered"]) == (5, 5, 5)
    assert (details["lost"], details["never_sent"], details["ended"]) == (0, 0, "completed")
    assert details["loss_pct"] == 0
    assert details["codes"] == {"200": 5}
    assert details["rtt_ms"] == {"min": 1.0, "avg": 3.0, "max": 5.0, "stdev": 1.414}
    assert finding.summary == (
        "5 sent, 5 answered, 0 lost; 0% loss of 5 asked, rtt min/avg/max/stdev = 1.0/3.0/5.0/1.4 ms"
    )


def test_a_connection_reset_mid_run_fails_naming_when_and_how() -> None:
    exchanges = [answered(n) for n in range(1, 5)]
    exchanges.append(unanswered(5, "reset", "the server reset the connection"))
    finding = check_options(run(20, exchanges, lost=True), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert finding.summary.startswith(
        "the far end reset the connection at probe 5 of 20 (the server reset the connection)"
    )
    assert "5 sent, 4 answered, 1 lost, 15 never sent; 80% loss of 20 asked" in finding.summary
    assert finding.details["ended"] == "connection_lost"
    assert finding.details["ended_at"] == 5
    assert finding.details["never_sent"] == 15
    assert finding.details["loss_pct"] == 80.0


def test_a_connection_closed_after_every_answer_still_fails() -> None:
    """Even with no probe lost among those sent, the run never finished: the far end
    closed the connection, and loss counts what was asked."""
    exchanges = [answered(1), unanswered(2, "closed", "the server closed the connection")]
    finding = check_options(run(3, exchanges, lost=True), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "the far end closed the connection at probe 2 of 3" in finding.summary


def test_six_of_twenty_answered_is_beyond_the_default_critical_loss() -> None:
    exchanges = [answered(n) if n % 3 == 0 else unanswered(n) for n in range(1, 21)]
    finding = check_options(run(20, exchanges), ACCEPT_2XX)
    assert finding is not None
    assert finding.details["answered"] == 6
    assert finding.details["loss_pct"] == 70.0
    assert finding.status is Status.FAIL
    assert finding.summary.startswith("loss above --loss-crit 20%: 20 sent, 6 answered, 14 lost")


@pytest.mark.parametrize(
    ("stopped", "why"),
    [
        ("max_time", "the run hit --max-time after probe 8 of 20"),
        ("interrupted", "the run was interrupted after probe 8 of 20"),
    ],
)
def test_a_run_cut_short_is_incomplete_and_keeps_its_answers(stopped: PingEnd, why: str) -> None:
    finding = check_options(
        run(20, [answered(n) for n in range(1, 9)], stopped=stopped), ACCEPT_2XX
    )
    assert finding is not None
    assert finding.status is Status.INCOMPLETE
    assert finding.summary.startswith(f"{why}: 8 sent, 8 answered, 0 lost, 12 never sent")
    # Loss over what was asked, said beside the loss over what the far end was sent.
    assert "60% loss of 20 asked (0% of those sent)" in finding.summary
    assert finding.details["loss_of_sent_pct"] == 0
    assert finding.details["ended"] == stopped


def test_a_run_cut_short_still_fails_on_what_it_saw() -> None:
    exchanges = [answered(1), unanswered(2), unanswered(3)]
    finding = check_options(run(20, exchanges, stopped="max_time"), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "loss above --loss-crit 20%" in finding.summary


def test_a_run_cut_before_its_first_probe_is_incomplete() -> None:
    finding = check_options(run(10, [], stopped="max_time"), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.INCOMPLETE
    assert "0 sent, 0 answered, 0 lost, 10 never sent" in finding.summary


@pytest.mark.parametrize(
    ("rtt", "status", "words"),
    [
        (100.0, Status.PASS, None),
        (350.0, Status.WARN, "RTT above --rtt-warn 300 ms"),
        (700.0, Status.FAIL, "RTT above --rtt-crit 500 ms"),
    ],
)
def test_rtt_thresholds_apply_to_the_average(rtt: float, status: Status, words: str | None) -> None:
    exchanges = [answered(1, rtt=rtt - 50), answered(2, rtt=rtt + 50)]
    finding = check_options(run(2, exchanges), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is status, finding.summary
    if words:
        assert finding.summary.startswith(words)


def test_rtt_thresholds_apply_to_a_single_probe_when_given() -> None:
    request = options_request()
    slow = exchange(request, [response(request, 200, "OK")], sent_at=0.0, final_at=400.0)
    given = PingThresholds(judge_single_rtt=True)
    finding = check_options(evidence(slow), ACCEPT_2XX, given)
    assert finding is not None
    assert finding.status is Status.WARN
    assert finding.summary == "200 OK in 400.0 ms: RTT above --rtt-warn 300 ms"
    relaxed = PingThresholds(rtt_warn_ms=450, judge_single_rtt=True)
    relaxed_finding = check_options(evidence(slow), ACCEPT_2XX, relaxed)
    assert relaxed_finding is not None
    assert relaxed_finding.status is Status.PASS


def test_a_single_probe_is_not_judged_by_the_default_rtt_thresholds() -> None:
    # One slow answer is no trend: a sweep on a busy prober must not warn by default.
    request = options_request()
    slow = exchange(request, [response(request, 200, "OK")], sent_at=0.0, final_at=900.0)
    finding = check_options(evidence(slow), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.PASS
    assert finding.summary == "200 OK in 900.0 ms"
    assert "thresholds" not in finding.details


def test_loss_thresholds_are_configurable() -> None:
    exchanges = [answered(n) if n != 7 else unanswered(n) for n in range(1, 11)]
    lenient = PingThresholds(loss_warn_pct=10, loss_crit_pct=50)
    finding = check_options(run(10, exchanges), ACCEPT_2XX, lenient)
    assert finding is not None
    assert finding.status is Status.PASS  # 10% is not above 10%
    strict = PingThresholds(loss_warn_pct=0, loss_crit_pct=5)
    failing = check_options(run(10, exchanges), ACCEPT_2XX, strict)
    assert failing is not None
    assert failing.status is Status.FAIL


def test_error_answers_fail_even_without_loss() -> None:
    exchanges = [answered(1), answered(2, code=503)]
    finding = check_options(run(2, exchanges), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert finding.details["codes"] == {"200": 1, "503": 1}
    assert "(1 healthy)" in finding.summary


@pytest.mark.parametrize(
    ("thresholds", "words"),
    [
        (PingThresholds(loss_warn_pct=50, loss_crit_pct=10), "--loss-warn 50% is above"),
        (PingThresholds(rtt_warn_ms=900), "--rtt-warn 900 ms is above --rtt-crit 500 ms"),
        (PingThresholds(loss_crit_pct=120), "--loss-crit 120: a loss is a percentage"),
        (PingThresholds(rtt_warn_ms=0), "--rtt-warn 0: a round-trip time above 0 ms"),
    ],
)
def test_thresholds_out_of_order_are_refused(thresholds: PingThresholds, words: str) -> None:
    with pytest.raises(ThresholdError, match=words):
        thresholds.check()


def test_check_icmp_pairs() -> None:
    assert parse_icmp_pair("-w", "200,40%") == (200.0, 40.0)
    assert parse_icmp_pair("-c", "500.5ms, 80%") == (500.5, 80.0)
    for bad in ("200", "200,40", "fast,40%", ",%"):
        with pytest.raises(ThresholdError, match="RTT,LOSS%"):
            parse_icmp_pair("-w", bad)


def test_a_long_run_keeps_exact_statistics_and_a_bounded_sample() -> None:
    rng = random.Random(7)
    rtts: list[float] = []
    counter = PingCounter(5000)
    for number in range(1, 5001):
        if number % 97 == 0:
            counter.add(unanswered(number))
            continue
        rtt = rng.uniform(0.5, 80.0)
        rtts.append(rtt)
        counter.add(answered(number, rtt=rtt))
    tally = counter.tally()
    assert (tally.sent, tally.answered) == (5000, len(rtts))
    assert tally.rtt.min_ms == pytest.approx(min(rtts))
    assert tally.rtt.max_ms == pytest.approx(max(rtts))
    assert tally.rtt.mean_ms == pytest.approx(statistics.fmean(rtts), rel=1e-9)
    assert stdev_ms(tally.rtt) == pytest.approx(statistics.pstdev(rtts), rel=1e-9)
    kept = counter.exchanges()
    assert len(kept) == tally.exchanges_kept <= SAMPLE_HEAD + SAMPLE_TAIL + SAMPLE_FAILURES
    # The first and last probes, and the failures between (51 here, under the cap).
    numbers = [int(item.request.split(b"CSeq: ")[1].split(b" ")[0]) for item in kept]
    assert numbers[:SAMPLE_HEAD] == list(range(1, SAMPLE_HEAD + 1))
    assert numbers[-SAMPLE_TAIL:] == list(range(5001 - SAMPLE_TAIL, 5001))
    assert [n for n in numbers if n % 97 == 0] == list(range(97, 5001, 97))
    assert numbers == sorted(numbers)


def test_every_exchange_is_kept_when_asked() -> None:
    counter = PingCounter(500, keep_all=True)
    for number in range(1, 501):
        counter.add(answered(number))
    assert len(counter.exchanges()) == 500


def test_reply_lines_read_like_ping() -> None:
    where = "127.0.0.1:5061/tls"
    assert reply_line(answered(3, rtt=1.234), 3, where) == (
        "200 OK from 127.0.0.1:5061/tls: seq=3 time=1.23 ms"
    )
    assert reply_line(unanswered(4), 4, where) == (
        "no answer from 127.0.0.1:5061/tls: seq=4 (timeout)"
    )
    reset = unanswered(5, "reset", "the server reset the connection")
    assert reply_line(reset, 5, where) == (
        "no answer from 127.0.0.1:5061/tls: seq=5 (reset: the server reset the connection)"
    )
