"""A/AAAA through the system's name service, with the lookup injected at the driver's
seam: no test here sends a query anywhere (a name not in /etc/hosts would go to the
machine's DNS resolver, which tests never use)."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from probe.evidence.codec import decode, encode
from probe.locate import DnsAnswer, DnsQuery, LocateResult, format_plan
from probe.locate.driver import locate
from probe.locate.name_service import (
    AddressLookup,
    SystemAsker,
    describe_system_resolver,
    getaddrinfo_addresses,
)
from probe.sip.uri import parse_uri

V4, V6 = int(socket.AF_INET), int(socket.AF_INET6)
SYSTEM = "system resolver (getaddrinfo: /etc/hosts, DNS)"


class Recorded:
    """A lookup that answers from a table (or raises) and counts what it was asked."""

    def __init__(self, answer: Sequence[tuple[int, str]] | Exception) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, name: str) -> Sequence[tuple[int, str]]:
        self.asked.append(name)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def located(uri: str, lookup: AddressLookup, timeout: float = 2.0) -> LocateResult:
    """Locate with an explicit port, so NAPTR/SRV (which go to DNS) are never asked."""
    return await locate(parse_uri(uri), timeout=timeout, rng=random.Random(1), system_lookup=lookup)


def gai(code: int, text: str) -> socket.gaierror:
    return socket.gaierror(code, text)


async def test_addresses_come_from_the_system_lookup_one_call_per_name() -> None:
    lookup = Recorded(
        [(V6, "::1"), (V4, "127.0.0.9"), (V4, "127.0.0.9"), (V4, "127.0.0.2"), (V6, "0::1")]
    )
    result = await located("sip:Trunk.Lab:5070;transport=tcp", lookup)
    assert lookup.asked == ["trunk.lab"]  # AAAA and A share one AF_UNSPEC lookup
    aaaa, a = result.answers
    assert (str(aaaa.query), aaaa.records) == ("AAAA trunk.lab", ("::1",))
    # The name service's order, without repeats; the planner orders the targets.
    assert (str(a.query), a.records) == ("A trunk.lab", ("127.0.0.9", "127.0.0.2"))
    assert [t.endpoint for t in result.targets] == [
        "[::1]:5070/tcp",
        "127.0.0.2:5070/tcp",
        "127.0.0.9:5070/tcp",
    ]
    assert {answer.source for answer in result.answers} == {"system"}
    assert all(str(answer.server).startswith("system resolver (") for answer in (a, aaaa))
    assert result.targets[1].via[-1] == "A 127.0.0.2 (system resolver)"
    assert result.problems == ()


async def test_a_family_without_addresses_is_no_address_not_a_failure() -> None:
    result = await located("sip:lab.test:5060", Recorded([(V4, "127.0.0.5")]))
    aaaa, a = result.answers
    assert aaaa.error_kind == "nodata"
    assert aaaa.outcome == "no IPv6 address"
    assert a.outcome == "1 address"
    assert [t.endpoint for t in result.targets] == ["127.0.0.5:5060/udp"]
    assert result.problems == ()


@pytest.mark.parametrize(
    ("error", "kind", "outcome", "problem"),
    [
        (
            gai(socket.EAI_NONAME, "Name or service not known"),
            "nxdomain",
            "name not found",
            "nowhere.test: name not found, according to the system resolver",
        ),
        (
            gai(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "temporary",
            "temporary failure",
            "nowhere.test: temporary failure in name resolution (EAI_AGAIN: Temporary "
            "failure in name resolution); asking again later may succeed, according to the "
            "system resolver",
        ),
        (
            gai(socket.EAI_FAIL, "Non-recoverable failure in name resolution"),
            "error",
            "error",
            "nowhere.test: non-recoverable failure in name resolution (EAI_FAIL",
        ),
        (
            gai(socket.EAI_NODATA, "No address associated with hostname"),
            "nodata",
            "no IPv4 address",
            "nowhere.test: no address, according to the system resolver",
        ),
        (
            UnicodeError("label too long"),
            "error",
            "error",
            "nowhere.test: getaddrinfo failed: UnicodeError: label too long",
        ),
    ],
)
async def test_every_failure_becomes_an_answer_and_one_sentence(
    error: Exception, kind: str, outcome: str, problem: str
) -> None:
    result = await located("sip:nowhere.test:5060;transport=tcp", Recorded(error))
    assert [a.error_kind for a in result.answers] == [kind, kind]
    assert result.answers[1].outcome == outcome
    assert result.targets == ()
    # One sentence per name (A and AAAA came from one lookup), never "NXDOMAIN".
    (said,) = result.problems
    assert said.startswith(problem), said
    assert "NXDOMAIN" not in said
    assert "NXDOMAIN" not in "\n".join(format_plan(result))


async def test_a_lookup_that_hangs_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()

    def hang(name: str) -> Sequence[tuple[int, str]]:
        release.wait(30)
        return [(V4, "127.0.0.1")]

    started = time.monotonic()
    try:
        result = await located("sip:slow.test:5060", hang, timeout=0.2)
    finally:
        release.set()
    assert time.monotonic() - started < 2.0
    assert [a.error_kind for a in result.answers] == ["timeout", "timeout"]
    error = result.answers[0].error
    assert error is not None
    assert "no answer within 0.2 s" in error
    assert "abandoned" in error
    assert result.problems[0].startswith("slow.test: no answer within 0.2 s")


async def test_an_answer_after_the_deadline_is_dropped_quietly() -> None:
    """The thread outlives the deadline and the loop: its late result goes nowhere."""
    release = threading.Event()
    finished = threading.Event()

    def late(name: str) -> Sequence[tuple[int, str]]:
        release.wait(30)
        finished.set()
        return [(V4, "127.0.0.1")]

    asker = SystemAsker(0.05, late, description=SYSTEM)
    answer = await asker(DnsQuery("late.test", "A"))
    assert answer.error_kind == "timeout"
    release.set()
    assert finished.wait(5)


async def test_with_a_dns_server_the_system_lookup_is_never_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dns.asyncresolver

    asked_dns: list[str] = []

    async def nxdomain(self: object, name: object, rdtype: str, **kw: object) -> None:
        import dns.resolver

        asked_dns.append(f"{rdtype} {name}")
        raise dns.resolver.NXDOMAIN()  # type: ignore[no-untyped-call]

    monkeypatch.setattr(dns.asyncresolver.Resolver, "resolve", nxdomain)
    lookup = Recorded([(V4, "127.0.0.1")])
    result = await locate(
        parse_uri("sip:localhost:5060"),
        dns_server=("127.0.0.1", 5353),
        rng=random.Random(1),
        system_lookup=lookup,
    )
    assert lookup.asked == []
    assert asked_dns == ["AAAA localhost.", "A localhost."]
    assert {a.source for a in result.answers} == {"dns"}
    assert result.problems == ("NXDOMAIN for localhost",)


@pytest.mark.parametrize(
    ("nsswitch", "description"),
    [
        ("hosts:          files dns\n", SYSTEM),
        ("# comment\nhosts: files\n", "system resolver (getaddrinfo: /etc/hosts)"),
        (
            "hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname\n",
            "system resolver (getaddrinfo: /etc/hosts, mdns4_minimal, DNS, the local host name)",
        ),
        (
            "hosts: resolve [!UNAVAIL=return] files # systemd\n",
            "system resolver (getaddrinfo: systemd-resolved, /etc/hosts)",
        ),
        ("passwd: files\n", "system resolver (getaddrinfo)"),
        (None, "system resolver (getaddrinfo)"),
    ],
)
def test_the_description_names_the_sources_nsswitch_gives(
    nsswitch: str | None, description: str
) -> None:
    assert describe_system_resolver(nsswitch) == description


def test_getaddrinfo_addresses_reads_an_address_literal_without_any_lookup() -> None:
    # A literal never reaches a name service; the shape is what the driver expects.
    assert getaddrinfo_addresses("127.0.0.1") == [(V4, "127.0.0.1")]
    assert getaddrinfo_addresses("::1") == [(V6, "::1")]


def test_the_plan_says_which_source_answered() -> None:
    system = DnsAnswer(
        DnsQuery("lab.test", "A"), ("127.0.0.5",), server=SYSTEM, elapsed_ms=0.4, source="system"
    )
    dns = DnsAnswer(DnsQuery("lab.test", "A"), ("127.0.0.5",), ttl=60, server="127.0.0.1:53")
    result = LocateResult("sip:lab.test:5060", "explicit port", (), (system, dns), ())
    lines = format_plan(result)
    assert f"  A lab.test: 1 address, from {SYSTEM}, 0.4 ms" in lines
    assert "  A lab.test: 1 record, TTL 60 s, from DNS server 127.0.0.1:53" in lines


def test_a_system_answer_round_trips_through_the_evidence_codec() -> None:
    answer = DnsAnswer(
        DnsQuery("lab.test", "AAAA"),
        error_kind="temporary",
        error="temporary failure in name resolution",
        server=SYSTEM,
        source="system",
    )
    data = json.loads(json.dumps(encode(answer)))
    assert data["source"] == "system"
    assert decode(data, DnsAnswer, "answer") == answer
    # Evidence written before the source was recorded reads as DNS.
    del data["source"]
    assert decode(data, DnsAnswer, "answer").source == "dns"


def test_the_system_resolver_answers_addresses_only() -> None:
    with pytest.raises(ValueError, match="A and AAAA only"):
        DnsAnswer(DnsQuery("lab.test", "SRV"), source="system")


def make_lookup(table: dict[str, list[tuple[int, str]]]) -> Callable[[str], list[tuple[int, str]]]:
    def lookup(name: str) -> list[tuple[int, str]]:
        if name not in table:
            raise gai(socket.EAI_NONAME, "Name or service not known")
        return table[name]

    return lookup


async def test_names_found_and_not_found_in_one_uri_set() -> None:
    lookup = make_lookup({"a.lab": [(V4, "127.0.0.2")]})
    found = await located("sip:a.lab:5060", lookup)
    missing = await located("sip:b.lab:5060", lookup)
    assert [t.address for t in found.targets] == ["127.0.0.2"]
    assert missing.targets == ()
    assert missing.problems[0].startswith("b.lab: name not found")


def test_a_hung_lookup_does_not_keep_the_process_alive_at_exit() -> None:
    """asyncio's default executor joins its threads at shutdown: a getaddrinfo stuck in
    one would hold the exit for as long as it hangs.  The lookup's own daemon thread
    does not."""
    program = (
        "import asyncio, random, time\n"
        "from probe.locate.driver import locate\n"
        "from probe.sip.uri import parse_uri\n"
        "def hang(name):\n"
        "    time.sleep(60)\n"
        "    return []\n"
        "result = asyncio.run(locate(parse_uri('sip:stuck.test:5060'), timeout=0.2,\n"
        "                            rng=random.Random(1), system_lookup=hang))\n"
        "print(result.answers[0].error_kind)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timeout"
    assert time.monotonic() - started < 20
