"""`--source ADDRESS[:PORT]` and `-4`/`-6` against real peers: Kamailio echoes the source
address and port it saw ($si:$sp) over TLS and UDP; a name with an A and an AAAA record
in a real DNS server (dnsmasq) becomes only the family asked for, each dialled on a
responder listening on that address."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.evidence.file import load_evidence
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.serve import Responder, ResponderConfig
from probe.settings import Settings
from probe.sip import Response, parse_message
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.common import free_port
from tests.peers.dnsmasq import Dnsmasq, Host, start_dnsmasq
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

SOURCE = "127.0.0.7"


def run(target: str, **options: Any) -> Report:
    return run_options_command(
        OptionsRequest(targets=[target], settings=Settings.from_flat(options)),
        on_usage_error=no_usage_error,
    )


@pytest.fixture(scope="module")
def kamailio_source(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    instance = start_kamailio(
        tmp_path_factory.mktemp("kamailio-source"),
        [TlsProfile("tls", lab.server, lab.server_key)],
        reply_headers=("X-Seen-Source: $si:$sp",),
    )
    yield instance
    instance.stop()


def seen_source(saved: Path) -> str | None:
    (probed,) = load_evidence(saved).probed()
    assert probed.evidence is not None
    (exchange,) = probed.evidence.exchanges
    answer = parse_message(exchange.received[-1].data)
    assert isinstance(answer, Response)
    return answer.headers.get("X-Seen-Source")


@pytest.mark.parametrize("transport", ["tls", "udp"])
def test_kamailio_sees_the_source_address_and_port(
    kamailio_source: Kamailio, lab: LabFiles, tmp_path: Path, transport: str
) -> None:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    port = free_port(kind, SOURCE)
    target_port = kamailio_source.tls_port if transport == "tls" else kamailio_source.plain_port
    saved = tmp_path / "source.json"
    report = run(
        f"sip:{LAB_NAME}:{target_port};transport={transport}",
        pins=[f"{LAB_NAME}:{target_port}:127.0.0.1"],
        ca=lab.ca,
        source=f"{SOURCE}:{port}",
        evidence_out=saved,
    )
    assert report.verdict == "pass", [f.summary for f in report.findings]
    assert seen_source(saved) == f"{SOURCE}:{port}"
    connect = next(f for f in report.findings if f.check == "net.connect")
    assert f"every connection bound to --source {SOURCE}:{port}" in report.notes
    assert connect.details["local_address"] == SOURCE


def test_a_source_address_alone_picks_any_port(
    kamailio_source: Kamailio, lab: LabFiles, tmp_path: Path
) -> None:
    port = kamailio_source.tls_port
    saved = tmp_path / "source.json"
    run(
        f"sip:{LAB_NAME}:{port};transport=tls",
        pins=[f"{LAB_NAME}:{port}:127.0.0.1"],
        ca=lab.ca,
        source=SOURCE,
        evidence_out=saved,
    )
    seen = seen_source(saved)
    assert seen is not None
    assert seen.startswith(f"{SOURCE}:")


def test_a_source_port_in_use_fails_the_connect_saying_so(
    kamailio_source: Kamailio, lab: LabFiles
) -> None:
    port = kamailio_source.tls_port
    with socket.socket() as holder:
        holder.bind((SOURCE, 0))
        holder.listen()  # a listening socket keeps the port even from SO_REUSEADDR
        taken = holder.getsockname()[1]
        report = run(
            f"sip:{LAB_NAME}:{port};transport=tls",
            pins=[f"{LAB_NAME}:{port}:127.0.0.1"],
            ca=lab.ca,
            source=f"{SOURCE}:{taken}",
        )
    connect = next(f for f in report.findings if f.check == "net.connect")
    assert report.verdict == "fail"
    assert f"cannot bind the source address {SOURCE}:{taken}" in connect.summary


@pytest.fixture
async def both_families() -> AsyncIterator[int]:
    """Responders on 127.0.0.1 and ::1, on one port number."""
    first = Responder(ResponderConfig(host="127.0.0.1", transports=("tcp",)))
    await first.start()
    try:
        port = first.port_of("tcp")
        second = Responder(ResponderConfig(host="::1", port=port, transports=("tcp",)))
        await second.start()
        try:
            yield port
        finally:
            await second.stop()
    finally:
        await first.stop()


@pytest.fixture(scope="module")
def dual_stack_dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    server = start_dnsmasq(
        tmp_path_factory.mktemp("dnsmasq-family"), [Host(LAB_NAME, "127.0.0.1", "::1")]
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("family", "addresses"),
    [(None, ["::1", "127.0.0.1"]), ("ipv4", ["127.0.0.1"]), ("ipv6", ["::1"])],
)
async def test_only_the_family_asked_is_located_and_dialled(
    both_families: int, dual_stack_dns: Dnsmasq, family: str | None, addresses: list[str]
) -> None:
    host, dns_port = dual_stack_dns.address
    report = await asyncio.to_thread(
        run,
        f"sip:{LAB_NAME}:{both_families};transport=tcp",
        dns_server=f"{host}:{dns_port}",
        family=family,
    )
    assert [result.target.address for result in report.results] == addresses
    assert report.verdict == "pass", [f.summary for f in report.findings]
    asked = {
        answer["query"]["type"]
        for finding in report.findings
        if finding.check == "dns.resolve"
        for answer in finding.details["answers"]
    }
    assert asked == {"ipv4": {"A"}, "ipv6": {"AAAA"}, None: {"A", "AAAA"}}[family]
