"""A/AAAA through the system's name service, end to end: `sipprobe options` finds names in
/etc/hosts and reaches the embedded responder there; `--dns-server` bypasses the file.

Only names the hosts file holds are looked up without a DNS server, so no query leaves
for the machine's own resolver: `localhost` from the machine's /etc/hosts (or, where that
lacks it, a private one), and `sip.example.test` from a private hosts file bound over
/etc/hosts in a mount namespace of the probe's own (with a private nsswitch.conf that
consults the file only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LAB_NAME
from tests.lab_responders import serve_process
from tests.peers.common import missing_peer
from tests.peers.dnsmasq import Host, start_dnsmasq

SIPPROBE = [sys.executable, "-m", "probe"]
SYSTEM_RESOLVER = "system resolver (getaddrinfo: "


@pytest.fixture
def tcp_responder(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """`sipprobe serve --transport tcp` on the address the test names (default
    127.0.0.1): (address, port) once it listens."""
    address = getattr(request, "param", "127.0.0.1")
    with serve_process("tcp", listen=address) as (_server, port):
        yield address, port


def hosts_addresses(name: str, path: Path = Path("/etc/hosts")) -> set[str]:
    addresses = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1 and name in (field.lower() for field in fields[1:]):
            addresses.add(fields[0])
    return addresses


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def findings(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["check"] == check]


def test_localhost_is_found_in_etc_hosts_and_answers(
    tmp_path: Path, tcp_responder: tuple[str, int]
) -> None:
    _, port = tcp_responder
    args = ["options", f"sip:localhost:{port};transport=tcp", "--format", "json"]
    listed = hosts_addresses("localhost")
    if "127.0.0.1" in listed:
        done = subprocess.run(
            [*SIPPROBE, *args], capture_output=True, text=True, timeout=60, check=False
        )
    else:
        # Without the line the name would go to the machine's DNS resolver: the probe
        # gets a hosts file that has it, in a mount namespace of its own.
        listed = {"127.0.0.1"}
        done = in_private_hosts(tmp_path, "127.0.0.1 localhost\n", args)
    report = report_of(done)
    targets = {target["address"] for target in report["targets"]}
    assert targets <= listed, targets
    (answered,) = [f for f in findings(report, "sip.options") if "(127.0.0.1:" in f["target"]]
    assert answered["status"] == "pass", answered
    location = findings(report, "dns.resolve")[0]
    answers = location["details"]["answers"]
    assert {answer["source"] for answer in answers} == {"system"}
    assert all(answer["server"].startswith(SYSTEM_RESOLVER) for answer in answers)
    if listed == {"127.0.0.1"}:
        assert done.returncode == 0, done.stdout + done.stderr
        assert report["verdict"] == "pass"


def in_private_hosts(
    tmp_path: Path, hosts: str, args: list[str]
) -> subprocess.CompletedProcess[str]:
    """`sipprobe ARGS` in a mount namespace of its own where /etc/hosts is `hosts` and the
    name service consults the file only (so a miss can never reach DNS)."""
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(hosts)
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("hosts: files\n")
    unshare = shutil.which("unshare")
    trial = (
        subprocess.run(
            [unshare, "-m", "mount", "--bind", str(hosts_file), "/etc/hosts"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if unshare
        else None
    )
    if trial is None or trial.returncode != 0:
        why = "no unshare" if trial is None else trial.stderr.strip()
        missing_peer(f"cannot bind a private /etc/hosts in a mount namespace ({why})")
    assert unshare is not None
    script = (
        'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf '
        '&& shift 2 && exec "$@"'
    )
    return subprocess.run(
        [
            unshare,
            "-m",
            "sh",
            "-c",
            script,
            "sh",
            str(hosts_file),
            str(nsswitch),
            *SIPPROBE,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("tcp_responder", ["127.0.0.7"], indirect=True)
def test_a_name_in_a_private_hosts_file_is_reached(
    tmp_path: Path, tcp_responder: tuple[str, int]
) -> None:
    address, port = tcp_responder
    done = in_private_hosts(
        tmp_path,
        f"127.0.0.1 localhost\n{address}\t{LAB_NAME}  # the lab\n",
        ["options", f"sip:{LAB_NAME}:{port};transport=tcp", "--format", "json"],
    )
    report = report_of(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["verdict"] == "pass"
    assert [(t["address"], t["port"]) for t in report["targets"]] == [(address, port)]
    (location,) = findings(report, "dns.resolve")
    servers = {answer["server"] for answer in location["details"]["answers"]}
    assert servers == {"system resolver (getaddrinfo: /etc/hosts)"}
    assert location["summary"].endswith(f"A {address} (system resolver)")


def test_the_resolve_command_says_the_system_resolver_answered(tmp_path: Path) -> None:
    done = in_private_hosts(
        tmp_path,
        f"127.0.0.1 localhost\n127.0.0.7 {LAB_NAME}\n",
        ["resolve", f"sip:{LAB_NAME}:5060;transport=tcp", "sip:absent.example.test:5060"],
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one URI located nothing
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert "  1. 127.0.0.7:5060/tcp  verify as sip.example.test" in lines
    assert (
        f"  A {LAB_NAME}: 1 address, from system resolver (getaddrinfo: /etc/hosts)"
        in "\n".join(lines)
    )
    # Not in the file, and the name service asks nothing else: "name not found".
    assert (
        "  - absent.example.test: name not found, according to the system resolver "
        "(getaddrinfo: /etc/hosts)" in lines
    )


@pytest.mark.peer
@pytest.mark.parametrize("tcp_responder", ["127.0.0.8"], indirect=True)
def test_with_a_dns_server_the_hosts_file_is_not_used(
    tmp_path: Path, tcp_responder: tuple[str, int]
) -> None:
    """`localhost` is 127.0.0.1 in /etc/hosts; the DNS server says 127.0.0.8, where the
    responder is: only a probe that asked DNS alone reaches it."""
    address, port = tcp_responder
    server = start_dnsmasq(tmp_path / "dns", [Host("localhost", address)], domains=("localhost",))
    try:
        done = subprocess.run(
            [
                *SIPPROBE,
                "options",
                f"sip:localhost:{port};transport=tcp",
                "--dns-server",
                f"{server.host}:{server.port}",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.stop()
    report = report_of(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t["address"] for t in report["targets"]] == [address]
    (location,) = findings(report, "dns.resolve")
    answers = location["details"]["answers"]
    assert {answer["source"] for answer in answers} == {"dns"}
    assert {answer["server"] for answer in answers} == {f"{server.host}:{server.port}"}
