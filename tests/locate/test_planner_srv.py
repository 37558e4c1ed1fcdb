"""The planner's SRV step (RFC 2782 order, weights, '.') and its named limits."""

from __future__ import annotations

from typing import Any

import pytest

from probe.locate import (
    MAX_ADDRESS_NAMES,
    MAX_NAPTR_FOLLOWED,
    SrvRecord,
)
from tests.locate.fakes import (
    DOMAIN,
    TRUNK,
    asked,
    endpoints,
    naptr,
    run,
)

# --- SRV -----------------------------------------------------------------------------


def test_srv_target_dot_means_not_offered() -> None:
    entries = {
        (f"_sips._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 0, ".")],
        (DOMAIN, "A"): ["127.0.0.5"],
    }
    result, zone = run(f"sips:{DOMAIN}", entries)
    assert result.targets == ()
    assert result.problems == (f"SRV _sips._tcp.{DOMAIN} points to '.' (service not offered)",)
    assert f"A {DOMAIN}" not in asked(zone)  # no A/AAAA guess for a refused service


def test_srv_dot_for_tls_lets_a_sip_uri_go_on_to_other_transports() -> None:
    entries = {
        (f"_sips._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 0, ".")],
        (f"_sip._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5060, f"sbc.{DOMAIN}")],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(result) == ["127.0.0.5:5060/tcp"]
    assert len(result.problems) == 1


def test_srv_order_is_reproducible_for_a_seed_and_follows_priority() -> None:
    orders = set()
    for seed in range(40):
        first, _ = run(f"sips:{DOMAIN}", TRUNK, seed=seed)
        again, _ = run(f"sips:{DOMAIN}", TRUNK, seed=seed)
        assert endpoints(first) == endpoints(again)
        srv_order = [t.srv_target for t in first.targets]
        assert srv_order[-1] == f"sip-c.{DOMAIN}"
        orders.add(tuple(dict.fromkeys(srv_order)))
    assert orders == {
        (f"sip-a.{DOMAIN}", f"sip-b.{DOMAIN}", f"sip-c.{DOMAIN}"),
        (f"sip-b.{DOMAIN}", f"sip-a.{DOMAIN}", f"sip-c.{DOMAIN}"),
    }


def test_srv_order_does_not_depend_on_the_listing_order() -> None:
    reordered = dict(TRUNK)
    reordered[(f"_sips._tcp.{DOMAIN}", "SRV")] = list(TRUNK[(f"_sips._tcp.{DOMAIN}", "SRV")])[::-1]
    for seed in range(10):
        assert endpoints(run(f"sips:{DOMAIN}", TRUNK, seed=seed)[0]) == endpoints(
            run(f"sips:{DOMAIN}", reordered, seed=seed)[0]
        )


def test_srv_shares_and_weight_zero() -> None:
    entries = {
        (f"_sips._tcp.{DOMAIN}", "SRV"): [
            SrvRecord(10, 3, 5061, f"a.{DOMAIN}"),
            SrvRecord(10, 1, 5061, f"b.{DOMAIN}"),
            SrvRecord(10, 0, 5061, f"z.{DOMAIN}"),
            SrvRecord(20, 0, 5061, f"x.{DOMAIN}"),
            SrvRecord(20, 0, 5061, f"y.{DOMAIN}"),
        ],
        **{(f"{n}.{DOMAIN}", "A"): [f"127.0.1.{i}"] for i, n in enumerate("abzxy", 1)},
    }
    result, _ = run(f"sip:{DOMAIN};transport=tls", entries)
    shares = {t.srv_target: t.share for t in result.targets}
    # Weighted with a zero among them: total 4, one extra point for the zero (RFC 2782).
    assert shares == {
        f"a.{DOMAIN}": pytest.approx(3 / 5),
        f"b.{DOMAIN}": pytest.approx(1 / 5),
        f"z.{DOMAIN}": pytest.approx(1 / 5),
        f"x.{DOMAIN}": pytest.approx(1 / 2),
        f"y.{DOMAIN}": pytest.approx(1 / 2),
    }
    line = next(t.via[-2] for t in result.targets if t.srv_target == f"z.{DOMAIN}")
    assert line == f"SRV 10 0 5061 z.{DOMAIN} (20% of priority 10)"


def test_duplicate_srv_target_names_are_looked_up_once() -> None:
    entries = {
        (f"_sip._udp.{DOMAIN}", "SRV"): [
            SrvRecord(10, 0, 5060, f"sbc.{DOMAIN}"),
            SrvRecord(20, 0, 5080, f"sbc.{DOMAIN}"),
        ],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, zone = run(f"sip:{DOMAIN};transport=udp", entries)
    assert asked(zone).count(f"A sbc.{DOMAIN}") == 1
    assert endpoints(result) == ["127.0.0.5:5060/udp", "127.0.0.5:5080/udp"]


def test_srv_target_without_addresses_is_reported_and_the_rest_kept() -> None:
    entries = {
        (f"_sip._udp.{DOMAIN}", "SRV"): [
            SrvRecord(10, 0, 5060, f"sip-a.{DOMAIN}"),
            SrvRecord(20, 0, 5060, f"sip-b.{DOMAIN}"),
        ],
        (f"sip-a.{DOMAIN}", "A"): ["127.0.0.2"],
        (f"sip-b.{DOMAIN}", "TXT"): [],
    }
    result, _ = run(f"sip:{DOMAIN};transport=udp", entries)
    assert endpoints(result) == ["127.0.0.2:5060/udp"]
    assert result.problems == (f"no A/AAAA for sip-b.{DOMAIN}",)


# --- named limits, each at the limit ----------------------------------------------


@pytest.mark.parametrize("count", [MAX_ADDRESS_NAMES, MAX_ADDRESS_NAMES + 1])
def test_srv_target_names_are_bounded(count: int) -> None:
    records = [SrvRecord(10, 1, 5060, f"t{i:03}.{DOMAIN}") for i in range(count)]
    entries: dict[tuple[str, str], Any] = {(f"_sip._udp.{DOMAIN}", "SRV"): records}
    entries.update({(f"t{i:03}.{DOMAIN}", "A"): [f"127.0.2.{i}"] for i in range(count)})
    result, zone = run(f"sip:{DOMAIN};transport=udp", entries)
    looked_up = min(count, MAX_ADDRESS_NAMES)
    assert len(zone.asked) == 1 + 2 * looked_up
    assert len(result.targets) == looked_up
    if count > MAX_ADDRESS_NAMES:
        assert result.problems == (
            f"{count} SRV targets; addresses are looked up for the first {MAX_ADDRESS_NAMES} only",
        )
    else:
        assert result.problems == ()


@pytest.mark.parametrize("count", [MAX_NAPTR_FOLLOWED, MAX_NAPTR_FOLLOWED + 1])
def test_followed_naptr_records_are_bounded(count: int) -> None:
    records = [naptr(10, i, "SIP+D2T", f"_sip._tcp.n{i}.{DOMAIN}") for i in range(count)]
    _, zone = run(f"sip:{DOMAIN}", {(DOMAIN, "NAPTR"): records})
    followed = [q for q in asked(zone) if q.startswith("SRV _sip._tcp.n")]
    assert len(followed) == min(count, MAX_NAPTR_FOLLOWED)


def test_srv_mixing_dot_with_targets_uses_the_targets() -> None:
    entries = {
        (f"_sip._udp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 0, "."), SrvRecord(1, 0, 5060, "s.test")],
        ("s.test", "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:{DOMAIN};transport=udp", entries)
    assert endpoints(result) == ["127.0.0.5:5060/udp"]
    assert result.problems == (f"SRV _sip._udp.{DOMAIN} mixes '.' with real targets; '.' ignored",)


def test_fallback_reason_says_the_naptr_led_nowhere() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [naptr(10, 10, "SIP+D2U", f"_sip._udp.{DOMAIN}")],
        (DOMAIN, "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(result) == ["127.0.0.5:5060/udp"]
    assert result.transport_reason.startswith("no SRV records behind the NAPTR records → UDP")
