"""RFC 2782 SRV ordering and RFC 3403 NAPTR selection, on their own."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from probe.locate import NaptrRecord, SrvRecord, srv_shares
from probe.locate.order import order_srv, usable_naptrs

DRAWS = 20_000


def first_picks(records: list[SrvRecord], seed: int = 11) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(order_srv(records, rng)[0].record.target for _ in range(DRAWS))


def srv(weight: int, target: str, priority: int = 10) -> SrvRecord:
    return SrvRecord(priority, weight, 5061, target)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([60, 40], [0.6, 0.4]),
        ([0, 0, 0, 0], [0.25] * 4),
        ([1], [1.0]),
        ([0], [1.0]),
        ([3, 1, 0], [3 / 5, 1 / 5, 1 / 5]),
        ([100, 0, 0], [100 / 101, 1 / 202, 1 / 202]),
    ],
)
def test_shares(weights: list[int], expected: list[float]) -> None:
    shares = srv_shares([srv(w, f"t{i}.test") for i, w in enumerate(weights)])
    assert shares == pytest.approx(expected)
    assert sum(shares) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "weights", [[60, 40], [0, 0, 0], [3, 1, 0], [100, 0], [1, 1, 1, 97], [65535, 1]]
)
def test_first_pick_frequencies_match_the_shares(weights: list[int]) -> None:
    records = [srv(w, f"t{i}.test") for i, w in enumerate(weights)]
    picks = first_picks(records)
    for record, share in zip(records, srv_shares(records), strict=True):
        # Four standard deviations of a binomial count: a flaky failure is ~1 in 15,000.
        tolerance = 4 * (DRAWS * share * (1 - share)) ** 0.5 + 1
        assert abs(picks[record.target] - DRAWS * share) <= tolerance, (record, picks)


def test_weight_zero_is_rarely_but_sometimes_first() -> None:
    picks = first_picks([srv(100, "heavy.test"), srv(0, "zero.test")])
    assert 0 < picks["zero.test"] < DRAWS * 0.02


def test_priority_always_wins_over_weight() -> None:
    records = [srv(0, "backup.test", priority=20), srv(1, "a.test"), srv(1000, "b.test")]
    rng = random.Random(5)
    for _ in range(200):
        assert order_srv(records, rng)[-1].record.target == "backup.test"


def test_same_seed_same_order_and_every_record_once() -> None:
    records = [srv(w, f"t{w}.test") for w in (5, 10, 20, 0, 65)]
    first = [o.record for o in order_srv(records, random.Random(42))]
    assert first == [o.record for o in order_srv(records[::-1], random.Random(42))]
    assert sorted(first, key=lambda r: r.target) == sorted(records, key=lambda r: r.target)


def test_naptr_sorting_and_filtering() -> None:
    records = [
        NaptrRecord(20, 10, "s", "SIP+D2U", "", "_sip._udp.x.test"),
        NaptrRecord(10, 20, "S", "sip+d2t", "", "_sip._tcp.x.test"),
        NaptrRecord(10, 10, "s", "SIPS+D2T", "", "_sips._tcp.x.test"),
        NaptrRecord(5, 10, "s", "SIPS+D2S", "", "_sips._sctp.x.test"),
        NaptrRecord(5, 10, "s", "SIP+D2T", "!^.*$!sip:x@x.test!", "."),
        NaptrRecord(5, 10, "u", "E2U+sip", "!^.*$!sip:x@x.test!", "."),
    ]
    usable, ignored = usable_naptrs(records, sips=False)
    assert [(c.record.service, c.transport) for c in usable] == [
        ("SIPS+D2T", "tls"),
        ("sip+d2t", "tcp"),  # flags and services compare case-insensitively
        ("SIP+D2U", "udp"),
    ]
    assert ignored == [
        "SIPS+D2S: service not supported",
        "SIP+D2T: no replacement name",
        "E2U+sip: service not supported",
    ]
    usable, _ = usable_naptrs(records, sips=True)
    assert [c.transport for c in usable] == ["tls"]


@pytest.mark.parametrize("weights", [[50, 30, 20], [70, 20, 5, 5], [1, 1, 2]])
def test_second_pick_frequencies_follow_rfc_2782(weights: list[int]) -> None:
    # RFC 2782: the record picked is removed and the draw repeats over the rest, so the
    # second place goes to j with probability sum over i != j of P(i first) * w_j / (W - w_i).
    records = [srv(w, f"t{i}.test") for i, w in enumerate(weights)]
    total = sum(weights)
    expected = {
        r.target: sum(
            (weights[i] / total) * r.weight / (total - weights[i])
            for i in range(len(weights))
            if records[i] is not r
        )
        for r in records
    }
    rng = random.Random(23)
    seconds = Counter(order_srv(records, rng)[1].record.target for _ in range(DRAWS))
    for target, share in expected.items():
        tolerance = 4 * (DRAWS * share * (1 - share)) ** 0.5 + 1
        assert abs(seconds[target] - DRAWS * share) <= tolerance, (target, seconds, expected)


def test_every_place_is_drawn_from_what_is_left() -> None:
    # Three records at one priority: each ordering is a permutation, and over many draws
    # every record reaches the last place (a sort by weight would never put t0 last).
    records = [srv(w, f"t{i}.test") for i, w in enumerate([60, 30, 10])]
    rng = random.Random(3)
    lasts = Counter(order_srv(records, rng)[-1].record.target for _ in range(DRAWS))
    assert set(lasts) == {"t0.test", "t1.test", "t2.test"}
    # t0 is last only when both others were drawn first: 0.3*0.1/0.7 + 0.1*0.3/0.9.
    share = 0.3 * (10 / 70) + 0.1 * (30 / 90)
    assert abs(lasts["t0.test"] - DRAWS * share) <= 4 * (DRAWS * share * (1 - share)) ** 0.5 + 1
