"""The data of server location: DNS questions, DNS answers and the located targets.

Everything here is plain frozen data with a ``to_dict()`` for JSON, so a located plan is
evidence like any other (DESIGN.md, "evidence first"): it can be saved, rendered and
judged again without a socket.  Names are kept lowercased and without the final dot:
DNS compares names case-insensitively (RFC 4343 §3), so nothing is lost, and the
comparisons the planner makes (SRV targets, ``--resolve`` pins) become plain equality.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from probe.evidence.model import Transport

__all__ = [
    "AnswerSource",
    "DnsAnswer",
    "DnsErrorKind",
    "DnsQuery",
    "DnsRecord",
    "LocateResult",
    "LocatedTarget",
    "NaptrRecord",
    "RecordType",
    "SrvRecord",
    "normalise_name",
]

RecordType = Literal["NAPTR", "SRV", "A", "AAAA"]

DnsErrorKind = Literal[
    "nxdomain",
    "nodata",
    "servfail",
    "timeout",
    "refused",
    "no_nameservers",
    "temporary",
    "error",
]
"""Why a question got no records.  ``nxdomain`` and ``nodata`` are answers (the name, or
the type at that name, does not exist: RFC 2308 §1); the others mean the server could not
or would not answer, so the absence of records proves nothing.  ``temporary`` is the
system resolver's EAI_AGAIN: the name service could not answer now."""

AnswerSource = Literal["dns", "system"]
"""Who answered: a DNS server asked directly (``server`` is its ``address:port``), or the
system's name service through getaddrinfo (``server`` says which sources it consults),
which answers A/AAAA only."""


def normalise_name(name: str) -> str:
    """Lowercase, without the final dot; the root stays ``"."``."""
    name = name.lower()
    return name if name == "." else name.rstrip(".")


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One question the planner wants asked."""

    name: str
    rdtype: RecordType

    def __post_init__(self) -> None:
        if self.rdtype not in ("NAPTR", "SRV", "A", "AAAA"):
            raise ValueError(f"DnsQuery type {self.rdtype!r} is not NAPTR, SRV, A or AAAA")
        if self.name != normalise_name(self.name) or not self.name or self.name == ".":
            raise ValueError(f"DnsQuery name {self.name!r} is not a normalised domain name")

    def __str__(self) -> str:
        return f"{self.rdtype} {self.name}"


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """RFC 3403 §4.1 NAPTR RDATA; ``flags`` and ``service`` as text, ``replacement``
    normalised ("." when the record uses ``regexp`` instead)."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "replacement", normalise_name(self.replacement or "."))

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "preference": self.preference,
            "flags": self.flags,
            "service": self.service,
            "regexp": self.regexp,
            "replacement": self.replacement,
        }

    def __str__(self) -> str:
        return (
            f'{self.order} {self.preference} "{self.flags}" "{self.service}" '
            f'"{self.regexp}" {self.replacement}'
        )


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """RFC 2782 SRV RDATA; ``target`` normalised, "." meaning "not offered here"."""

    priority: int
    weight: int
    port: int
    target: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", normalise_name(self.target or "."))

    def to_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "weight": self.weight,
            "port": self.port,
            "target": self.target,
        }

    def __str__(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"


DnsRecord = NaptrRecord | SrvRecord | str
"""A/AAAA records are the address as text (``ipaddress`` normal form)."""

_RECORD_CLASS: dict[str, type] = {"NAPTR": NaptrRecord, "SRV": SrvRecord, "A": str, "AAAA": str}


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """What came back for one :class:`DnsQuery`: records, or why there are none.

    ``server`` is ``address:port`` of the server that answered (or was asked, for a
    failure), or for ``source="system"`` the system resolver and the sources it consults;
    ``canonical_name`` is set only when CNAMEs led away from the query name.
    """

    query: DnsQuery
    records: tuple[DnsRecord, ...] = ()
    ttl: int | None = None
    server: str | None = None
    elapsed_ms: float | None = None
    error_kind: DnsErrorKind | None = None
    error: str | None = None
    canonical_name: str | None = None
    source: AnswerSource = "dns"

    def __post_init__(self) -> None:
        if self.source == "system" and self.query.rdtype not in ("A", "AAAA"):
            raise ValueError(f"{self.query}: the system resolver answers A and AAAA only")
        expected = _RECORD_CLASS[self.query.rdtype]
        for record in self.records:
            if not isinstance(record, expected):
                raise TypeError(f"{self.query}: record {record!r} is not a {expected.__name__}")
            if isinstance(record, str):
                # Normal form only, so addresses sort and compare as text predictably.
                version = 4 if self.query.rdtype == "A" else 6
                address = ipaddress.ip_address(record)
                if address.version != version or str(address) != record:
                    raise ValueError(
                        f"{self.query}: {record!r} is not an IPv{version} address in normal form"
                    )
        if self.error_kind is not None and self.records:
            raise ValueError(f"{self.query}: an answer with error {self.error_kind} has records")

    @property
    def ok(self) -> bool:
        """True when there are records to use."""
        return self.error_kind is None and bool(self.records)

    @property
    def outcome(self) -> str:
        """A short text for reports: ``2 records``, ``NODATA``, ``timeout``..."""
        if self.source == "system":
            return self._system_outcome()
        if self.error_kind is None:
            if not self.records:
                return "NODATA"
            return "1 record" if len(self.records) == 1 else f"{len(self.records)} records"
        return {"nxdomain": "NXDOMAIN", "nodata": "NODATA", "servfail": "SERVFAIL"}.get(
            self.error_kind, self.error_kind.replace("_", " ").upper()
        )

    def _system_outcome(self) -> str:
        # getaddrinfo has no NXDOMAIN or NODATA of its own; its words, not DNS's.
        family = "IPv4" if self.query.rdtype == "A" else "IPv6"
        if self.error_kind is None:
            if not self.records:
                return f"no {family} address"
            count = len(self.records)
            return "1 address" if count == 1 else f"{count} addresses"
        return {
            "nxdomain": "name not found",
            "nodata": f"no {family} address",
            "temporary": "temporary failure",
        }.get(self.error_kind, self.error_kind.replace("_", " "))

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": {"name": self.query.name, "type": self.query.rdtype},
            "records": [r if isinstance(r, str) else r.to_dict() for r in self.records],
            "ttl": self.ttl,
            "server": self.server,
            "elapsed_ms": self.elapsed_ms,
            "error_kind": self.error_kind,
            "error": self.error,
            "canonical_name": self.canonical_name,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class LocatedTarget:
    """One address to try, in the order RFC 3263 says a client tries them.

    ``host`` is the host of the dialled URI and stays the identity the certificate must
    prove (RFC 5922 §7.2: never the SRV target).  ``srv_target`` is kept separately for
    reporting and for SNI decisions.  ``share`` is the probability that this record is
    tried first among the records of its SRV priority (RFC 2782 weighting).
    """

    host: str
    address: str
    port: int
    transport: Transport
    srv_target: str | None = None
    priority: int | None = None
    weight: int | None = None
    share: float | None = None
    via: tuple[str, ...] = ()

    @property
    def endpoint(self) -> str:
        """``address:port/transport`` with IPv6 in brackets."""
        where = f"[{self.address}]" if ":" in self.address else self.address
        return f"{where}:{self.port}/{self.transport}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "port": self.port,
            "transport": self.transport,
            "srv_target": self.srv_target,
            "priority": self.priority,
            "weight": self.weight,
            "share": self.share,
            "via": list(self.via),
        }


@dataclass(frozen=True, slots=True)
class LocateResult:
    """The plan for one URI: targets in order, every DNS answer seen, what went wrong."""

    uri: str
    transport_reason: str
    targets: tuple[LocatedTarget, ...]
    answers: tuple[DnsAnswer, ...]
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "transport_reason": self.transport_reason,
            "targets": [target.to_dict() for target in self.targets],
            "answers": [answer.to_dict() for answer in self.answers],
            "problems": list(self.problems),
        }
