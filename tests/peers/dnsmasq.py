"""A real DNS server (Debian's dnsmasq) on a loopback port, serving records a test declares.

The machine's own resolver is not on loopback (research/peers.md), so tests that need
NAPTR/SRV/A/AAAA point the driver at this instance instead.  It reads no system
configuration (``--conf-file=/dev/null``, ``--no-resolv``, ``--no-hosts``), answers only
from the records given here, and is authoritative-like for ``domains``: an unknown name
there is NXDOMAIN (``--local``), anything else is REFUSED.

Usage::

    server = start_dnsmasq(tmp_path, [
        Naptr("trunk.example.test", 10, 50, "SIPS+D2T", "_sips._tcp.trunk.example.test"),
        Srv("_sips._tcp.trunk.example.test", "sip-a.trunk.example.test", 5061, 10, 60),
        Host("sip-a.trunk.example.test", "127.0.0.2", "::1"),
        Cname("alias.trunk.example.test", "sip-a.trunk.example.test"),
    ])
    ... locate(uri, dns_server=server.address) ...
    server.stop()
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from tests.peers.common import free_port_both, require_binary, stop, tail


@dataclass(frozen=True)
class Naptr:
    """``name  IN NAPTR order preference "flags" "service" "regexp" replacement``."""

    name: str
    order: int
    preference: int
    service: str
    replacement: str
    flags: str = "s"
    regexp: str = ""

    def option(self) -> str:
        fields = (self.name, self.order, self.preference, self.flags, self.service)
        return "--naptr-record=" + ",".join(map(str, (*fields, self.regexp, self.replacement)))


@dataclass(frozen=True)
class Srv:
    """``name IN SRV priority weight port target``; ``target=None`` publishes ".", the
    RFC 2782 "service decidedly not available"."""

    name: str
    target: str | None
    port: int = 0
    priority: int = 0
    weight: int = 0

    def option(self) -> str:
        # Careful: dnsmasq's order is target, port, priority, weight (not BIND's).
        if self.target is None:
            return f"--srv-host={self.name}"
        return f"--srv-host={self.name},{self.target},{self.port},{self.priority},{self.weight}"


@dataclass(frozen=True, init=False)
class Host:
    """A and AAAA records for ``name``: every address given (any mix of IPv4 and IPv6)."""

    name: str
    addresses: tuple[str, ...]

    def __init__(self, name: str, *addresses: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "addresses", addresses)

    def options(self) -> list[str]:
        # One --host-record per address: dnsmasq adds them up for a name that repeats.
        return [f"--host-record={self.name},{address}" for address in self.addresses]


@dataclass(frozen=True)
class Cname:
    """``alias IN CNAME target``; dnsmasq needs the target to be a record it serves."""

    alias: str
    target: str

    def option(self) -> str:
        return f"--cname={self.alias},{self.target}"


Record = Naptr | Srv | Host | Cname


def record_options(records: Sequence[Record]) -> list[str]:
    options: list[str] = []
    for record in records:
        if isinstance(record, Host):
            options.extend(record.options())
        else:
            options.append(record.option())
    return options


@dataclass
class Dnsmasq:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        """What ``locate(..., dns_server=...)`` takes."""
        return (self.host, self.port)

    def stop(self) -> None:
        stop(self.process)


def _wait_until_answering(
    server: str, port: int, probe_name: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Until a query for a name in the local domain gets any DNS response."""
    deadline = time.monotonic() + 10.0
    query = dns.message.make_query(probe_name, "A")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dnsmasq exited with {process.returncode}:\n{tail(log)}")
        try:
            response = dns.query.udp(query, server, port=port, timeout=0.2)
        except (OSError, dns.exception.Timeout):
            time.sleep(0.05)
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return
        time.sleep(0.05)
    raise RuntimeError(f"dnsmasq did not answer on {server}:{port}:\n{tail(log)}")


def start_dnsmasq(
    workdir: Path,
    records: Sequence[Record],
    *,
    domains: Sequence[str] = ("example.test",),
    host: str = "127.0.0.1",
    ttl: int = 60,
) -> Dnsmasq:
    """Start dnsmasq on ``host`` and a free UDP+TCP port, serving ``records``.

    ``ttl`` applies to every record (``--local-ttl``; dnsmasq's default of 0 would hide
    TTLs from the evidence).  Returns once the server answers a query.
    """
    binary = require_binary("dnsmasq")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "dnsmasq.log"
    port = free_port_both(host)
    command = [
        binary,
        "--conf-file=/dev/null",  # never read /etc/dnsmasq.conf or /etc/dnsmasq.d
        "--no-resolv",  # never forward: no upstream from /etc/resolv.conf
        "--no-hosts",  # never serve /etc/hosts
        "--no-daemon",  # foreground, no pid file, no user change, TCP in-process
        f"--pid-file={workdir / 'dnsmasq.pid'}",
        f"--log-facility={log}",
        "--log-queries",
        f"--port={port}",
        f"--listen-address={host}",
        "--bind-interfaces",
        f"--local-ttl={ttl}",
        *(f"--local=/{domain}/" for domain in domains),
        *record_options(records),
    ]
    (workdir / "command").write_text("\n".join(command) + "\n")
    with (workdir / "dnsmasq.out").open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        _wait_until_answering(host, port, f"ready.{domains[0]}", process, log)
    except BaseException:
        stop(process)
        raise
    return Dnsmasq(host, port, process, log)
