"""The pure parts of SIP over WebSocket on the answering side: which upgrade we take
(RFC 6455 §4.2.1 as wsproto reads it, and the `sip` subprotocol of RFC 7118 §4.1), the
refusal we write, the request head we keep; and how the inbound checks and the evidence
file treat a call that came over ws or wss. No socket."""

from __future__ import annotations

import base64
import dataclasses

import h11
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request
from wsproto.utilities import RemoteProtocolError

from probe.answer.config import AnswerConfig, AnswerConfigError, ListenerSpec
from probe.answer.websocket_accept import (
    MAX_UPGRADE_BYTES,
    UpgradeRefusal,
    judge_upgrade,
    malformed,
    refusal_bytes,
    request_head,
)
from probe.evidence.file import RunEvidence, RunSettings, dumps_evidence, loads_evidence
from probe.evidence.inbound import InboundCall, InboundConnection
from probe.evidence.model import WebSocketUpgrade
from probe.verdict.checks.inbound import check_calls, judge_inbound
from probe.verdict.findings import CheckId, Finding, Status, TargetResult
from tests.inbound import kit

KEY = base64.b64encode(b"0123456789abcdef").decode()


def upgrade_request(*lines: str, method: str = "GET", version: str = "13") -> bytes:
    head = [
        f"{method} /sip HTTP/1.1",
        "Host: sbc.example.test",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        f"Sec-WebSocket-Version: {version}",
        *lines,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def server_reads(data: bytes) -> Request:
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(data)
    (event,) = list(ws.events())
    assert isinstance(event, Request)
    return event


def refusal_of(data: bytes) -> UpgradeRefusal:
    ws = WSConnection(ConnectionType.SERVER)
    with pytest.raises(RemoteProtocolError) as caught:
        ws.receive_data(data)
    return malformed(caught.value)


# --- the upgrade we take ---------------------------------------------------------------


@pytest.mark.parametrize("offered", ["sip", "chat, sip", "sip, chat"])
def test_an_upgrade_offering_sip_is_taken(offered: str) -> None:
    request = server_reads(upgrade_request(f"Sec-WebSocket-Protocol: {offered}"))
    assert judge_upgrade(request) is None


@pytest.mark.parametrize(
    ("lines", "shown"),
    [((), "offered: none"), (("Sec-WebSocket-Protocol: chat, SIP",), "'chat', 'SIP'")],
)
def test_an_upgrade_without_the_sip_subprotocol_is_refused_400(
    lines: tuple[str, ...], shown: str
) -> None:
    refusal = judge_upgrade(server_reads(upgrade_request(*lines)))
    assert refusal is not None
    assert refusal.status == 400
    assert "'sip' subprotocol" in refusal.why
    assert "RFC 7118 §4.1" in refusal.why
    assert shown in refusal.why


def test_another_websocket_version_is_refused_426_naming_ours() -> None:
    refusal = refusal_of(upgrade_request("Sec-WebSocket-Protocol: sip", version="8"))
    assert refusal.status == 426  # RFC 6455 §4.4
    assert (b"Sec-WebSocket-Version", b"13") in refusal.headers
    assert "not a WebSocket upgrade request" in refusal.why


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",  # TLS on a ws port
        b"OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",  # SIP, no upgrade
        upgrade_request(method="POST"),
        b"GET /sip HTTP/1.1\r\nHost: sbc.example.test\r\n\r\n",  # plain HTTP, no Upgrade
    ],
)
def test_what_is_no_websocket_upgrade_is_refused_400(data: bytes) -> None:
    refusal = refusal_of(data)
    assert refusal.status == 400
    assert refusal.why.startswith("not a WebSocket upgrade request")


@pytest.mark.parametrize("host", [b"xn--zz", "sïp.example".encode()])
def test_a_host_wsproto_cannot_decode_is_refused_not_raised(host: bytes) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    with pytest.raises(UnicodeError) as caught:
        ws.receive_data(upgrade_request().replace(b"sbc.example.test", host))
    refusal = malformed(caught.value)
    assert refusal.status == 400
    assert "Host is not a host name" in refusal.why


# --- what we write and keep ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "Bad Request"), (426, "Upgrade Required"), (431, "Request Header Fields Too Large")],
)
def test_a_refusal_is_a_complete_http_answer_that_says_why(status: int, reason: str) -> None:
    why = "the upgrade does not offer the 'sip' subprotocol"
    data = refusal_bytes(UpgradeRefusal(status, why, ((b"Sec-WebSocket-Version", b"13"),)))
    # An HTTP client reads it whole: status, reason, the headers, the sentence as body.
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    response = client.next_event()
    assert isinstance(response, h11.Response)
    assert (response.status_code, response.reason.decode()) == (status, reason)
    headers = dict(response.headers)
    assert headers[b"connection"] == b"close"
    assert headers[b"sec-websocket-version"] == b"13"
    body = client.next_event()
    assert isinstance(body, h11.Data)
    assert body.data == (why + "\n").encode()
    assert isinstance(client.next_event(), h11.EndOfMessage)


def test_the_request_head_kept_ends_at_its_blank_line_or_the_limit() -> None:
    request = upgrade_request("Sec-WebSocket-Protocol: sip")
    assert request_head(request + b"\x81\x85frame") == request
    endless = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * (2 * MAX_UPGRADE_BYTES)
    assert request_head(endless) == endless[:MAX_UPGRADE_BYTES]


def test_a_wss_listener_needs_a_certificate_and_ws_does_not() -> None:
    with pytest.raises(AnswerConfigError, match="needs a certificate"):
        AnswerConfig(listeners=(ListenerSpec("wss"),)).check()
    AnswerConfig(listeners=(ListenerSpec("ws"),)).check()
    assert AnswerConfig(listeners=(ListenerSpec("ws"), ListenerSpec("wss"))).runs_tls


# --- judging a call that came over a WebSocket ---------------------------------------------

UPGRADE = WebSocketUpgrade(
    ok=True,
    request=upgrade_request(
        "Sec-WebSocket-Protocol: sip",
        "Origin: https://sbc.example.test",
        "User-Agent: TrunkEdge/4.2",
        "Authorization: Basic dHJ1bms6c2VjcmV0",
    ),
    response=b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
    elapsed_ms=1.5,
    subprotocol="sip",
)


def judged(call: InboundCall, **policy: object) -> TargetResult:
    _trunk, results = judge_inbound(kit.evidence(call), kit.policy(**policy))
    (result,) = results
    return result


def finding(result: TargetResult, check: str) -> Finding:
    (found,) = [f for f in result.findings if f.check == check]
    return found


def test_a_wss_call_is_a_tls_call_and_shows_its_upgrade() -> None:
    result = judged(kit.good_call(transport="wss", websocket=UPGRADE))
    tls = finding(result, CheckId.INBOUND_TLS)
    assert tls.status is Status.PASS, tls.summary
    assert "SIP over WebSocket" in tls.summary
    assert tls.details["websocket"] == {
        "resource": "/sip",
        "subprotocol": "sip",
        "host": "sbc.example.test",
        "origin": "https://sbc.example.test",
        "user_agent": "TrunkEdge/4.2",
        "accepted": True,
    }
    # The client chain is judged as over TLS, and SDES keys over WSS crossed no cleartext.
    assert finding(result, CheckId.INBOUND_CLIENT_CERT).status is Status.PASS
    assert finding(result, CheckId.INBOUND_OFFER).status is Status.PASS
    assert result.target.label == "inbound call 1 from 192.0.2.7:5061/wss"


def test_a_ws_call_is_cleartext_for_require_tls_and_for_sdes_keys() -> None:
    call = kit.good_call(transport="ws", tls=None, websocket=UPGRADE)
    result = judged(call, require_client_cert=False, expect_peer=())
    tls = finding(result, CheckId.INBOUND_TLS)
    assert tls.status is Status.FAIL
    assert "came over WS, not TLS" in tls.summary
    assert "have the trunk call wss" in tls.summary
    assert tls.details["websocket"]["resource"] == "/sip"  # type: ignore[index]
    offer = finding(result, CheckId.INBOUND_OFFER)
    assert offer.status is Status.FAIL
    assert "WS" in offer.summary
    # Not required: skipped, still showing the upgrade.
    relaxed = judged(call, require_client_cert=False, expect_peer=(), require_tls=False)
    assert finding(relaxed, CheckId.INBOUND_TLS).status is Status.SKIP
    assert CheckId.INBOUND_TLS not in relaxed.required


def test_a_refused_upgrade_is_named_by_inbound_calls() -> None:
    refused = InboundConnection(
        transport="wss",
        peer="192.0.2.9:40100",
        at_ms=12.0,
        tls=kit.session(),
        error="the upgrade does not offer the 'sip' subprotocol (offered: none)",
        websocket=dataclasses.replace(
            UPGRADE, ok=False, subprotocol=None, error_kind="rejected", error="no 'sip'"
        ),
    )
    found = check_calls(kit.evidence(connections=(refused,)))
    assert found.status is Status.WARN  # the expected call came; a connection failed
    assert "1 connection failed the WebSocket upgrade (192.0.2.9:40100: no 'sip')" in (
        found.summary
    )
    assert found.details["failed_upgrades"] == 1
    assert found.details["failed_handshakes"] == 0
    missing = check_calls(kit.evidence(connections=(refused,), calls=()))
    assert missing.status is Status.FAIL
    assert "failed the WebSocket upgrade" in missing.summary


def test_a_websocket_call_round_trips_through_the_evidence_file_without_credentials() -> None:
    call = kit.good_call(transport="wss", websocket=UPGRADE)
    connection = InboundConnection("ws", "192.0.2.9:40100", 12.0, websocket=UPGRADE)
    run = RunEvidence(
        command="answer",
        started_at=kit.STARTED_AT,
        duration_ms=2500.0,
        settings=RunSettings(timeout_s=60.0),
        uris=(),
        inbound=kit.evidence(call, connections=(connection,)),
    )
    loaded = loads_evidence(dumps_evidence(run))
    assert loaded.inbound is not None
    (back,) = loaded.inbound.calls
    assert back.transport == "wss"
    assert back.websocket is not None
    assert back.websocket.subprotocol == "sip"
    assert b"User-Agent: TrunkEdge/4.2" in back.websocket.request
    assert b"Authorization: Basic <redacted>" in back.websocket.request
    assert loaded.inbound.connections[0].websocket is not None
    assert b"dHJ1bms6c2VjcmV0" not in loaded.inbound.connections[0].websocket.request
