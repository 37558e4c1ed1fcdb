"""`-4` / `-6` in the RFC 3263 planner: only A or only AAAA is asked, and a pinned address
or an IP literal of the other family becomes no target, with a problem saying why."""

from __future__ import annotations

import random

import pytest

from probe.locate.pins import parse_pin
from probe.locate.plan import AddressFamily, LocatePlanner, family_of
from probe.sip import parse_uri
from tests.locate.fakes import DOMAIN, TRUNK, Zone, asked, drive, endpoints

DUAL = {
    (f"sbc.{DOMAIN}", "A"): ["127.0.0.10", "127.0.0.9"],
    (f"sbc.{DOMAIN}", "AAAA"): ["::10", "::9"],
}


def family_planner(uri: str, family: AddressFamily, **kw: object) -> LocatePlanner:
    return LocatePlanner(parse_uri(uri), rng=random.Random(1), family=family, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("family", "addresses", "types"),
    [("ipv4", ["127.0.0.9", "127.0.0.10"], {"A"}), ("ipv6", ["::9", "::10"], {"AAAA"})],
)
def test_only_the_familys_records_are_asked(
    family: AddressFamily, addresses: list[str], types: set[str]
) -> None:
    zone = Zone(DUAL)
    result = drive(family_planner(f"sip:sbc.{DOMAIN}:5060", family), zone)
    assert [t.address for t in result.targets] == addresses
    assert {query.rdtype for query in zone.asked} == types
    assert result.problems == ()


def test_a_name_with_no_record_of_the_family_says_which_was_asked() -> None:
    zone = Zone({(f"sbc.{DOMAIN}", "A"): ["127.0.0.9"]})
    result = drive(family_planner(f"sip:sbc.{DOMAIN}:5060", "ipv6"), zone)
    assert result.targets == ()
    assert result.problems == (f"no AAAA for sbc.{DOMAIN}",)


def test_the_whole_walk_asks_one_family_at_the_end() -> None:
    zone = Zone(TRUNK)
    result = drive(family_planner(f"sips:{DOMAIN}", "ipv4"), zone)
    assert result.targets
    assert all(family_of(target.address) == "ipv4" for target in result.targets)
    assert not any(line.startswith("AAAA ") for line in asked(zone))


def test_a_pin_of_the_other_family_is_left_out() -> None:
    pins = (parse_pin(f"sbc.{DOMAIN}:5060:[::1]"),)
    plan = family_planner(f"sip:sbc.{DOMAIN}:5060", "ipv4", pins=pins)
    assert plan.done
    result = plan.result()
    assert result.targets == ()
    assert result.problems == (f"--resolve {pins[0]}: ::1 left out: only IPv4 (-4) asked",)


@pytest.mark.parametrize(
    ("uri", "family", "kept"),
    [
        ("sip:192.0.2.1;transport=tcp", "ipv4", ["192.0.2.1:5060/tcp"]),
        ("sip:192.0.2.1;transport=tcp", "ipv6", []),
        ("sip:[2001:db8::1];transport=tcp", "ipv6", ["[2001:db8::1]:5060/tcp"]),
        ("sip:[2001:db8::1];transport=tcp", "ipv4", []),
    ],
)
def test_an_ip_literal_of_the_other_family_is_left_out(
    uri: str, family: AddressFamily, kept: list[str]
) -> None:
    result = family_planner(uri, family).result()
    assert endpoints(result) == kept
    assert bool(result.problems) == (not kept)
