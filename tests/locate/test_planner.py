"""The RFC 3263 planner over canned answers: no socket, no clock."""

from __future__ import annotations

import pytest

from probe.locate import (
    DnsAnswer,
    DnsQuery,
    SrvRecord,
)
from probe.locate.pins import parse_pin
from tests.locate.fakes import (
    DOMAIN,
    TRUNK,
    Cname,
    Fail,
    Zone,
    asked,
    endpoints,
    naptr,
    planner,
    run,
)

# --- no DNS at all ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        ("sip:192.0.2.1", "192.0.2.1:5060/udp"),
        ("sips:192.0.2.1", "192.0.2.1:5061/tls"),
        ("sip:[2001:db8::1]", "[2001:db8::1]:5060/udp"),
        ("sips:[2001:db8::1]:5071", "[2001:db8::1]:5071/tls"),
        ("sip:192.0.2.1;transport=tcp", "192.0.2.1:5060/tcp"),
        ("sip:192.0.2.1;transport=tls", "192.0.2.1:5061/tls"),
    ],
)
def test_ip_literal_needs_no_query(uri: str, endpoint: str) -> None:
    plan = planner(uri)
    assert plan.done
    assert plan.next_query() is None
    result = plan.result()
    assert endpoints(result) == [endpoint]
    assert result.targets[0].via == ("IP literal",)
    assert result.targets[0].srv_target is None
    assert result.answers == ()
    assert result.problems == ()
    assert "RFC 3263 §4.1" in result.transport_reason


def test_ip_literal_ignores_pins() -> None:
    result = planner("sip:192.0.2.1:5060", pins=(parse_pin("192.0.2.1:5060:127.0.0.9"),)).result()
    assert endpoints(result) == ["192.0.2.1:5060/udp"]


def test_maddr_is_the_target_and_the_host_stays_the_identity() -> None:
    result = planner(f"sip:{DOMAIN};maddr=192.0.2.7;transport=tcp").result()
    assert endpoints(result) == ["192.0.2.7:5060/tcp"]
    assert result.targets[0].host == DOMAIN
    assert result.targets[0].via == ("maddr 192.0.2.7", "IP literal")


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("sip:example.test;transport=sctp", "transport=sctp is not supported"),
        ("sips:example.test;transport=udp", "a sips: URI cannot use transport=udp"),
    ],
)
def test_unusable_transport_is_a_problem_without_queries(uri: str, problem: str) -> None:
    plan = planner(uri)
    assert plan.done
    result = plan.result()
    assert result.targets == ()
    assert result.problems[0].startswith(problem)


# --- explicit port and explicit transport (no NAPTR) -------------------------------


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        (f"sip:sbc.{DOMAIN}:5070", "127.0.0.5:5070/udp"),
        (f"sips:sbc.{DOMAIN}:5071", "127.0.0.5:5071/tls"),
        (f"sip:sbc.{DOMAIN}:5072;transport=tcp", "127.0.0.5:5072/tcp"),
    ],
)
def test_explicit_port_skips_naptr_and_srv(uri: str, endpoint: str) -> None:
    result, zone = run(uri, {(f"sbc.{DOMAIN}", "A"): ["127.0.0.5"]})
    assert asked(zone) == [f"AAAA sbc.{DOMAIN}", f"A sbc.{DOMAIN}"]
    assert endpoints(result) == [endpoint]
    assert result.targets[0].via[-1] == "A 127.0.0.5"
    assert "explicit port" in result.targets[0].via[0]


@pytest.mark.parametrize(
    ("uri", "srv_name", "transport"),
    [
        (f"sip:{DOMAIN};transport=tcp", f"_sip._tcp.{DOMAIN}", "tcp"),
        (f"sip:{DOMAIN};transport=udp", f"_sip._udp.{DOMAIN}", "udp"),
        (f"sip:{DOMAIN};transport=tls", f"_sips._tcp.{DOMAIN}", "tls"),
        (f"sip:{DOMAIN};transport=TLS", f"_sips._tcp.{DOMAIN}", "tls"),
        (f"sips:{DOMAIN};transport=tcp", f"_sips._tcp.{DOMAIN}", "tls"),
    ],
)
def test_known_transport_asks_its_srv_name_only(uri: str, srv_name: str, transport: str) -> None:
    entries = {
        (srv_name, "SRV"): [SrvRecord(0, 0, 7000, f"sbc.{DOMAIN}")],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, zone = run(uri, entries)
    assert asked(zone) == [f"SRV {srv_name}", f"AAAA sbc.{DOMAIN}", f"A sbc.{DOMAIN}"]
    assert endpoints(result) == [f"127.0.0.5:7000/{transport}"]
    assert result.transport_reason.startswith("transport=")


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        (f"sip:{DOMAIN};transport=tcp", "127.0.0.5:5060/tcp"),
        (f"sip:{DOMAIN};transport=tls", "127.0.0.5:5061/tls"),
    ],
)
def test_known_transport_without_srv_falls_back_to_the_default_port(
    uri: str, endpoint: str
) -> None:
    result, zone = run(uri, {(DOMAIN, "A"): ["127.0.0.5"]})
    assert len(zone.asked) == 3  # SRV, AAAA, A
    assert endpoints(result) == [endpoint]
    assert "default port" in result.targets[0].via[0]


def test_sips_and_transport_tls_use_the_same_srv_name() -> None:
    entries = {
        (f"_sips._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5061, f"sbc.{DOMAIN}")],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    sips, sips_zone = run(f"sips:{DOMAIN}", entries)
    tls, tls_zone = run(f"sip:{DOMAIN};transport=tls", entries)
    # sips: still asks NAPTR first (no transport parameter); transport=tls skips it.
    assert asked(sips_zone)[:2] == [f"NAPTR {DOMAIN}", f"SRV _sips._tcp.{DOMAIN}"]
    assert asked(tls_zone)[0] == f"SRV _sips._tcp.{DOMAIN}"
    assert endpoints(sips) == endpoints(tls) == ["127.0.0.5:5061/tls"]


# --- NAPTR --------------------------------------------------------------------------


def test_full_naptr_srv_address_walk() -> None:
    result, zone = run(f"sips:alice@{DOMAIN}", TRUNK, seed=7)
    assert asked(zone)[:2] == [f"NAPTR {DOMAIN}", f"SRV _sips._tcp.{DOMAIN}"]
    assert sorted(asked(zone)[2:]) == sorted(
        f"{t} sip-{x}.{DOMAIN}" for x in "abc" for t in ("A", "AAAA")
    )
    assert {t.host for t in result.targets} == {DOMAIN}  # identity: the URI host
    assert {t.transport for t in result.targets} == {"tls"}
    # Priority 10 (a and b, weighted) before priority 20 (c).
    assert [t.srv_target for t in result.targets][-1] == f"sip-c.{DOMAIN}"
    a_targets = [t for t in result.targets if t.srv_target == f"sip-a.{DOMAIN}"]
    assert [t.address for t in a_targets] == ["::1", "127.0.0.2"]  # AAAA before A
    first = a_targets[0]
    assert first.via == (
        f'NAPTR 10 50 "s" SIPS+D2T → _sips._tcp.{DOMAIN}',
        f"SRV 10 60 5061 sip-a.{DOMAIN} (60% of priority 10)",
        "AAAA ::1",
    )
    assert (first.priority, first.weight, first.share, first.port) == (10, 60, 0.6, 5061)
    assert result.transport_reason.startswith("NAPTR SIPS+D2T (order 10, preference 50)")
    assert result.problems == ()
    assert [a.query for a in result.answers] == zone.asked


def test_naptr_order_then_preference() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(20, 10, "SIPS+D2T", f"_sips._tcp.late.{DOMAIN}"),
            naptr(10, 90, "SIP+D2U", f"_sip._udp.{DOMAIN}"),
            naptr(10, 20, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
        ],
    }
    _, zone = run(f"sip:{DOMAIN}", entries)
    # None of the SRV names exist, so every usable NAPTR is tried, in RFC 3403 order,
    # then the standard names not asked yet.
    assert asked(zone)[:4] == [
        f"NAPTR {DOMAIN}",
        f"SRV _sip._tcp.{DOMAIN}",
        f"SRV _sip._udp.{DOMAIN}",
        f"SRV _sips._tcp.late.{DOMAIN}",
    ]
    assert asked(zone)[4] == f"SRV _sips._tcp.{DOMAIN}"


def test_naptr_tie_prefers_tls_whatever_the_listing_order() -> None:
    records = [naptr(10, 10, "SIP+D2U", "_sip._udp.x.test"), naptr(10, 10, "SIPS+D2T", "_s.x.test")]
    for listing in (records, records[::-1]):
        _, zone = run("sip:x.test", {("x.test", "NAPTR"): listing})
        assert asked(zone)[1] == "SRV _s.x.test"


def test_naptr_with_empty_srv_falls_through_to_the_next_record() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(10, 10, "SIPS+D2T", f"_sips._tcp.broken.{DOMAIN}"),
            naptr(20, 10, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
        ],
        (f"_sip._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5060, f"sbc.{DOMAIN}")],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(result) == ["127.0.0.5:5060/tcp"]
    assert result.transport_reason.startswith("NAPTR SIP+D2T")
    assert result.problems == (
        f"NAPTR points to _sips._tcp.broken.{DOMAIN}, which has no SRV records (NXDOMAIN); "
        "trying the next choice",
    )


def test_sips_ignores_sip_services() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(10, 10, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
            naptr(10, 20, "SIP+D2U", f"_sip._udp.{DOMAIN}"),
            naptr(30, 10, "SIPS+D2T", f"_sips._tcp.{DOMAIN}"),
        ],
        (f"_sip._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5060, f"plain.{DOMAIN}")],
        (f"_sips._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5061, f"tls.{DOMAIN}")],
        (f"plain.{DOMAIN}", "A"): ["127.0.0.6"],
        (f"tls.{DOMAIN}", "A"): ["127.0.0.7"],
    }
    sips, sips_zone = run(f"sips:{DOMAIN}", entries)
    assert f"SRV _sip._tcp.{DOMAIN}" not in asked(sips_zone)
    assert endpoints(sips) == ["127.0.0.7:5061/tls"]
    sip, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(sip) == ["127.0.0.6:5060/tcp"]


def test_naptr_without_usable_record_is_reported_and_srv_is_tried() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(10, 10, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
            naptr(10, 10, "SIP+D2W", f"_sip._ws.{DOMAIN}"),
            naptr(10, 10, "SIP+D2S", f"_sip._sctp.{DOMAIN}"),
            naptr(10, 10, "SIPS+D2T", f"tls.{DOMAIN}", flags="a"),
        ],
        (f"_sips._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5061, f"tls.{DOMAIN}")],
        (f"tls.{DOMAIN}", "A"): ["127.0.0.7"],
    }
    result, zone = run(f"sips:{DOMAIN}", entries)
    assert asked(zone)[1] == f"SRV _sips._tcp.{DOMAIN}"
    assert endpoints(result) == ["127.0.0.7:5061/tls"]
    (problem,) = result.problems
    assert problem.startswith(f"NAPTR {DOMAIN} has no record this client can use")
    assert "SIP+D2T: a sips: URI needs SIPS+D2T" in problem
    # WebSocket without TLS is no SIPS service (RFC 7118 §5.3 pairs SIPS+D2W with TLS).
    assert "SIP+D2W: a sips: URI needs SIPS+D2T or SIPS+D2W" in problem
    assert "SIP+D2S: service not supported" in problem
    assert 'SIPS+D2T: flags "a" instead of "s"' in problem


def test_no_naptr_tries_srv_names_in_order_and_first_that_exists_wins() -> None:
    entries = {
        (f"_sip._tcp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5060, f"sbc.{DOMAIN}")],
        (f"_sip._udp.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 5060, f"udp.{DOMAIN}")],
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, zone = run(f"sip:{DOMAIN}", entries)
    assert asked(zone)[:3] == [
        f"NAPTR {DOMAIN}",
        f"SRV _sips._tcp.{DOMAIN}",
        f"SRV _sip._tcp.{DOMAIN}",
    ]
    assert f"SRV _sip._udp.{DOMAIN}" not in asked(zone)
    assert endpoints(result) == ["127.0.0.5:5060/tcp"]
    assert result.transport_reason == f"SRV _sip._tcp.{DOMAIN} exists → TCP (RFC 3263 §4.1)"


@pytest.mark.parametrize(
    ("uri", "srv_names", "endpoint"),
    [
        (f"sip:{DOMAIN}", ["_sips._tcp", "_sip._tcp", "_sip._udp"], "127.0.0.5:5060/udp"),
        (f"sips:{DOMAIN}", ["_sips._tcp"], "127.0.0.5:5061/tls"),
    ],
)
def test_no_records_at_all_falls_back_to_addresses(
    uri: str, srv_names: list[str], endpoint: str
) -> None:
    entries = {(DOMAIN, "A"): ["127.0.0.5"]}
    result, zone = run(uri, entries)
    assert asked(zone) == [
        f"NAPTR {DOMAIN}",
        *(f"SRV {name}.{DOMAIN}" for name in srv_names),
        f"AAAA {DOMAIN}",
        f"A {DOMAIN}",
    ]
    assert endpoints(result) == [endpoint]
    assert result.transport_reason.startswith("no NAPTR or SRV records")
    assert result.problems == ()


def test_nxdomain_is_a_problem_and_gives_no_targets() -> None:
    result, zone = run(f"sip:sbc.{DOMAIN}", {})
    assert len(zone.asked) == 6  # NAPTR, three SRV, AAAA, A: all NXDOMAIN, all cheap
    assert result.targets == ()
    assert result.problems == (f"NXDOMAIN for sbc.{DOMAIN}",)
    assert {a.error_kind for a in result.answers} == {"nxdomain"}


# --- addresses ---------------------------------------------------------------------


def test_addresses_aaaa_first_then_a_each_sorted_numerically() -> None:
    entries = {
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.10", "127.0.0.9"],
        (f"sbc.{DOMAIN}", "AAAA"): ["::10", "::9"],
    }
    result, _ = run(f"sip:sbc.{DOMAIN}:5060", entries)
    assert [t.address for t in result.targets] == ["::9", "::10", "127.0.0.9", "127.0.0.10"]


def test_concurrent_answers_in_any_order_give_the_same_plan() -> None:
    plain, _ = run(f"sips:{DOMAIN}", TRUNK, seed=3)
    batched, _ = run(f"sips:{DOMAIN}", TRUNK, seed=3, batch=True)
    reverse, _ = run(f"sips:{DOMAIN}", TRUNK, seed=3, batch=True, reverse=True)
    assert plain.targets == batched.targets == reverse.targets


def test_batch_offers_every_address_query_at_once() -> None:
    plan = planner(f"sip:{DOMAIN};transport=tls")
    zone = Zone(TRUNK)
    query = plan.next_query()
    assert query == DnsQuery(f"_sips._tcp.{DOMAIN}", "SRV")
    assert plan.next_query() is None  # the SRV answer decides what comes next
    plan.receive(zone.answer(query))
    offered = []
    while (q := plan.next_query()) is not None:
        offered.append(q)
    assert len(offered) == 6
    assert not plan.done


def test_cname_canonical_name_is_kept() -> None:
    entries = {
        (f"sip.{DOMAIN}", "A"): Cname(f"host-1.{DOMAIN}", ("127.0.0.8",)),
    }
    result, _ = run(f"sip:sip.{DOMAIN}:5060", entries)
    (target,) = result.targets
    assert target.via[-2:] == (f"CNAME sip.{DOMAIN} → host-1.{DOMAIN}", "A 127.0.0.8")
    assert target.host == f"sip.{DOMAIN}"
    a_answer = next(a for a in result.answers if a.query.rdtype == "A")
    assert a_answer.canonical_name == f"host-1.{DOMAIN}"


def test_pins_replace_the_address_step_only() -> None:
    pins = (
        parse_pin(f"sip-a.{DOMAIN}:5061:127.0.0.1"),
        parse_pin(f"sip-b.{DOMAIN}:9999:127.0.0.1"),  # wrong port: not used
    )
    result, zone = run(f"sips:{DOMAIN}", TRUNK, pins=pins, seed=7)
    assert asked(zone)[:2] == [f"NAPTR {DOMAIN}", f"SRV _sips._tcp.{DOMAIN}"]
    assert f"A sip-a.{DOMAIN}" not in asked(zone)
    assert f"A sip-b.{DOMAIN}" in asked(zone)
    pinned = [t for t in result.targets if t.srv_target == f"sip-a.{DOMAIN}"]
    assert [t.address for t in pinned] == ["127.0.0.1"]
    assert pinned[0].via[-1] == f"pinned by --resolve sip-a.{DOMAIN}:5061:127.0.0.1"


def test_pin_for_the_uri_host_with_explicit_port_asks_nothing() -> None:
    plan = planner(f"sips:sip.{DOMAIN}:5061", pins=(parse_pin(f"sip.{DOMAIN}:5061:127.0.0.1"),))
    assert plan.done
    (target,) = plan.result().targets
    assert (target.address, target.port, target.host) == ("127.0.0.1", 5061, f"sip.{DOMAIN}")
    assert target.via[-1] == f"pinned by --resolve sip.{DOMAIN}:5061:127.0.0.1"


# --- failures ----------------------------------------------------------------------


def test_timeout_stops_the_walk() -> None:
    entries = {(DOMAIN, "NAPTR"): Fail("timeout", "no answer from 192.0.2.53:53 within 5 s")}
    result, zone = run(f"sip:{DOMAIN}", entries)
    assert asked(zone) == [f"NAPTR {DOMAIN}"]
    assert result.targets == ()
    assert result.problems == (
        f"TIMEOUT for NAPTR {DOMAIN}: no answer from 192.0.2.53:53 within 5 s; "
        "the RFC 3263 walk stops here",
    )
    assert result.transport_reason == "unknown: DNS did not answer"


def test_servfail_on_srv_is_reported_and_the_walk_goes_on() -> None:
    entries = {
        (f"_sips._tcp.{DOMAIN}", "SRV"): Fail("servfail", "192.0.2.53:53 answered SERVFAIL"),
        (DOMAIN, "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(result) == ["127.0.0.5:5060/udp"]
    assert result.problems == (
        f"SERVFAIL for SRV _sips._tcp.{DOMAIN}: 192.0.2.53:53 answered SERVFAIL",
    )


def test_aaaa_timeout_keeps_the_a_targets() -> None:
    entries = {
        (f"sbc.{DOMAIN}", "AAAA"): Fail("timeout", "dropped"),
        (f"sbc.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, _ = run(f"sip:sbc.{DOMAIN}:5060", entries)
    assert endpoints(result) == ["127.0.0.5:5060/udp"]
    assert result.problems == (f"TIMEOUT for AAAA sbc.{DOMAIN}: dropped",)


# --- the driver contract ---------------------------------------------------------------


def test_receive_rejects_an_answer_to_a_question_not_asked() -> None:
    plan = planner(f"sip:{DOMAIN}")
    with pytest.raises(ValueError, match="was not asked"):
        plan.receive(DnsAnswer(DnsQuery(DOMAIN, "A"), ("127.0.0.1",)))
    query = plan.next_query()
    assert query is not None
    plan.receive(DnsAnswer(query, error_kind="nxdomain"))
    with pytest.raises(ValueError, match="already answered"):
        plan.receive(DnsAnswer(query, error_kind="nxdomain"))


def test_result_before_done_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before the plan is complete"):
        planner(f"sip:{DOMAIN}").result()


def test_the_uri_password_never_reaches_the_evidence() -> None:
    result = planner("sip:alice:s3cret@192.0.2.1").result()
    assert result.uri == "sip:alice@192.0.2.1"
    assert "s3cret" not in str(result.to_dict())


def test_unparseable_maddr_is_a_problem() -> None:
    plan = planner(f"sip:{DOMAIN};maddr=bad_host")
    assert plan.done
    assert plan.result().problems[0].startswith("maddr 'bad_host' is not a host")


def test_find_pin_takes_the_first_match_whatever_the_container() -> None:
    from probe.locate.pins import find_pin

    first, second = (
        parse_pin("SBC.example.test.:5061:127.0.0.2"),
        parse_pin("sbc.example.test:5061:127.0.0.3"),
    )
    other = parse_pin("sbc.example.test:5062:127.0.0.4")
    pins = (first, second, other)
    assert find_pin(pins, "sbc.example.test.", 5061) is first
    assert find_pin(pins, "SBC.EXAMPLE.TEST", 5062) is other
    assert find_pin(pins, "sbc.example.test", 5063) is None
    # Another run's pins (a new tuple, or a list) are indexed afresh.
    assert find_pin((second,), "sbc.example.test", 5061) is second
    assert find_pin([other, first], "sbc.example.test", 5061) is first
    assert find_pin((), "sbc.example.test", 5061) is None


def test_a_pin_table_finds_what_a_scan_finds_and_is_the_tuple_it_was_made_of() -> None:
    from probe.locate.pins import PinTable, find_pin

    pins = (
        parse_pin("SBC.example.test.:5061:127.0.0.2"),
        parse_pin("sbc.example.test:5061:127.0.0.3"),
        parse_pin("sbc.example.test:5062:127.0.0.4"),
    )
    table = PinTable(pins)
    assert table == pins
    assert len(table) == 3
    for host, port in [("sbc.example.test.", 5061), ("SBC.EXAMPLE.TEST", 5062), ("x.test", 1)]:
        assert find_pin(table, host, port) is find_pin(pins, host, port)
    assert find_pin(table, "sbc.example.test", 5061) is pins[0]
