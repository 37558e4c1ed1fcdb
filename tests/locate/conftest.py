"""A dnsmasq serving a SIP trunk's NAPTR/SRV/A/AAAA records, for the driver tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.peers.dnsmasq import Cname, Dnsmasq, Host, Naptr, Record, Srv, start_dnsmasq

TRUNK = "trunk.example.test"

TRUNK_RECORDS: list[Record] = [
    Naptr(TRUNK, 10, 50, "SIPS+D2T", f"_sips._tcp.{TRUNK}"),
    Naptr(TRUNK, 20, 50, "SIP+D2T", f"_sip._tcp.{TRUNK}"),
    Srv(f"_sips._tcp.{TRUNK}", f"sip-a.{TRUNK}", 5061, priority=10, weight=60),
    Srv(f"_sips._tcp.{TRUNK}", f"sip-b.{TRUNK}", 5061, priority=10, weight=40),
    Srv(f"_sips._tcp.{TRUNK}", f"sip-c.{TRUNK}", 5062, priority=20, weight=0),
    Srv(f"_sip._tcp.{TRUNK}", f"sip-a.{TRUNK}", 5060, priority=10),
    Host(f"sip-a.{TRUNK}", "127.0.0.2"),
    Host(f"sip-b.{TRUNK}", "127.0.0.3"),
    Host(f"sip-c.{TRUNK}", "::1"),
    # A name with a port in the URI: no NAPTR/SRV, both families.
    Host("sbc.example.test", "127.0.0.5", "::1"),
    # CNAME chain: alias → alias2 → sip-a.
    Cname("alias.example.test", "alias2.example.test"),
    Cname("alias2.example.test", f"sip-a.{TRUNK}"),
    # SRV with target ".": TLS decidedly not offered.
    Srv("_sips._tcp.closed.example.test", None),
    Host("closed.example.test", "127.0.0.6"),
]


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    server = start_dnsmasq(tmp_path_factory.mktemp("dnsmasq"), TRUNK_RECORDS)
    yield server
    server.stop()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A bound UDP port that never reads: queries vanish, no ICMP "unreachable"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        yield int(sink.getsockname()[1])
