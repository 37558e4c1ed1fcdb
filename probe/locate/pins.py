"""`--resolve NAME:PORT:ADDRESS` pins (as curl's option): the name is still used for SNI
and for the certificate identity, only the address it leads to is fixed. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from probe.errors import ProbeError


class PinError(ProbeError, ValueError):
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


class PinTable(tuple[Pin, ...]):
    """A run's pins, in the order given, indexed by name and port once when the run is
    set up: every target's plan looks its names up here, so a sweep with as many pins as
    targets is not quadratic. A tuple (it compares equal to one), never changed."""

    _by_name: dict[tuple[str, int], Pin]

    def __new__(cls, pins: Iterable[Pin] = ()) -> PinTable:
        table = super().__new__(cls, pins)
        by_name: dict[tuple[str, int], Pin] = {}
        for pin in table:
            by_name.setdefault((pin.name, pin.port), pin)  # the first one wins, as in curl
        table._by_name = by_name
        return table

    def find(self, host: str, port: int) -> Pin | None:
        return self._by_name.get((host.lower().rstrip("."), port))


def find_pin(pins: Iterable[Pin], host: str, port: int) -> Pin | None:
    """The first pin for `host` and `port`, as curl takes the first matching `--resolve`."""
    if isinstance(pins, PinTable):
        return pins.find(host, port)
    name = host.lower().rstrip(".")
    return next((pin for pin in pins if pin.name == name and pin.port == port), None)
