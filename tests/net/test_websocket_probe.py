"""OPTIONS over WS and WSS against a scripted wsproto server: the upgrade as the server
answers it, judged as `ws.upgrade`; SIP only after a 101 with the `sip` subprotocol."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from probe.evidence.model import ProbeEvidence, Target
from probe.net.options import ProbeSettings, collect_options
from probe.sip import parse_message, parse_uri
from probe.tls.lab import LabFiles
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import CheckId, Status
from tests.net.scripted import tls_server_context
from tests.net.websocket_server import WsScript, websocket_server

HOST = "sip.example.test"


def target(port: int, transport: str) -> tuple[Any, Target]:
    text = f"sip:{HOST}:{port};transport={transport}"
    located = Target(uri=text, host=HOST, port=port, transport=transport, address="127.0.0.1")  # type: ignore[arg-type]
    return parse_uri(text), located


async def probe(port: int, transport: str = "ws", timeout: float = 2.0) -> ProbeEvidence:
    uri, located = target(port, transport)
    settings = ProbeSettings(timeout=timeout)
    return await collect_options(uri, located, settings)


def findings(evidence: ProbeEvidence) -> dict[str, Any]:
    policy = OptionsPolicy(now=dt.datetime.now(dt.UTC))
    return {finding.check: finding for finding in judge_options(evidence, policy)}


async def test_options_over_ws_after_a_101_with_sip() -> None:
    script = WsScript()
    async with websocket_server(script) as port:
        evidence = await probe(port)
    checks = findings(evidence)
    assert checks[CheckId.WS_UPGRADE].status is Status.PASS, checks[CheckId.WS_UPGRADE].summary
    assert checks[CheckId.SIP_OPTIONS].status is Status.PASS, checks[CheckId.SIP_OPTIONS].summary
    assert checks[CheckId.SIP_RESPONSE].status is Status.PASS
    (upgrade,) = script.upgrade_requests
    assert upgrade.subprotocols == ["sip"]
    assert upgrade.target == "/"
    assert upgrade.host == f"{HOST}:{port}"  # RFC 6455 §4.1: a port other than 80 is named
    (sent,) = script.requests
    request = parse_message(sent)
    assert (request.headers.get("Via") or "").startswith("SIP/2.0/WS ")
    assert evidence.websocket is not None
    assert evidence.websocket.response.startswith(b"HTTP/1.1 101 ")
    assert evidence.websocket.response.endswith(b"\r\n\r\n")
    assert evidence.closed_cleanly


async def test_a_ping_from_the_server_is_answered_and_the_probe_goes_on() -> None:
    script = WsScript(ping_first=True)
    async with websocket_server(script) as port:
        evidence = await probe(port)
    assert findings(evidence)[CheckId.SIP_OPTIONS].status is Status.PASS


async def test_a_101_without_the_sip_subprotocol_fails_and_sends_no_sip() -> None:
    script = WsScript(subprotocol=None)
    async with websocket_server(script) as port:
        evidence = await probe(port)
    checks = findings(evidence)
    upgrade = checks[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "did not agree to the 'sip' subprotocol" in upgrade.summary
    assert upgrade.details["response"].startswith("HTTP/1.1 101 Switching Protocols")
    assert checks[CheckId.SIP_OPTIONS].status is Status.SKIP
    assert script.requests == []


async def test_a_404_to_the_upgrade_fails_with_the_answer_shown() -> None:
    answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nno ws here"
    async with websocket_server(WsScript(raw_answer=answer)) as port:
        evidence = await probe(port)
    assert evidence.websocket is not None
    assert evidence.websocket.error_kind == "rejected"
    upgrade = findings(evidence)[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "answered the WebSocket upgrade with 404 Not Found" in upgrade.summary
    assert upgrade.details["response"].startswith("HTTP/1.1 404 Not Found\r\n")


async def test_a_101_with_a_wrong_accept_value_is_refused() -> None:
    answer = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    )
    async with websocket_server(WsScript(raw_answer=answer)) as port:
        evidence = await probe(port)
    assert evidence.websocket is not None
    assert evidence.websocket.error_kind == "protocol"
    upgrade = findings(evidence)[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "Sec-WebSocket-Accept 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='" in upgrade.summary


async def test_an_answer_that_is_not_http_fails() -> None:
    async with websocket_server(WsScript(raw_answer=b"SIP/2.0 400 Bad Request\r\n\r\n")) as port:
        evidence = await probe(port)
    upgrade = findings(evidence)[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "not an HTTP response" in upgrade.summary


async def test_a_host_the_host_header_cannot_carry_fails_without_sending() -> None:
    script = WsScript()
    name = "a" * 64 + ".example.test"  # a label above 63 characters (RFC 1035 §2.3.4)
    async with websocket_server(script) as port:
        text = f"sip:{name}:{port};transport=ws"
        located = Target(uri=text, host=name, port=port, transport="ws", address="127.0.0.1")
        evidence = await collect_options(parse_uri(text), located, ProbeSettings(timeout=2.0))
    assert script.upgrade_requests == []
    upgrade = findings(evidence)[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "cannot name the host" in upgrade.summary


async def test_a_silent_server_runs_out_the_handshake_deadline() -> None:
    async with websocket_server(WsScript(silent=True)) as port:
        evidence = await probe(port, timeout=0.3)
    assert evidence.websocket is not None
    assert evidence.websocket.error_kind == "timeout"
    upgrade = findings(evidence)[CheckId.WS_UPGRADE]
    assert upgrade.status is Status.FAIL
    assert "within 0.3 s (handshake deadline)" in upgrade.summary


async def test_a_close_frame_instead_of_an_answer_ends_the_exchange() -> None:
    async with websocket_server(WsScript(close_instead=True)) as port:
        evidence = await probe(port)
    (exchange,) = evidence.exchanges
    assert exchange.outcome == "closed"
    assert exchange.error == "the server closed the WebSocket (close code 1011: no)"
    assert findings(evidence)[CheckId.SIP_OPTIONS].status is Status.FAIL


async def test_a_close_right_after_the_answer_leaves_the_exchange_answered() -> None:
    async with websocket_server(WsScript(close_after_answer=True)) as port:
        evidence = await probe(port)
    (exchange,) = evidence.exchanges
    assert exchange.outcome == "answered"
    assert exchange.final_status == 200
    assert findings(evidence)[CheckId.SIP_OPTIONS].status is Status.PASS


async def test_a_count_run_stops_when_the_websocket_is_closed() -> None:
    async with websocket_server(WsScript(close_after_answer=True)) as port:
        uri, located = target(port, "ws")
        evidence = await collect_options(
            uri, located, ProbeSettings(timeout=2.0, count=3, interval=0.01)
        )
    assert evidence.ping is not None
    assert evidence.ping.answered == 1
    assert evidence.ping.ended == "connection_lost"
    assert "WebSocket" in (evidence.ping.ended_detail or "")


async def test_options_over_wss_captures_tls_first(lab: LabFiles) -> None:
    script = WsScript()
    async with websocket_server(script, tls_server_context(lab.server, lab.server_key)) as port:
        evidence = await probe(port, "wss")
    assert evidence.tls is not None
    assert evidence.tls.ok
    assert evidence.tls.sni == HOST
    assert len(evidence.tls.presented_chain) == 2
    checks = findings(evidence)
    assert checks[CheckId.WS_UPGRADE].status is Status.PASS
    assert checks[CheckId.SIP_OPTIONS].status is Status.PASS
    request = parse_message(script.requests[0])
    assert (request.headers.get("Via") or "").startswith("SIP/2.0/WSS ")
    # RFC 6455 §5.5.1: our Close, the server's Close, and only then TLS's close_notify.
    assert evidence.closed_cleanly


async def test_a_server_that_ignores_our_close_costs_at_most_the_close_deadline(
    lab: LabFiles,
) -> None:
    loop = asyncio.get_running_loop()
    context = tls_server_context(lab.server, lab.server_key)
    async with websocket_server(WsScript(ignore_close=True), context) as port:
        started = loop.time()
        evidence = await probe(port, "wss")
        elapsed = loop.time() - started
    assert findings(evidence)[CheckId.SIP_OPTIONS].status is Status.PASS
    assert not evidence.closed_cleanly
    assert elapsed < 2.0  # the connection's close deadline (1 s), not the server's mercy


async def test_ws_path_names_the_upgrades_resource() -> None:
    script = WsScript()
    async with websocket_server(script) as port:
        uri, located = target(port, "ws")
        settings = ProbeSettings(timeout=2.0, ws_path="/ws?tenant=a%20b")
        evidence = await collect_options(uri, located, settings)
    (upgrade,) = script.upgrade_requests
    assert upgrade.target == "/ws?tenant=a%20b"
    assert findings(evidence)[CheckId.SIP_OPTIONS].status is Status.PASS
