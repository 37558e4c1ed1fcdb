"""The asyncio driver of :class:`~probe.locate.plan.LocatePlanner`.

It asks what the planner wants asked and hands every outcome back as a
:class:`DnsAnswer`: NAPTR and SRV through DNS (dnspython, ``dns_client``); A and AAAA
through the system's name service (getaddrinfo, ``name_service``: ``/etc/hosts`` is
honoured) unless a DNS server is given, which then answers everything.  A failure of any
kind (NXDOMAIN, SERVFAIL, REFUSED, silence, no resolver configured, EAI_NONAME, EAI_AGAIN)
becomes an answer with an ``error_kind``, never an exception, and every query runs under
a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from probe.locate.pins import Pin
from probe.sip.uri import SipUri

from .name_service import AddressLookup, SystemAsker, getaddrinfo_addresses
from .plan import LocatePlanner
from .records import DnsAnswer, DnsQuery, LocateResult

if TYPE_CHECKING:
    from .dns_client import Asker

__all__ = ["DEFAULT_DNS_PORT", "locate", "parse_dns_server"]

DEFAULT_DNS_PORT = 53


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
    system_lookup: AddressLookup = getaddrinfo_addresses,
) -> LocateResult:
    """Locate ``uri`` (RFC 3263): ordered targets plus every answer seen.

    ``dns_server`` replaces the system's resolver configuration and the name service:
    every query, A/AAAA included, goes to it.  Without it, A/AAAA go to
    ``system_lookup`` (getaddrinfo).  ``timeout`` is the deadline of each query.
    Independent queries (the A and AAAA of all SRV targets) run concurrently; their
    answers are handed back in the planner's order, so the evidence does not depend on
    which packet arrived first.
    """
    planner = LocatePlanner(uri, pins=pins, rng=rng if rng is not None else random.Random())
    if planner.done:
        # IP literals: no resolver built, so /etc/resolv.conf is not even read.
        return planner.result()
    system = SystemAsker(timeout, system_lookup) if dns_server is None else None
    dns_asker: Asker | None = None

    async def ask(query: DnsQuery) -> DnsAnswer:
        nonlocal dns_asker
        if system is not None and query.rdtype in ("A", "AAAA"):
            return await system(query)
        if dns_asker is None:
            # dnspython is imported only now: a run of pinned names, IP literals and
            # names with an explicit port (A/AAAA only) looked up by the system never
            # needs it.
            from .dns_client import Asker

            dns_asker = Asker(dns_server, timeout)
        return await dns_asker(query)

    while not planner.done:
        batch: list[DnsQuery] = []
        while (query := planner.next_query()) is not None:
            batch.append(query)
        if not batch:
            raise RuntimeError("LocatePlanner is waiting but asked nothing")  # pragma: no cover
        for answer in await asyncio.gather(*(ask(query) for query in batch)):
            planner.receive(answer)
    return planner.result()
