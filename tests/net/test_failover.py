"""Failover of an endpoint list against real servers: several Kamailio TLS listeners on
distinct loopback addresses (127.0.0.2, 127.0.0.3, ::1) and a real DNS server (dnsmasq)
publishing the trunk's NAPTR, SRV, A and AAAA records. No name is ever resolved through
the machine's resolver.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from probe.report.model import Report
from probe.run.commands import FailoverRequest, OptionsRequest, run_failover_command
from probe.settings import Settings
from probe.tls.pki import Issued, generate_key, make_leaf, make_root_ca
from probe.verdict.findings import Finding, Status
from tests.helpers import no_usage_error
from tests.peers.dnsmasq import Dnsmasq, Host, Naptr, Srv, start_dnsmasq
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

TRUNK = "trunk.example.test"
REGIONS = {  # name → address
    "us-south.example.test": "127.0.0.2",
    "us-east.example.test": "127.0.0.3",
    "us-west.example.test": "::1",
}
SAME_ADDRESS_AS_SOUTH = "us-central.example.test"


@pytest.fixture(scope="module")
def region_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """One root; per region a leaf with its own key, valid for its name and the trunk."""
    directory = tmp_path_factory.mktemp("region-pki")
    root = make_root_ca("failover test root")
    (directory / "ca.pem").write_bytes(root.cert_pem())
    files: dict[str, tuple[Path, Path]] = {"ca": (directory / "ca.pem", directory / "ca.pem")}
    for name in REGIONS:
        names = [name, TRUNK] + ([SAME_ADDRESS_AS_SOUTH] if name.startswith("us-south") else [])
        leaf: Issued = make_leaf(
            root,
            common_name=name,
            dns_names=names,
            sip_uris=[f"sip:{n}" for n in names],
            key=generate_key(),
        )
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        cert.write_bytes(leaf.cert_pem())
        key.write_bytes(leaf.key_pem())
        files[name] = (cert, key)
    return files


@dataclass
class TrunkLab:
    """The regions' servers, the DNS server, and how to reach them."""

    ca: Path
    servers: dict[str, Kamailio]
    dns: Dnsmasq
    workdir: Path
    stopped: set[str] = field(default_factory=set)

    def port(self, name: str) -> int:
        return self.servers[name].tls_port

    def uri(self, name: str) -> str:
        return f"sip:{name}:{self.port(name)};transport=tls"

    @property
    def dns_server(self) -> str:
        host, port = self.dns.address
        return f"{host}:{port}"

    def stop(self, name: str) -> None:
        self.servers[name].stop()
        self.stopped.add(name)


def _start_lab(
    workdir: Path, pki: dict[str, tuple[Path, Path]], *, busy: str | None = None
) -> TrunkLab:
    servers: dict[str, Kamailio] = {}
    try:
        for name, address in REGIONS.items():
            cert, key = pki[name]
            reply = (503, "Service Unavailable") if name == busy else (200, "OK")
            servers[name] = start_kamailio(
                workdir / name,
                [TlsProfile("tls", cert, key)],
                host=address,
                options_reply=reply,
                reply_headers=["Retry-After: 120"] if name == busy else [],
            )
        south, east, west = (servers[name].tls_port for name in REGIONS)
        records = [
            *(Host(name, address) for name, address in REGIONS.items()),
            Host(SAME_ADDRESS_AS_SOUTH, REGIONS["us-south.example.test"]),
            Naptr(TRUNK, 10, 50, "SIPS+D2T", f"_sips._tcp.{TRUNK}"),
            Srv(f"_sips._tcp.{TRUNK}", "us-south.example.test", south, priority=10, weight=60),
            Srv(f"_sips._tcp.{TRUNK}", "us-east.example.test", east, priority=10, weight=40),
            Srv(f"_sips._tcp.{TRUNK}", "us-west.example.test", west, priority=20, weight=0),
        ]
        dns = start_dnsmasq(workdir / "dns", records)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return TrunkLab(pki["ca"][0], servers, dns, workdir)


@pytest.fixture
def trunk(tmp_path: Path, region_pki: dict[str, tuple[Path, Path]]) -> Iterator[TrunkLab]:
    lab = _start_lab(tmp_path, region_pki)
    yield lab
    for name, server in lab.servers.items():
        if name not in lab.stopped:
            server.stop()
    lab.dns.stop()


@pytest.fixture
def busy_trunk(tmp_path: Path, region_pki: dict[str, tuple[Path, Path]]) -> Iterator[TrunkLab]:
    lab = _start_lab(tmp_path, region_pki, busy="us-south.example.test")
    yield lab
    for server in lab.servers.values():
        server.stop()
    lab.dns.stop()


def failover(lab: TrunkLab, targets: list[str], **options: Any) -> Report:
    failover_options = {
        k: options.pop(k) for k in ("priorities", "weights", "order") if k in options
    }
    common = OptionsRequest(
        targets=targets,
        settings=Settings.from_flat(options, ca=lab.ca, dns_server=lab.dns_server, timeout=2),
    )
    return run_failover_command(
        FailoverRequest(common, **failover_options), on_usage_error=no_usage_error
    )


def south_then_east(lab: TrunkLab) -> list[str]:
    return [lab.uri("us-south.example.test"), lab.uri("us-east.example.test")]


def trunk_checks(report: Report) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.trunk_findings}


def test_both_up_calls_land_on_the_primary(trunk: TrunkLab) -> None:
    report = failover(
        trunk, [trunk.uri("us-south.example.test"), trunk.uri("us-east.example.test")]
    )
    checks = trunk_checks(report)
    assert report.verdict == "pass", [f.summary for f in report.findings if f.status != "pass"]
    assert checks["failover.primary"].status is Status.PASS
    assert checks["failover.redundancy"].status is Status.PASS
    order = checks["failover.order"].details["order"]
    assert [row["target"] for row in order] == [
        f"us-south.example.test (127.0.0.2:{trunk.port('us-south.example.test')}/tls)",
        f"us-east.example.test (127.0.0.3:{trunk.port('us-east.example.test')}/tls)",
    ]
    assert all(row["healthy"] and row["rtt_ms"] > 0 for row in order)
    assert checks["failover.order"].details["lands_on"] == order[0]["target"]


def test_primary_stopped_names_where_calls_land(trunk: TrunkLab) -> None:
    trunk.stop("us-south.example.test")
    report = failover(
        trunk, [trunk.uri("us-south.example.test"), trunk.uri("us-east.example.test")]
    )
    primary = trunk_checks(report)["failover.primary"]
    assert primary.status is Status.FAIL
    assert "us-south.example.test is down (cannot connect" in primary.summary
    assert (
        f"calls land on us-east.example.test (127.0.0.3:{trunk.port('us-east.example.test')}/tls)"
        in primary.summary
    )
    assert trunk_checks(report)["failover.redundancy"].status is Status.FAIL


def test_secondary_stopped_leaves_no_failover_path(trunk: TrunkLab) -> None:
    trunk.stop("us-east.example.test")
    report = failover(
        trunk, [trunk.uri("us-south.example.test"), trunk.uri("us-east.example.test")]
    )
    checks = trunk_checks(report)
    assert checks["failover.primary"].status is Status.PASS
    assert checks["failover.redundancy"].status is Status.FAIL
    assert "only us-south.example.test is healthy" in checks["failover.redundancy"].summary


def test_two_names_on_one_address_is_fake_redundancy(trunk: TrunkLab) -> None:
    port = trunk.port("us-south.example.test")
    report = failover(
        trunk,
        [trunk.uri("us-south.example.test"), f"sip:{SAME_ADDRESS_AS_SOUTH}:{port};transport=tls"],
    )
    redundancy = trunk_checks(report)["failover.redundancy"]
    assert redundancy.status is Status.FAIL
    assert "fake redundancy" in redundancy.summary
    assert "127.0.0.2" in redundancy.summary


def test_srv_priorities_and_weights_are_honoured(trunk: TrunkLab) -> None:
    orders = {}
    for seed in range(12):
        report = failover(trunk, [f"sips:{TRUNK}"], seed=seed)
        rows = trunk_checks(report)["failover.order"].details["order"]
        orders[seed] = tuple(row["group"] for row in rows)
        assert report.verdict == "pass", [f.summary for f in report.findings if f.status != "pass"]
        assert {row["group"]: row["share"] for row in rows} == {
            "us-south.example.test": 0.6,
            "us-east.example.test": 0.4,
            "us-west.example.test": 1.0,
        }
    assert all(order[2] == "us-west.example.test" for order in orders.values())
    assert {order[0] for order in orders.values()} == {
        "us-south.example.test",
        "us-east.example.test",
    }
    assert (
        failover(trunk, [f"sips:{TRUNK}"], seed=3).trunk_findings[0].details["order"][0]["group"]
        == orders[3][0]
    )


def test_nxdomain_is_reported_and_skipped_over(trunk: TrunkLab) -> None:
    report = failover(
        trunk, ["sip:nope.example.test;transport=tls", trunk.uri("us-east.example.test")]
    )
    first = {f.check: f for f in report.results[0].findings}
    assert first["dns.resolve"].status is Status.FAIL
    assert "NXDOMAIN" in first["dns.resolve"].summary
    primary = trunk_checks(report)["failover.primary"]
    assert primary.status is Status.FAIL
    assert "calls land on us-east.example.test" in primary.summary


def test_a_503_endpoint_is_skipped_over(busy_trunk: TrunkLab) -> None:
    report = failover(
        busy_trunk,
        [busy_trunk.uri("us-south.example.test"), busy_trunk.uri("us-east.example.test")],
    )
    primary = trunk_checks(report)["failover.primary"]
    assert primary.status is Status.FAIL
    assert "503 Service Unavailable" in primary.summary
    assert "calls land on us-east.example.test" in primary.summary
    options = {f.check: f for f in report.results[0].findings}["sip.options"]
    assert options.details["retry_after"] == "120"


def test_priority_order_from_the_command_line(trunk: TrunkLab) -> None:
    report = failover(
        trunk,
        [
            trunk.uri("us-south.example.test"),
            trunk.uri("us-east.example.test"),
            trunk.uri("us-west.example.test"),
        ],
        priorities=[20, 10, 10],
        weights=[1, 30, 70],
    )
    rows = trunk_checks(report)["failover.order"].details["order"]
    assert [row["group"] for row in rows] == [
        "us-west.example.test",
        "us-east.example.test",
        "us-south.example.test",
    ]
    assert [row["share"] for row in rows] == [0.7, 0.3, 1.0]
    assert "[::1]" in rows[0]["target"]


def test_resolve_and_failover_commands(trunk: TrunkLab) -> None:
    def sipprobe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "probe", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    resolved = sipprobe(
        "resolve",
        f"sips:{TRUNK}",
        "--dns-server",
        trunk.dns_server,
        "--seed",
        "1",
        "--format",
        "json",
    )
    assert resolved.returncode == 0, resolved.stderr
    targets = json.loads(resolved.stdout)["results"][0]["targets"]
    assert [t["address"] for t in targets][-1] == "::1"
    assert {t["address"] for t in targets} == set(REGIONS.values())
    text = sipprobe("resolve", f"sips:{TRUNK}", "--dns-server", trunk.dns_server)
    assert "SIPS+D2T" in text.stdout
    console = sipprobe(
        "failover",
        trunk.uri("us-south.example.test"),
        trunk.uri("us-east.example.test"),
        "--ca",
        str(trunk.ca),
        "--dns-server",
        trunk.dns_server,
        "--no-color",
    )
    assert console.returncode == 0, console.stdout + console.stderr
    assert "failover, in the order the provider tries" in console.stdout
    assert "calls land on us-south.example.test" in console.stdout
