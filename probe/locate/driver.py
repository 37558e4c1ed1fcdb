"""The asyncio driver of :class:`~probe.locate.plan.LocatePlanner`, over dnspython.

This is the only module of the package that does I/O.  It asks what the planner wants
asked and hands every outcome back as a :class:`DnsAnswer`; a DNS failure of any kind
(NXDOMAIN, SERVFAIL, REFUSED, silence, no resolver configured) becomes an answer with an
``error_kind``, never an exception, and every query runs under a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from probe.locate.pins import Pin
from probe.sip.uri import SipUri

from .plan import LocatePlanner
from .records import (
    DnsAnswer,
    DnsErrorKind,
    DnsQuery,
    DnsRecord,
    LocateResult,
    NaptrRecord,
    SrvRecord,
    normalise_name,
)

__all__ = ["DEFAULT_DNS_PORT", "locate", "parse_dns_server"]

DEFAULT_DNS_PORT = 53

PER_TRY_TIMEOUT = 2.0
"""Seconds before dnspython asks again within one query's deadline, so that one lost
UDP datagram costs two seconds rather than the whole deadline (dnspython's default)."""

SAFETY_MARGIN = 1.0
"""Seconds past a query's deadline after which the driver gives up on dnspython itself.
dnspython honours ``lifetime``; this only guarantees that nothing here can hang."""


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def parse_dns_server(text: str) -> tuple[str, int]:
    """Parse ``--dns-server ADDRESS[:PORT]``: ``127.0.0.1``, ``127.0.0.1:5353``,
    ``::1``, ``[::1]`` or ``[::1]:5353``; the port defaults to 53.

    The ValueError's message quotes the value but not the option name, which the caller
    prefixes (``--dns-server: '...': port '0' is not 1-65535``).
    """
    value = text.strip()
    port_text = ""
    if value.startswith("["):
        address, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6] or [IPv6]:PORT")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"{text!r}: a port is missing after ':'")
    elif value.count(":") == 1:
        address, _, port_text = value.partition(":")
        if not port_text:
            raise ValueError(f"{text!r}: a port is missing after ':'")
    else:
        # No colon (IPv4) or several (a bare IPv6 address, which cannot carry a port).
        address = value
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(
            f"{text!r}: {address!r} is not an IP address (a name would need a resolver "
            "to find the resolver)"
        ) from None
    port = DEFAULT_DNS_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: port {port_text!r} is not 1-65535")
        port = int(port_text)
    return str(parsed), port


async def locate(
    uri: SipUri,
    *,
    pins: Sequence[Pin] = (),
    dns_server: tuple[str, int] | None = None,
    timeout: float = 5.0,
    rng: random.Random | None = None,
) -> LocateResult:
    """Locate ``uri`` (RFC 3263): ordered targets plus every DNS answer seen.

    ``dns_server`` replaces the system's resolver configuration; ``timeout`` is the
    deadline of each query.  Independent queries (the A and AAAA of all SRV targets)
    run concurrently; their answers are handed back in the planner's order, so the
    evidence does not depend on which packet arrived first.
    """
    planner = LocatePlanner(uri, pins=pins, rng=rng if rng is not None else random.Random())
    if planner.done:
        # IP literals: no resolver built, so /etc/resolv.conf is not even read.
        return planner.result()
    ask = _Asker(dns_server, timeout)
    while not planner.done:
        batch: list[DnsQuery] = []
        while (query := planner.next_query()) is not None:
            batch.append(query)
        if not batch:
            raise RuntimeError("LocatePlanner is waiting but asked nothing")  # pragma: no cover
        for answer in await asyncio.gather(*(ask(query) for query in batch)):
            planner.receive(answer)
    return planner.result()


class _Asker:
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
