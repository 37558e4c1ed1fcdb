"""The data model, its JSON form, the --dns-server parser and the plain-text plan."""

from __future__ import annotations

import json
import random

import pytest

from probe.locate import (
    DnsAnswer,
    DnsQuery,
    LocatePlanner,
    LocateResult,
    NaptrRecord,
    SrvRecord,
    format_plan,
    parse_dns_server,
)
from probe.sip.uri import parse_uri
from tests.locate.fakes import TRUNK, Zone, drive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("2001:DB8::53", ("2001:db8::53", 53)),
        (" 192.0.2.53:53 ", ("192.0.2.53", 53)),
    ],
)
def test_parse_dns_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_dns_server(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dns.example.test", "is not an IP address"),
        ("dns.example.test:53", "is not an IP address"),
        ("127.0.0.1:", "a port is missing"),
        ("127.0.0.1:0", "is not 1-65535"),
        ("127.0.0.1:65536", "is not 1-65535"),
        ("127.0.0.1:dns", "is not 1-65535"),
        ("[::1", r"expected \[IPv6\]"),
        ("[::1]5353", r"expected \[IPv6\]"),
        ("[::1]:", "a port is missing"),
        ("", "is not an IP address"),
    ],
)
def test_parse_dns_server_refuses_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_dns_server(text)


def test_names_are_normalised() -> None:
    assert SrvRecord(0, 0, 5061, "SIP-A.Example.TEST.").target == "sip-a.example.test"
    assert SrvRecord(0, 0, 0, ".").target == "."
    assert NaptrRecord(1, 1, "s", "SIP+D2T", "", "").replacement == "."
    with pytest.raises(ValueError, match="normalised"):
        DnsQuery("Example.test.", "A")
    with pytest.raises(ValueError, match="not NAPTR"):
        DnsQuery("example.test", "MX")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "records", "error"),
    [
        (DnsQuery("x.test", "A"), ("::1",), ValueError),
        (DnsQuery("x.test", "AAAA"), ("::0001",), ValueError),
        (DnsQuery("x.test", "SRV"), ("127.0.0.1",), TypeError),
        (DnsQuery("x.test", "NAPTR"), (SrvRecord(0, 0, 1, "a.test"),), TypeError),
    ],
)
def test_answer_records_must_match_the_query(query, records, error) -> None:
    with pytest.raises(error):
        DnsAnswer(query, records)


def test_answer_with_an_error_has_no_records() -> None:
    with pytest.raises(ValueError, match="has records"):
        DnsAnswer(DnsQuery("x.test", "A"), ("127.0.0.1",), error_kind="timeout")


def trunk_result() -> LocateResult:
    plan = LocatePlanner(parse_uri("sips:example.test"), rng=random.Random(7))
    return drive(plan, Zone(TRUNK))


def test_to_dict_is_plain_json() -> None:
    result = trunk_result()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["uri"] == "sips:example.test"
    assert data["targets"][0] == {
        "host": "example.test",
        "address": "::1",
        "port": 5061,
        "transport": "tls",
        "srv_target": "sip-a.example.test",
        "priority": 10,
        "weight": 60,
        "share": 0.6,
        "via": [
            'NAPTR 10 50 "s" SIPS+D2T → _sips._tcp.example.test',
            "SRV 10 60 5061 sip-a.example.test (60% of priority 10)",
            "AAAA ::1",
        ],
    }
    naptr = data["answers"][0]
    assert naptr["query"] == {"name": "example.test", "type": "NAPTR"}
    assert naptr["records"][1]["service"] == "SIPS+D2T"
    assert naptr["ttl"] == 300
    assert data["answers"][2]["records"] == ["::1"]
    assert data["problems"] == []


def test_format_plan_lists_targets_answers_then_problems() -> None:
    lines = format_plan(trunk_result())
    text = "\n".join(lines)
    assert lines[0] == "sips:example.test"
    assert lines[1].startswith("transport: NAPTR SIPS+D2T")
    assert "  1. [::1]:5061/tls  verify as example.test  SRV target sip-a.example.test" in text
    assert "       SRV 10 60 5061 sip-a.example.test (60% of priority 10)" in lines
    assert "  NAPTR example.test: 2 records, TTL 300 s, from DNS server 192.0.2.53:53" in lines
    assert "problems" not in text
    assert text.index("targets") < text.index("name lookups")


def test_format_plan_without_targets_shows_problems() -> None:
    plan = LocatePlanner(parse_uri("sip:nope.example.test:5060"), rng=random.Random(1))
    lines = format_plan(drive(plan, Zone({})))
    assert "targets: none" in lines
    assert lines[-2:] == ["problems (1):", "  - NXDOMAIN for nope.example.test"]
