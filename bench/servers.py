"""The real servers of a benchmark run: a lab PKI and a fleet of Kamailio TLS listeners.

Kamailio 5.6 with OpenSSL 3 crashes under concurrent TLS handshakes unless it runs one
TCP worker (`tcp_children=1`, see tests/peers/kamailio.py), so one instance has little
server-side capacity: the fleet runs several, one per 127.0.0.x address.

A sweep's targets must be distinct `address:port` endpoints, as in a real sweep: sipprobe
opens at most `--per-target` (default 1) connections to one address:port at a time, so
1000 targets on 4 listeners would be probed 4 at a time whatever `--concurrency` says.
So every instance listens on `PORTS` TLS ports (all served by its default TLS profile),
and the fleet offers `instances × PORTS` endpoints of each kind, at least twice the
concurrency; targets are spread round-robin over them.

Two kinds of instance share each address, with the same certificate chain:
- `tls`: TLS 1.2 or later (negotiates 1.3), the listeners of the sweeps;
- `tls12`: TLS 1.2 only, for the comparison with sipsak, whose GnuTLS build cannot read a
  response over TLS 1.3; both contenders of that comparison use them.

The server certificate names `NAME` (SANs `URI:sip:NAME`, `DNS:NAME`) and the fleet's
addresses (iPAddress SANs), so a client that can only dial an IP literal (sipsak, which
would otherwise ask the system's resolver) can still verify it against the lab CA.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from probe.tls.lab import LabFiles, write_lab

NAME = "bench.example.test"
"""The SIP domain every target uses; pinned with --resolve, never looked up."""
KINDS = {"tls": "TLSv1.2+", "tls12": "TLSv1.2"}
"""Listener kind → the `method` of the instance's default TLS profile."""
PORTS = 50
"""TLS ports per instance (4 instances: 200 endpoints of each kind)."""
SHM_MB = 128
"""Kamailio's shared memory per instance: every TLS connection lives there, and when it
runs low Kamailio's OpenSSL workaround resets handshakes on purpose."""

TLS_CFG = """[server:default]
method = {method}
certificate = {cert}
private_key = {key}
verify_certificate = no
require_certificate = no

[client:default]
verify_certificate = no
require_certificate = no
"""


@dataclass(frozen=True, slots=True)
class Listener:
    """One TLS listen socket of one instance."""

    address: str
    port: int
    kind: str

    @property
    def pin(self) -> str:
        """The sipprobe/curl `--resolve` pin that sends NAME:port here."""
        return f"{NAME}:{self.port}:{self.address}"


@dataclass(frozen=True, slots=True)
class Instance:
    address: str
    kind: str
    process: subprocess.Popen[bytes]
    log: Path
    listeners: tuple[Listener, ...]

    def health(self) -> str | None:
        """Why this instance can no longer be trusted to answer, or None if it is fine."""
        where = f"kamailio ({self.kind}) on {self.address}"
        if self.process.poll() is not None:
            return f"{where} exited with {self.process.returncode} (see {self.log})"
        if "signal 11" in self.log.read_text(errors="replace"):
            return f"{where} lost a worker to SIGSEGV (see {self.log})"
        return None


@dataclass(frozen=True, slots=True)
class Fleet:
    lab: LabFiles
    instances: tuple[Instance, ...]

    def listeners(self, kind: str) -> list[Listener]:
        """Every endpoint of `kind`, instances alternating (round-robin spreads the load)."""
        mine = [instance for instance in self.instances if instance.kind == kind]
        return [lsn for group in zip(*(i.listeners for i in mine), strict=True) for lsn in group]

    def pins(self, kind: str) -> list[str]:
        return [listener.pin for listener in self.listeners(kind)]

    def servers(self, kind: str) -> int:
        return sum(1 for instance in self.instances if instance.kind == kind)

    def check(self) -> None:
        """Raise if any instance died or crashed: a measurement taken so is invalid."""
        problems = [p for p in (i.health() for i in self.instances) if p is not None]
        if problems:
            raise RuntimeError("server fleet unhealthy: " + "; ".join(problems))


def fleet_addresses(count: int) -> list[str]:
    """127.0.0.2, 127.0.0.3, …: loopback only (Linux answers the whole 127/8)."""
    if not 1 <= count <= 50:
        raise ValueError("between 1 and 50 instances")
    return [f"127.0.0.{2 + index}" for index in range(count)]


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()),
        None,
    )
    if path is None:
        raise RuntimeError(f"{name} is not installed (`make peers` installs it)")
    return path


def free_tcp_ports(address: str, count: int) -> list[int]:
    """`count` distinct ports free on `address` a moment ago (all held open while chosen)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((address, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def start_instance(workdir: Path, lab: LabFiles, address: str, kind: str) -> Instance:
    """One Kamailio with PORTS TLS listeners on `address`, configured like the test
    fixture's (same routing script: OPTIONS answered 200 by `sl_send_reply`)."""
    from tests.peers.common import free_port_both, stop, wait_for_sip_udp, wait_for_tcp
    from tests.peers.kamailio import CONFIG, module_dir

    workdir.mkdir(parents=True, exist_ok=True)
    ports = free_tcp_ports(address, PORTS)
    plain = free_port_both(address)
    while plain in ports:
        plain = free_port_both(address)
    tls_cfg = workdir / "tls.cfg"
    tls_cfg.write_text(TLS_CFG.format(method=KINDS[kind], cert=lab.server, key=lab.server_key))
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(
        CONFIG.format(
            listens="\n".join(f"listen=tls:{address}:{port}" for port in ports),
            bracketed=address,
            plain_port=plain,
            module_dir=module_dir(),
            tls_cfg=tls_cfg,
            ws_globals="",
            ws_modules="",
            ws_route="",
            relay_modules="",
            relay_route="",
            auth_route="",
            reply_route="",
            reply_code=200,
            reply_reason="OK",
            extra_reply="",
        )
    )
    (workdir / "run").mkdir(exist_ok=True)
    log = workdir / "kamailio.log"
    argv = [require_binary("kamailio"), "-f", str(cfg), "-DD", "-E", "-Y", str(workdir / "run")]
    argv += ["-w", str(workdir), "-m", str(SHM_MB), "-M", "8"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=os.environ
        )
    try:
        for port in (*ports, plain):
            wait_for_tcp(address, port, process, log)
        # Listening sockets exist before the workers do: an answered OPTIONS proves them up.
        wait_for_sip_udp(address, plain, process, log)
    except BaseException:
        stop(process)
        raise
    listeners = tuple(Listener(address, port, kind) for port in ports)
    return Instance(address, kind, process, log, listeners)


@contextmanager
def running_fleet(workdir: Path, instances: int) -> Iterator[Fleet]:
    """A lab PKI and `instances` addresses, each with one Kamailio per listener kind; all
    stopped on the way out, whatever happens (error, Ctrl-C, SIGTERM made an exception)."""
    from tests.peers.common import stop

    require_binary("kamailio")
    addresses = fleet_addresses(instances)
    lab = write_lab(
        workdir / "lab",
        server_names=(NAME,),
        ip_addresses=("127.0.0.1", *addresses, "::1"),
    )
    started: list[Instance] = []
    try:
        for kind in KINDS:
            for index, address in enumerate(addresses):
                folder = workdir / f"kamailio-{kind}-{index}"
                started.append(start_instance(folder, lab, address, kind))
        yield Fleet(lab, tuple(started))
    finally:
        for instance in started:
            stop(instance.process)


def kamailio_version() -> str:
    try:
        output = subprocess.run(
            [require_binary("kamailio"), "-v"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    first = output.splitlines()[0] if output else "unknown"
    return first.removeprefix("version: ").strip()
