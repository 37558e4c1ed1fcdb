"""The dnspython driver against a real DNS server (dnsmasq) on loopback."""

from __future__ import annotations

import random
import time

import pytest

from probe.locate import LocateResult, format_plan
from probe.locate.driver import locate
from probe.locate.pins import parse_pin
from probe.sip.uri import parse_uri
from tests.locate.conftest import TRUNK
from tests.peers.dnsmasq import Dnsmasq

pytestmark = pytest.mark.peer


async def resolve(uri: str, server: Dnsmasq, seed: int = 1, **kw) -> LocateResult:
    return await locate(parse_uri(uri), dns_server=server.address, rng=random.Random(seed), **kw)


def endpoints(result: LocateResult) -> list[str]:
    return [t.endpoint for t in result.targets]


async def test_full_naptr_srv_address_walk(dnsmasq: Dnsmasq) -> None:
    result = await resolve(f"sips:{TRUNK}", dnsmasq)
    assert result.problems == ()
    assert [str(a.query) for a in result.answers[:2]] == [
        f"NAPTR {TRUNK}",
        f"SRV _sips._tcp.{TRUNK}",
    ]
    assert sorted(endpoints(result)[:2]) == ["127.0.0.2:5061/tls", "127.0.0.3:5061/tls"]
    assert endpoints(result)[2] == "[::1]:5062/tls"
    assert {t.host for t in result.targets} == {TRUNK}
    first = result.targets[0]
    assert first.via[0] == f'NAPTR 10 50 "s" SIPS+D2T → _sips._tcp.{TRUNK}'
    assert first.via[1].startswith("SRV 10 ")
    server = f"{dnsmasq.host}:{dnsmasq.port}"
    for answer in result.answers:
        assert answer.server == server
        assert answer.elapsed_ms is not None
        assert answer.elapsed_ms < 1000
        if answer.ok:
            assert answer.ttl == 60
    assert format_plan(result)[1].startswith("transport: NAPTR SIPS+D2T")


async def test_srv_order_follows_the_seed(dnsmasq: Dnsmasq) -> None:
    orders = set()
    for seed in range(12):
        first = await resolve(f"sips:{TRUNK}", dnsmasq, seed=seed)
        again = await resolve(f"sips:{TRUNK}", dnsmasq, seed=seed)
        assert endpoints(first) == endpoints(again)
        orders.add(tuple(endpoints(first)))
        shares = {t.srv_target: t.share for t in first.targets}
        assert shares == {
            f"sip-a.{TRUNK}": pytest.approx(0.6),
            f"sip-b.{TRUNK}": pytest.approx(0.4),
            f"sip-c.{TRUNK}": 1.0,
        }
    assert orders == {
        ("127.0.0.2:5061/tls", "127.0.0.3:5061/tls", "[::1]:5062/tls"),
        ("127.0.0.3:5061/tls", "127.0.0.2:5061/tls", "[::1]:5062/tls"),
    }


async def test_sip_uri_takes_the_most_preferred_naptr(dnsmasq: Dnsmasq) -> None:
    result = await resolve(f"sip:{TRUNK};transport=tcp", dnsmasq)
    assert endpoints(result) == ["127.0.0.2:5060/tcp"]
    assert str(result.answers[0].query) == f"SRV _sip._tcp.{TRUNK}"


async def test_explicit_port_asks_a_and_aaaa_only(dnsmasq: Dnsmasq) -> None:
    result = await resolve("sip:sbc.example.test:5070", dnsmasq)
    assert [str(a.query) for a in result.answers] == [
        "AAAA sbc.example.test",
        "A sbc.example.test",
    ]
    assert endpoints(result) == ["[::1]:5070/udp", "127.0.0.5:5070/udp"]


async def test_unknown_name_is_nxdomain_not_an_exception(dnsmasq: Dnsmasq) -> None:
    result = await resolve("sip:unknown.example.test", dnsmasq)
    assert result.targets == ()
    assert result.problems == ("NXDOMAIN for unknown.example.test",)
    assert {a.error_kind for a in result.answers} == {"nxdomain"}
    assert len(result.answers) == 6


async def test_name_outside_the_local_domain_is_refused(dnsmasq: Dnsmasq) -> None:
    result = await resolve("sip:sbc.elsewhere.invalid:5060", dnsmasq)
    assert result.targets == ()
    assert {a.error_kind for a in result.answers} == {"refused"}
    assert "no A/AAAA for sbc.elsewhere.invalid (the lookups failed)" in result.problems


async def test_cname_chain_is_followed_and_recorded(dnsmasq: Dnsmasq) -> None:
    result = await resolve("sip:alias.example.test:5060;transport=tcp", dnsmasq)
    assert endpoints(result) == ["127.0.0.2:5060/tcp"]
    (target,) = result.targets
    assert target.host == "alias.example.test"
    assert f"CNAME alias.example.test → sip-a.{TRUNK}" in target.via
    a_answer = next(a for a in result.answers if a.query.rdtype == "A")
    assert a_answer.canonical_name == f"sip-a.{TRUNK}"


async def test_srv_target_dot_is_reported(dnsmasq: Dnsmasq) -> None:
    result = await resolve("sips:closed.example.test", dnsmasq)
    assert result.targets == ()
    assert result.problems == (
        "SRV _sips._tcp.closed.example.test points to '.' (service not offered)",
    )


async def test_pins_replace_only_the_address_lookup(dnsmasq: Dnsmasq) -> None:
    pins = [parse_pin(f"sip-a.{TRUNK}:5061:127.0.0.9")]
    result = await resolve(f"sips:{TRUNK}", dnsmasq, pins=pins)
    assert "127.0.0.9:5061/tls" in endpoints(result)
    assert "127.0.0.2:5061/tls" not in endpoints(result)
    assert f"A sip-a.{TRUNK}" not in [str(a.query) for a in result.answers]


async def test_silent_server_times_out_within_the_deadline(silent_udp_port: int) -> None:
    started = time.monotonic()
    result = await locate(
        parse_uri("sip:trunk.example.test"),
        dns_server=("127.0.0.1", silent_udp_port),
        timeout=0.6,
        rng=random.Random(1),
    )
    elapsed = time.monotonic() - started
    assert elapsed < 0.6 + 0.5
    (answer,) = result.answers  # the walk stops: the next questions would time out too
    assert answer.error_kind == "timeout"
    assert result.targets == ()
    assert "the RFC 3263 walk stops here" in result.problems[0]


async def test_silent_server_with_explicit_port_asks_both_families_at_once(
    silent_udp_port: int,
) -> None:
    started = time.monotonic()
    result = await locate(
        parse_uri("sip:sbc.example.test:5060"),
        dns_server=("127.0.0.1", silent_udp_port),
        timeout=0.6,
    )
    assert time.monotonic() - started < 0.6 + 0.5  # concurrent, not 2 × 0.6 s
    assert [a.error_kind for a in result.answers] == ["timeout", "timeout"]


async def test_ip_literal_needs_no_resolver() -> None:
    # No dns_server: a resolver would read /etc/resolv.conf; a literal never builds one.
    result = await locate(parse_uri("sips:127.0.0.1:5061"))
    assert endpoints(result) == ["127.0.0.1:5061/tls"]
    assert result.answers == ()
