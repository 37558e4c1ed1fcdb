"""A carrier that presents its SRV target's certificate, end to end: a real DNS server
(dnsmasq) sends `sips:trunk.example.test` to `sbc1.carrier.test` by SRV, and a real
Kamailio there presents a certificate for `sbc1.carrier.test` only. RFC 5922 §7.2 matches
the dialled domain, so sipprobe fails it by default and names the SRV target; with
`--accept-srv-target-identity` it warns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.settings import Settings
from probe.tls.pki import generate_key, make_leaf, make_root_ca
from probe.verdict.findings import Status
from tests.helpers import no_usage_error
from tests.peers.dnsmasq import Dnsmasq, Host, Naptr, Srv, start_dnsmasq
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

DOMAIN = "trunk.example.test"
SRV_TARGET = "sbc1.carrier.test"


@dataclass
class Carrier:
    ca: Path
    kamailio: Kamailio
    dns: Dnsmasq

    @property
    def dns_server(self) -> str:
        host, port = self.dns.address
        return f"{host}:{port}"


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carrier]:
    directory = tmp_path_factory.mktemp("carrier")
    root = make_root_ca("carrier root")
    leaf = make_leaf(
        root,
        common_name=SRV_TARGET,
        dns_names=[SRV_TARGET],
        sip_uris=[f"sip:{SRV_TARGET}"],
        key=generate_key(),
    )
    ca, cert, key = directory / "ca.pem", directory / "sbc1.pem", directory / "sbc1.key"
    ca.write_bytes(root.cert_pem())
    cert.write_bytes(leaf.cert_pem())
    key.write_bytes(leaf.key_pem())
    kamailio = start_kamailio(directory / "kamailio", [TlsProfile("tls", cert, key)])
    try:
        records = [
            Naptr(DOMAIN, 10, 50, "SIPS+D2T", f"_sips._tcp.{DOMAIN}"),
            Srv(f"_sips._tcp.{DOMAIN}", SRV_TARGET, kamailio.tls_port, priority=10, weight=1),
            Host(SRV_TARGET, "127.0.0.1"),
        ]
        dns = start_dnsmasq(directory / "dns", records, domains=("example.test", "carrier.test"))
    except BaseException:
        kamailio.stop()
        raise
    try:
        yield Carrier(ca, kamailio, dns)
    finally:
        dns.stop()
        kamailio.stop()


def probe(carrier: Carrier, **options: object) -> Report:
    settings = Settings.from_flat(
        {"ca": carrier.ca, "dns_server": carrier.dns_server, "timeout": 2.0, **options}
    )
    return run_options_command(
        OptionsRequest(targets=[f"sips:{DOMAIN}"], settings=settings),
        on_usage_error=no_usage_error,
    )


def test_by_default_the_srv_targets_certificate_fails_naming_why(carrier: Carrier) -> None:
    report = probe(carrier)
    finding = next(f for f in report.findings if f.check == "tls.identity")
    assert finding.status is Status.FAIL
    assert f"names the SRV target {SRV_TARGET}" in finding.summary
    assert "--accept-srv-target-identity" in finding.summary
    assert finding.details["domain"] == DOMAIN
    assert finding.details["srv_target"] == SRV_TARGET
    assert report.verdict == "fail"
    # Everything else about the trunk is fine: the chain, the handshake, OPTIONS.
    others = {f.check: f.status for f in report.findings if f.check != "tls.identity"}
    assert others["tls.chain"] is Status.PASS
    assert others["sip.options"] is Status.PASS


def test_opted_in_it_warns(carrier: Carrier) -> None:
    report = probe(carrier, accept_srv_target_identity=True)
    finding = next(f for f in report.findings if f.check == "tls.identity")
    assert finding.status is Status.WARN
    assert "accepted by --accept-srv-target-identity" in finding.summary
    assert report.verdict == "warn"


def test_the_command_line_option(carrier: Carrier) -> None:
    args = ["options", f"sips:{DOMAIN}", "--ca", str(carrier.ca), "--format", "json"]
    args += ["--dns-server", carrier.dns_server, "--timeout", "2"]
    assert CliRunner().invoke(cli, args).exit_code == 1
    opted = CliRunner().invoke(cli, [*args, "--accept-srv-target-identity"])
    assert opted.exit_code == 0, opted.output
    findings = json.loads(opted.output)["findings"]
    identity = next(f for f in findings if f["check"] == "tls.identity")
    assert identity["status"] == "warn"
    assert "accepted by --accept-srv-target-identity" in identity["summary"]
