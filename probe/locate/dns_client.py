"""One DNS query → one :class:`DnsAnswer`, over dnspython's asyncio resolver.

A DNS failure of any kind (NXDOMAIN, SERVFAIL, REFUSED, silence, no resolver configured)
becomes an answer with an ``error_kind``, never an exception, and every query runs under
a deadline. Imported only when a name must really be looked up.
"""

from __future__ import annotations

import asyncio
import ipaddress

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from .records import (
    DnsAnswer,
    DnsErrorKind,
    DnsQuery,
    DnsRecord,
    NaptrRecord,
    SrvRecord,
    normalise_name,
)

PER_TRY_TIMEOUT = 2.0
"""Seconds before dnspython asks again within one query's deadline, so that one lost
UDP datagram costs two seconds rather than the whole deadline (dnspython's default)."""

SAFETY_MARGIN = 1.0
"""Seconds past a query's deadline after which the driver gives up on dnspython itself.
dnspython honours ``lifetime``; this only guarantees that nothing here can hang."""


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class Asker:
    """Turns one :class:`DnsQuery` into one :class:`DnsAnswer`, whatever happens."""

    def __init__(self, dns_server: tuple[str, int] | None, timeout: float) -> None:
        self._timeout = timeout
        self._setup_error: str | None = None
        self._resolver: dns.asyncresolver.Resolver | None = None
        try:
            resolver = dns.asyncresolver.Resolver(configure=dns_server is None)
        except dns.exception.DNSException as exc:
            # No usable /etc/resolv.conf: every query fails alike, and the planner stops.
            self._setup_error = f"no DNS resolver configured: {exc}"
            self._server = "system resolver"
            return
        if dns_server is not None:
            resolver.nameservers = [dns_server[0]]
            resolver.port = dns_server[1]
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, PER_TRY_TIMEOUT)
        self._resolver = resolver
        self._server = ", ".join(
            _hostport(str(getattr(ns, "address", ns)), int(getattr(ns, "port", resolver.port)))
            for ns in resolver.nameservers
        )

    async def __call__(self, query: DnsQuery) -> DnsAnswer:
        if self._resolver is None:
            return DnsAnswer(
                query, error_kind="no_nameservers", error=self._setup_error, server=self._server
            )
        loop = asyncio.get_running_loop()
        started = loop.time()

        def failed(kind: DnsErrorKind, error: str | None) -> DnsAnswer:
            elapsed = (loop.time() - started) * 1000
            return DnsAnswer(
                query, server=self._server, elapsed_ms=elapsed, error_kind=kind, error=error
            )

        try:
            async with asyncio.timeout(self._timeout + SAFETY_MARGIN):
                answer = await self._resolver.resolve(
                    dns.name.from_text(query.name),
                    query.rdtype,
                    raise_on_no_answer=False,
                    lifetime=self._timeout,
                    search=False,
                )
        except dns.resolver.NXDOMAIN:
            return failed("nxdomain", None)
        except (dns.exception.Timeout, TimeoutError):
            return failed("timeout", f"no answer from {self._server} within {self._timeout:g} s")
        except dns.resolver.NoNameservers as exc:
            kind, error = _classify_no_nameservers(exc, self._server)
            return failed(kind, error)
        except Exception as exc:  # any other trouble is evidence, not a crash
            return failed("error", f"{type(exc).__name__}: {exc}")
        elapsed = (loop.time() - started) * 1000
        server = self._server
        if answer.nameserver is not None and answer.port is not None:
            server = _hostport(str(answer.nameserver), answer.port)
        canonical = normalise_name(answer.canonical_name.to_text())
        canonical_name = canonical if canonical != query.name else None
        if answer.rrset is None:
            return DnsAnswer(
                query,
                server=server,
                elapsed_ms=elapsed,
                error_kind="nodata",
                canonical_name=canonical_name,
            )
        try:
            records = tuple(_record(rdata) for rdata in answer.rrset)
        except (TypeError, ValueError) as exc:  # pragma: no cover - dnspython checks RDATA
            return failed("error", f"unusable {query.rdtype} record: {exc}")
        return DnsAnswer(
            query,
            records=records,
            ttl=answer.rrset.ttl,
            server=server,
            elapsed_ms=elapsed,
            canonical_name=canonical_name,
        )


def _classify_no_nameservers(
    exc: dns.resolver.NoNameservers, server: str
) -> tuple[DnsErrorKind, str]:
    """SERVFAIL and REFUSED reach us as "no nameserver answered"; tell them apart."""
    # dnspython records a refusal by rcode as (server, tcp, port, "SERVFAIL", response)
    # and an I/O failure as (server, tcp, port, exception, None).
    outcomes = [err[3] for err in exc.kwargs.get("errors") or []]
    if outcomes and all(isinstance(outcome, str) for outcome in outcomes):
        if "SERVFAIL" in outcomes:
            return "servfail", f"{server} answered SERVFAIL"
        if set(outcomes) == {"REFUSED"}:
            return "refused", f"{server} answered REFUSED"
    details = "; ".join(str(outcome) for outcome in outcomes) or str(exc)
    return "no_nameservers", f"no answer from {server}: {details}"


def _text(value: bytes) -> str:
    return value.decode("ascii", errors="backslashreplace")


def _record(rdata: dns.rdata.Rdata) -> DnsRecord:
    """dnspython RDATA → our JSON-friendly record (RFC 3403 §4.1, RFC 2782, RFC 3596)."""
    if isinstance(rdata, NAPTR):
        return NaptrRecord(
            order=rdata.order,
            preference=rdata.preference,
            flags=_text(rdata.flags),
            service=_text(rdata.service),
            regexp=_text(rdata.regexp),
            replacement=normalise_name(rdata.replacement.to_text()),
        )
    if isinstance(rdata, SRV):
        return SrvRecord(
            priority=rdata.priority,
            weight=rdata.weight,
            port=rdata.port,
            target=normalise_name(rdata.target.to_text()),
        )
    if isinstance(rdata, A | AAAA):
        return str(ipaddress.ip_address(rdata.address))
    raise TypeError(f"unexpected {type(rdata).__name__} record")
