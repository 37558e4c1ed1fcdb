"""A pure, dict-backed stand-in for DNS that drives a LocatePlanner by hand."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from probe.locate import (
    DnsAnswer,
    DnsErrorKind,
    DnsQuery,
    DnsRecord,
    LocatePlanner,
    LocateResult,
    NaptrRecord,
    SrvRecord,
)
from probe.locate.pins import Pin
from probe.sip.uri import parse_uri

SERVER = "192.0.2.53:53"


@dataclass(frozen=True)
class Fail:
    """A canned failure: error_kind and its text."""

    kind: DnsErrorKind
    error: str | None = None


@dataclass(frozen=True)
class Cname:
    """Records reached through CNAMEs: the answer names ``canonical``."""

    canonical: str
    records: tuple[DnsRecord, ...]


Entry = Sequence[DnsRecord] | Fail | Cname


@dataclass
class Zone:
    """``(name, type) → records | Fail | Cname``; a name absent from every key is
    NXDOMAIN, a name present under another type is NODATA (RFC 2308 §2)."""

    # Any: test tables mix record lists, Fail and Cname; answer() sorts them out.
    entries: Mapping[tuple[str, str], Any]
    ttl: int = 300
    asked: list[DnsQuery] = field(default_factory=list)

    def answer(self, query: DnsQuery) -> DnsAnswer:
        self.asked.append(query)
        entry = self.entries.get((query.name, query.rdtype))
        if entry is None:
            exists = any(name == query.name for name, _ in self.entries)
            return DnsAnswer(query, server=SERVER, error_kind="nodata" if exists else "nxdomain")
        if isinstance(entry, Fail):
            return DnsAnswer(query, server=SERVER, error_kind=entry.kind, error=entry.error)
        if isinstance(entry, Cname):
            return DnsAnswer(
                query,
                records=entry.records,
                ttl=self.ttl,
                server=SERVER,
                canonical_name=entry.canonical,
            )
        kind: DnsErrorKind | None = None if entry else "nodata"
        return DnsAnswer(
            query,
            records=tuple(entry),
            ttl=self.ttl if entry else None,
            server=SERVER,
            error_kind=kind,
        )


def drive(
    planner: LocatePlanner, zone: Zone, *, batch: bool = False, reverse: bool = False
) -> LocateResult:
    """Run the planner to the end against ``zone``.

    Sequential by default (answer each query before asking the next); with ``batch``
    every offered query is taken first and the answers come back afterwards, in
    ``reverse`` order if asked, as a concurrent driver's might.
    """
    for _ in range(1000):
        if planner.done:
            return planner.result()
        if not batch:
            query = planner.next_query()
            assert query is not None, "planner waits but nothing is outstanding"
            planner.receive(zone.answer(query))
            continue
        queries: list[DnsQuery] = []
        while (query := planner.next_query()) is not None:
            queries.append(query)
        assert queries, "planner waits but offered nothing"
        answers = [zone.answer(q) for q in queries]
        for answer in reversed(answers) if reverse else answers:
            planner.receive(answer)
    raise AssertionError("planner did not finish")


# --- shorthands for the planner tests ----------------------------------------------

DOMAIN = "example.test"


def planner(uri: str, *, pins: tuple[Pin, ...] = (), seed: int = 1) -> LocatePlanner:
    return LocatePlanner(parse_uri(uri), pins=pins, rng=random.Random(seed))


def run(
    uri: str,
    entries: Mapping[tuple[str, str], Any],
    *,
    pins: tuple[Pin, ...] = (),
    seed: int = 1,
    **kw,
) -> tuple[LocateResult, Zone]:
    zone = Zone(entries)
    return drive(planner(uri, pins=pins, seed=seed), zone, **kw), zone


def endpoints(result: LocateResult) -> list[str]:
    return [t.endpoint for t in result.targets]


def asked(zone: Zone) -> list[str]:
    return [str(q) for q in zone.asked]


def naptr(order: int, pref: int, service: str, replacement: str, flags: str = "s") -> NaptrRecord:
    return NaptrRecord(order, pref, flags, service, "", replacement)


# A trunk as providers publish it: NAPTR → _sips._tcp SRV (two weighted targets) → A/AAAA.
TRUNK: dict[tuple[str, str], Any] = {
    (DOMAIN, "NAPTR"): [
        naptr(20, 50, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
        naptr(10, 50, "SIPS+D2T", f"_sips._tcp.{DOMAIN}"),
    ],
    (f"_sips._tcp.{DOMAIN}", "SRV"): [
        SrvRecord(10, 60, 5061, f"sip-a.{DOMAIN}"),
        SrvRecord(10, 40, 5061, f"sip-b.{DOMAIN}"),
        SrvRecord(20, 0, 5062, f"sip-c.{DOMAIN}"),
    ],
    (f"_sip._tcp.{DOMAIN}", "SRV"): [SrvRecord(10, 0, 5060, f"sip-a.{DOMAIN}")],
    (f"sip-a.{DOMAIN}", "A"): ["127.0.0.2"],
    (f"sip-a.{DOMAIN}", "AAAA"): ["::1"],
    (f"sip-b.{DOMAIN}", "A"): ["127.0.0.3"],
    (f"sip-c.{DOMAIN}", "A"): ["127.0.0.4"],
}
