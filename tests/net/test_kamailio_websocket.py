"""SIP over WebSocket (RFC 7118) against a real Kamailio: the websocket and xhttp modules
answer the upgrade on its TCP port (WS) and its TLS port (WSS), then SIP runs through
its request route as on any other transport."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

import probe
from probe.report.model import Report
from probe.run.commands import (
    FailoverRequest,
    OptionsRequest,
    run_failover_command,
    run_options_command,
)
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import Refused, no_usage_error, refuse
from tests.peers.common import free_port
from tests.peers.dnsmasq import Host, Naptr, Record, Srv, start_dnsmasq
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import start_sipp

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def kamailio_ws(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    instance = start_kamailio(
        tmp_path_factory.mktemp("kamailio-ws"),
        [
            TlsProfile("tls", lab.server, lab.server_key),
            TlsProfile("mtls", lab.server, lab.server_key, ca=lab.ca, require_client_cert=True),
        ],
        websocket=True,
    )
    yield instance
    instance.stop()


def probe_options(targets: list[str], **options: Any) -> Report:
    return run_options_command(
        OptionsRequest(targets=targets, settings=Settings.from_flat(options)),
        on_usage_error=no_usage_error,
    )


def by_check(report: Report) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.findings}


def pin(port: int, name: str = LAB_NAME) -> str:
    return f"{name}:{port}:127.0.0.1"


def test_options_over_ws_passes(kamailio_ws: Kamailio) -> None:
    port = kamailio_ws.plain_port
    report = probe_options([f"sip:{LAB_NAME}:{port};transport=ws"], pins=[pin(port)])
    checks = by_check(report)
    assert report.verdict == "pass", [f.summary for f in report.findings]
    assert report.results[0].target.transport == "ws"
    assert "tls.handshake" not in checks
    upgrade = checks["ws.upgrade"]
    assert upgrade.status is Status.PASS, upgrade.summary
    assert upgrade.details["subprotocol"] == "sip"
    assert upgrade.details["request"].startswith("GET / HTTP/1.1\r\n")
    assert "Sec-WebSocket-Protocol: sip\r\n" in upgrade.details["request"]
    assert upgrade.details["response"].startswith("HTTP/1.1 101 Switching Protocols\r\n")
    options = checks["sip.options"]
    assert options.details["status_code"] == 200
    assert options.details["server"] == "kamailio-sipprobe-test"
    assert checks["sip.response"].status is Status.PASS
    assert report.results[0].required == (
        "net.connect",
        "ws.upgrade",
        "sip.options",
    )


@pytest.mark.parametrize(
    "scheme_and_transport", ["sip:{}:{};transport=wss", "sips:{}:{};transport=ws"]
)
def test_options_over_wss_passes_with_every_tls_check(
    kamailio_ws: Kamailio, lab: LabFiles, scheme_and_transport: str
) -> None:
    port = kamailio_ws.tls_port
    uri = scheme_and_transport.format(LAB_NAME, port)
    report = probe_options([uri], pins=[pin(port)], ca=lab.ca)
    checks = by_check(report)
    assert report.verdict == "pass", [f.summary for f in report.findings]
    assert report.results[0].target.transport == "wss"
    for check in ("tls.handshake", "tls.chain", "tls.identity", "ws.upgrade", "sip.options"):
        assert checks[check].status is Status.PASS, checks[check].summary
    assert checks["tls.handshake"].details["sni"] == LAB_NAME
    assert checks["tls.chain"].details["presented_count"] == 2
    assert checks["tls.identity"].details["matched_by"] == "uri"
    assert "ws.upgrade" in report.results[0].required
    assert "tls.chain" in report.results[0].required


def test_wss_with_the_wrong_ca_fails_the_chain(kamailio_ws: Kamailio, lab: LabFiles) -> None:
    port = kamailio_ws.tls_port
    report = probe_options(
        [f"sip:{LAB_NAME}:{port};transport=wss"], pins=[pin(port)], ca=lab.other_ca
    )
    checks = by_check(report)
    assert checks["tls.chain"].status is Status.FAIL
    # The certificate is judged as for SIP over TLS; the WebSocket and SIP still work.
    assert checks["ws.upgrade"].status is Status.PASS
    assert checks["sip.options"].status is Status.PASS
    assert report.verdict == "fail"


def test_wss_to_a_name_the_certificate_does_not_cover_fails_identity(
    kamailio_ws: Kamailio, lab: LabFiles
) -> None:
    name = "wrong.example.test"
    port = kamailio_ws.tls_port
    report = probe_options([f"sip:{name}:{port};transport=wss"], pins=[pin(port, name)], ca=lab.ca)
    identity = by_check(report)["tls.identity"]
    assert identity.status is Status.FAIL
    assert name in identity.summary
    assert report.verdict == "fail"


def test_wss_to_a_server_requiring_a_client_certificate(
    kamailio_ws: Kamailio, lab: LabFiles
) -> None:
    """With TLS 1.3 the refusal of a missing client certificate comes after the handshake,
    with the first read: over WSS that is the upgrade's, and tls.client_cert says so."""
    port = kamailio_ws.mtls_port
    uri = f"sip:{LAB_NAME}:{port};transport=wss"
    refused = by_check(probe_options([uri], pins=[pin(port)], ca=lab.ca))
    client_cert = refused["tls.client_cert"]
    assert client_cert.status is Status.FAIL, client_cert.summary
    assert "requires a client certificate and none was sent" in client_cert.summary
    assert refused["ws.upgrade"].status is Status.FAIL
    assert refused["sip.options"].status is Status.SKIP
    accepted = by_check(
        probe_options([uri], pins=[pin(port)], ca=lab.ca, cert=lab.client, key=lab.client_key)
    )
    assert accepted["tls.client_cert"].status is Status.PASS, accepted["tls.client_cert"].summary
    assert accepted["ws.upgrade"].status is Status.PASS
    assert accepted["sip.options"].status is Status.PASS


def test_count_over_wss_keeps_one_websocket(kamailio_ws: Kamailio, lab: LabFiles) -> None:
    port = kamailio_ws.tls_port
    report = probe_options(
        [f"sip:{LAB_NAME}:{port};transport=wss"],
        pins=[pin(port)],
        ca=lab.ca,
        count=4,
        interval=0.01,
    )
    options = by_check(report)["sip.options"]
    assert options.status is Status.PASS, options.summary
    assert options.details["answered"] == 4
    assert options.details["codes"] == {"200": 4}


def test_a_saved_wss_run_is_judged_again_offline(
    kamailio_ws: Kamailio, lab: LabFiles, tmp_path: Path
) -> None:
    port = kamailio_ws.tls_port
    saved = tmp_path / "ws.json"
    live = probe_options(
        [f"sip:{LAB_NAME}:{port};transport=wss"], pins=[pin(port)], ca=lab.ca, evidence_out=saved
    )
    upgrade_live = by_check(live)["ws.upgrade"]
    stored = json.loads(saved.read_text())
    evidence = stored["uris"][0]["targets"][0]["evidence"]
    assert evidence["websocket"]["ok"] is True
    # RFC 6455 §5.5.1 before TLS's close_notify: Kamailio's Close came back, then TLS closed.
    assert evidence["closed_cleanly"] is True
    again = probe.judge(saved)
    assert again.verdict == live.verdict == "pass"
    assert by_check(again)["ws.upgrade"] == upgrade_live


@pytest.fixture
def kamailio_relay_ws(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Any]]:
    sipp = start_sipp(tmp_path / "sipp", "uas_srtp.xml")
    try:
        kamailio = start_kamailio(
            tmp_path / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
            websocket=True,
        )
    except BaseException:
        sipp.stop()
        raise
    yield kamailio, sipp
    sipp.stop()
    kamailio.stop()


def test_a_test_call_over_wss_negotiates_srtp_and_ends(
    kamailio_relay_ws: tuple[Kamailio, Any], lab: LabFiles
) -> None:
    """Kamailio as a WebSocket edge relaying to a SIPp UAS: INVITE, SDES answer, ACK and
    BYE all travel over the one WSS connection; SIPp exits 0 only when its scenario,
    BYE included, completed."""
    kamailio, sipp = kamailio_relay_ws
    port = kamailio.tls_port
    common = OptionsRequest(
        targets=[f"sip:{LAB_NAME}:{port};transport=wss"],
        settings=Settings.from_flat(pins=[pin(port)], ca=lab.ca, timeout=3),
    )
    report = run_invite_command(
        InviteRequest(common, CallSettings(to=f"sip:+15550100@{LAB_NAME}")),
        on_usage_error=no_usage_error,
    )
    checks = by_check(report)
    assert checks["ws.upgrade"].status is Status.PASS
    assert checks["sip.invite"].status is Status.PASS, checks["sip.invite"].summary
    assert checks["sdp.srtp"].status is Status.PASS, checks["sdp.srtp"].summary
    assert checks["sdp.sdes_transport"].status is Status.PASS
    teardown = checks["sip.teardown"]
    assert teardown.status is Status.PASS, teardown.summary
    assert teardown.details["bye_status"] == 200
    assert teardown.details["dialogs_left_open"] == 0
    code = sipp.wait()
    assert code == 0, f"SIPp exited {code}: the scenario did not complete\n{sipp.errors()}"


def test_sdes_keys_are_not_sent_over_plain_ws(kamailio_ws: Kamailio) -> None:
    """RFC 4568 §8.3: SDES keys travel in the SDP, so WS without TLS is a cleartext hop:
    refused before any packet, as over TCP; sent with the flag, and judged failing."""
    port = kamailio_ws.plain_port
    common = OptionsRequest(targets=[f"sip:127.0.0.1:{port};transport=ws"])
    call = CallSettings(to=f"sip:+15550100@{LAB_NAME}")
    with pytest.raises(Refused, match="would cross WS in cleartext"):
        run_invite_command(InviteRequest(common, call), on_usage_error=refuse)
    report = run_invite_command(
        InviteRequest(common, replace(call, allow_cleartext_keys=True, answer_timeout=2)),
        on_usage_error=no_usage_error,
    )
    checks = by_check(report)
    assert checks["ws.upgrade"].status is Status.PASS
    assert checks["sdp.sdes_transport"].status is Status.FAIL
    assert "WS" in checks["sdp.sdes_transport"].summary


# --- located by NAPTR and SRV (RFC 3263 with RFC 7118's services), from a real DNS --------

EDGE = f"edge.{LAB_NAME}"


@dataclass(frozen=True)
class WsZone:
    dns_server: str
    backup_port: int


@pytest.fixture(scope="module")
def ws_dns(tmp_path_factory: pytest.TempPathFactory, kamailio_ws: Kamailio) -> Iterator[WsZone]:
    """The lab name publishes WSS first and WS second (NAPTR), each behind its SRV name;
    the WSS service has a backup on a port where nothing listens."""
    closed = free_port()
    records: list[Record] = [
        Naptr(LAB_NAME, 10, 50, "SIPS+D2W", f"_sips._ws.{LAB_NAME}"),
        Naptr(LAB_NAME, 20, 50, "SIP+D2W", f"_sip._ws.{LAB_NAME}"),
        Srv(f"_sips._ws.{LAB_NAME}", EDGE, kamailio_ws.tls_port, priority=10),
        Srv(f"_sips._ws.{LAB_NAME}", EDGE, closed, priority=20),
        Srv(f"_sip._ws.{LAB_NAME}", EDGE, kamailio_ws.plain_port, priority=10),
        Host(EDGE, "127.0.0.1"),
    ]
    server = start_dnsmasq(tmp_path_factory.mktemp("dnsmasq-ws"), records)
    host, port = server.address
    yield WsZone(f"{host}:{port}", closed)
    server.stop()


def test_naptr_sips_d2w_leads_to_wss(kamailio_ws: Kamailio, lab: LabFiles, ws_dns: WsZone) -> None:
    report = probe_options([f"sip:{LAB_NAME}"], dns_server=ws_dns.dns_server, ca=lab.ca, timeout=2)
    first, backup = report.results
    assert (first.target.transport, first.target.port) == ("wss", kamailio_ws.tls_port)
    assert first.verdict == "pass", [f.summary for f in first.findings]
    located = next(f for f in first.findings if f.check == "dns.resolve")
    assert "SIPS+D2W" in located.summary
    assert f"SRV 10 0 {kamailio_ws.tls_port} {EDGE}" in located.summary
    assert "NAPTR SIPS+D2W" in located.details["transport_reason"]
    # The identity is the dialled domain's, never the SRV target's (RFC 5922 §7.2).
    identity = next(f for f in first.findings if f.check == "tls.identity")
    assert identity.status is Status.PASS
    assert backup.target.transport == "wss"
    assert backup.verdict == "fail"
    assert next(f for f in backup.findings if f.check == "net.connect").status is Status.FAIL


def test_an_explicit_transport_asks_its_own_srv_name(kamailio_ws: Kamailio, ws_dns: WsZone) -> None:
    report = probe_options(
        [f"sip:{LAB_NAME};transport=ws"], dns_server=ws_dns.dns_server, timeout=2
    )
    (result,) = report.results
    assert (result.target.transport, result.target.port) == ("ws", kamailio_ws.plain_port)
    assert result.verdict == "pass", [f.summary for f in result.findings]
    located = next(f for f in result.findings if f.check == "dns.resolve")
    assert located.details["transport_reason"].startswith("transport=ws in the URI")
    asked = [answer["query"]["name"] for answer in located.details["answers"]]
    assert f"_sip._ws.{LAB_NAME}" in asked
    assert LAB_NAME not in asked  # no NAPTR with an explicit transport (RFC 3263 §4.1)


def test_resolve_and_failover_follow_d2w(
    kamailio_ws: Kamailio, lab: LabFiles, ws_dns: WsZone
) -> None:
    def sipprobe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "probe", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    resolved = sipprobe(
        "resolve", f"sips:{LAB_NAME}", "--dns-server", ws_dns.dns_server, "--format", "json"
    )
    assert resolved.returncode == 0, resolved.stderr
    targets = json.loads(resolved.stdout)["results"][0]["targets"]
    assert [(t["transport"], t["port"]) for t in targets] == [
        ("wss", kamailio_ws.tls_port),
        ("wss", ws_dns.backup_port),
    ]
    text = sipprobe("resolve", f"sips:{LAB_NAME}", "--dns-server", ws_dns.dns_server)
    assert text.returncode == 0, text.stderr
    assert f"127.0.0.1:{kamailio_ws.tls_port}/wss" in text.stdout
    assert "SIPS+D2W" in text.stdout
    # A sips: URI never follows SIP+D2W (WebSocket without TLS).
    assert f"SRV _sip._ws.{LAB_NAME}" not in text.stdout
    report = run_failover_command(
        FailoverRequest(
            OptionsRequest(
                targets=[f"sip:{LAB_NAME}"],
                settings=Settings.from_flat(ca=lab.ca, dns_server=ws_dns.dns_server, timeout=2),
            )
        ),
        on_usage_error=no_usage_error,
    )
    trunk = {finding.check: finding for finding in report.trunk_findings}
    order = trunk["failover.order"].details["order"]
    assert [row["target"] for row in order] == [
        f"{LAB_NAME} (127.0.0.1:{kamailio_ws.tls_port}/wss)",
        f"{LAB_NAME} (127.0.0.1:{ws_dns.backup_port}/wss)",
    ]
    assert trunk["failover.primary"].status is Status.PASS, trunk["failover.primary"].summary
