"""Turning a target's host into an address to dial.

`--resolve NAME:PORT:ADDRESS` pins (as curl's option) come first: the name is still used
for SNI and for the certificate identity, only the address changes. IP literals need no
lookup. Anything else goes to the system resolver, with a deadline. (RFC 3263 NAPTR/SRV
location is a separate, richer planner.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from probe.evidence import ResolveEvidence, is_ip_literal


class PinError(ValueError):
    """A `--resolve` value that is not NAME:PORT:ADDRESS."""


@dataclass(frozen=True, slots=True)
class Pin:
    name: str
    port: int
    address: str

    def __str__(self) -> str:
        return f"{self.name}:{self.port}:{self.address}"


def parse_pin(text: str) -> Pin:
    """Parse `NAME:PORT:ADDRESS`; ADDRESS may be IPv6, bracketed or not."""
    name, sep, rest = text.partition(":")
    port_text, sep2, address = rest.partition(":")
    if not (sep and sep2 and name and port_text and address):
        raise PinError(f"--resolve {text!r}: expected NAME:PORT:ADDRESS")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PinError(f"--resolve {text!r}: port {port_text!r} is not 1-65535")
    address = address.strip("[]")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise PinError(f"--resolve {text!r}: {address!r} is not an IP address") from None
    return Pin(name.lower().rstrip("."), int(port_text), address)


def find_pin(pins: Iterable[Pin], host: str, port: int) -> Pin | None:
    host = host.lower().rstrip(".")
    for pin in pins:
        if pin.name == host and pin.port == port:
            return pin
    return None


async def resolve_host(
    host: str, port: int, pins: Iterable[Pin], *, timeout: float
) -> ResolveEvidence:
    """Find the addresses for `host`; never raises for a lookup failure."""
    if is_ip_literal(host):
        return ResolveEvidence(source="literal", addresses=(host,))
    pin = find_pin(pins, host, port)
    if pin is not None:
        return ResolveEvidence(source="pinned", addresses=(pin.address,))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        return ResolveEvidence(
            source="system",
            elapsed_ms=(loop.time() - started) * 1000,
            error_kind="timeout",
            error=f"no answer for {host} within {timeout:g} s",
        )
    except socket.gaierror as exc:
        not_found = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
        return ResolveEvidence(
            source="system",
            elapsed_ms=(loop.time() - started) * 1000,
            error_kind="not_found" if not_found else "error",
            error=f"{host}: {exc.strerror}",
        )
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return ResolveEvidence(
        source="system", addresses=tuple(addresses), elapsed_ms=(loop.time() - started) * 1000
    )
