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
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from probe.locate.pins import Pin
from probe.sip.uri import SipUri

from .name_service import AddressLookup, SystemAsker, getaddrinfo_addresses
from .plan import AddressFamily, LocatePlanner
from .records import DnsAnswer, DnsQuery, LocateResult

if TYPE_CHECKING:
    from .dns_client import Asker

__all__ = ["locate"]


async def locate(
    uri: SipUri,
    *,
    pins: Sequence[Pin] = (),
    dns_server: tuple[str, int] | None = None,
    timeout: float = 5.0,
    rng: random.Random | None = None,
    system_lookup: AddressLookup = getaddrinfo_addresses,
    family: AddressFamily | None = None,
) -> LocateResult:
    """Locate ``uri`` (RFC 3263): ordered targets plus every answer seen.

    ``dns_server`` replaces the system's resolver configuration and the name service:
    every query, A/AAAA included, goes to it.  Without it, A/AAAA go to
    ``system_lookup`` (getaddrinfo).  ``timeout`` is the deadline of each query.
    Independent queries (the A and AAAA of all SRV targets) run concurrently; their
    answers are handed back in the planner's order, so the evidence does not depend on
    which packet arrived first.  ``family`` (`-4`, `-6`) asks A or AAAA only.
    """
    planner = LocatePlanner(
        uri, pins=pins, rng=rng if rng is not None else random.Random(), family=family
    )
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
