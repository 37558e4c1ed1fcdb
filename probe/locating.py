"""The first step of every run: the URIs as typed, checked, then located (RFC 3263).

`locate_all` looks every URI up, bounded like the probes that follow, and hands each
result over as it comes so a run cut short still knows what it had located.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

from probe.evidence import DEFAULT_PORTS, Target, Transport
from probe.locate import LocatedTarget, LocateResult, locate
from probe.net.options import ProbeSettings
from probe.sip import SipUri


class TargetError(ValueError):
    """A target URI that cannot be probed (unsupported transport...)."""


def check_target_uri(uri: SipUri, text: str) -> Transport:
    """Refuse what cannot be probed before any lookup; the transport RFC 3263 §4.1 implies
    without DNS (TLS for `sips:`/`transport=tls`, else the parameter, else UDP)."""
    if uri.scheme == "sips" and uri.transport not in (None, "tls", "tcp"):
        raise TargetError(f"{text}: a sips: URI needs TLS, not transport={uri.transport}")
    if uri.is_secure:
        return "tls"
    transport = uri.transport
    if transport is None or transport == "udp":
        return "udp"
    if transport == "tcp":
        return "tcp"
    raise TargetError(f"{text}: transport={transport} is not supported (tls, tcp or udp)")


def known_transport(uri: SipUri) -> Transport | None:
    """The transport a URI means before any DNS lookup, or None when NAPTR decides:
    RFC 3263 §4.1 — `sips:` is TLS, an explicit `transport=` is that, and an IP literal or
    an explicit port with no `transport=` means UDP (TCP for `sips:`, which is TLS)."""
    if uri.is_secure:
        return "tls"
    if uri.transport is not None:
        return check_target_uri(uri, str(uri))
    if uri.port is not None or uri.host_kind != "name":
        return "udp"
    return None


def unresolved_target(uri: SipUri, text: str) -> Target:
    """A target for a URI that located nothing: named, but with no address."""
    transport = check_target_uri(uri, text)
    port = uri.port if uri.port is not None else DEFAULT_PORTS[transport]
    return Target(uri=text, host=uri.host, port=port, transport=transport)


@dataclass(frozen=True, slots=True)
class LocateSettings:
    dns_server: tuple[str, int] | None = None
    """Asked every question; None: NAPTR/SRV go to the system's DNS servers and A/AAAA
    to its name service (getaddrinfo, so /etc/hosts is honoured)."""
    seed: int | None = None
    """Seed for the RFC 2782 weighted choice, so an SRV order can be reproduced."""


@dataclass(frozen=True, slots=True)
class Located:
    """One URI and where it led."""

    text: str
    uri: SipUri
    result: LocateResult

    def targets(self) -> list[tuple[LocatedTarget, Target]]:
        return [
            (
                found,
                Target(
                    uri=self.text,
                    host=found.host,
                    port=found.port,
                    transport=found.transport,
                    address=found.address,
                ),
            )
            for found in self.result.targets
        ]


async def locate_all(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    where: LocateSettings,
    *,
    into: dict[int, Located] | None = None,
    concurrency: int = 50,
) -> list[Located]:
    """Locate every URI, at most `concurrency` at a time (each lookup holds a socket);
    each result also lands in `into` as it comes, so a run cut short still knows what
    was located."""
    rng = random.Random(where.seed)
    seeds = [rng.random() for _ in uris]  # drawn up front: the order of answers cannot matter
    found = into if into is not None else {}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, text: str, uri: SipUri) -> Located:
        async with gate:
            result = await locate(
                uri,
                pins=settings.pins,
                dns_server=where.dns_server,
                timeout=settings.phases.dns,
                rng=random.Random(seeds[index]),
            )
        found[index] = Located(text, uri, result)
        return found[index]

    return list(
        await asyncio.gather(*(one(index, text, uri) for index, (text, uri) in enumerate(uris)))
    )
