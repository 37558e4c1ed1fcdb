"""Callers over SIP over WebSocket (RFC 7118) placing calls to `sipprobe answer --listen
wss:` (and `ws:`, plain, for a lab).

No Debian package originates SIP over WebSocket: baresip, SIPp and Kamailio's websocket
module only accept it (Kamailio as a server; SIPp and baresip have no WebSocket client).
The caller is therefore the project's own WSS client, `sipprobe invite
'sip:NAME:PORT;transport=wss'` (probe.net.websocket, which the Kamailio tests in
tests/net/test_kamailio_websocket.py hold to a real WebSocket server), and for what no
well-behaved client does (an upgrade without the `sip` subprotocol, one that never ends,
garbage, our BYE and a Ping mid-call, the closing handshake) a raw wsproto client here.
Every wait has a deadline."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

from probe.answer import websocket_accept
from probe.evidence.file import load_evidence
from probe.evidence.inbound import InboundConnection, InboundTransport
from probe.sip import Response, build_response, parse_message
from probe.tls.lab import LabFiles
from tests.answer.command_kit import announced_port
from tests.answer.kit import answering, config, first_lines, only_call
from tests.answer.test_tls_callers import client_context
from tests.conftest import LAB_NAME

SIPPROBE = [sys.executable, "-m", "probe"]
DEADLINE = 60.0
"""No process or wait in this file may take longer: a hang fails the test."""
CLIENT_NAME = "sipprobe-client"
"""The name the lab's client certificate carries (probe.tls.lab)."""

# --- `sipprobe answer` and `sipprobe invite`, as a person runs them -------------------------


def start_answer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SIPPROBE, "answer", "--within", "30", "--hold", "1", "--format", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def invite(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, "invite", uri, "--to", "+15550100", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    stdout, stderr = process.communicate(timeout=DEADLINE)
    return process.returncode, json.loads(stdout), stderr


def by_check(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["check"]: finding for finding in report["findings"]}


def test_a_call_over_wss_is_answered_judged_and_ended_cleanly(
    lab: LabFiles, tmp_path: Path
) -> None:
    """Mutual TLS under the WebSocket: the caller's chain is recorded and judged against
    the expected peer name, its SDES offer counts as sent over TLS, the call ends with no
    dialog left open, and the saved evidence records the transport and the upgrade."""
    evidence = tmp_path / "answer.json"
    answer = start_answer(
        "--listen",
        "wss:127.0.0.1:0",
        "--listen-cert",
        str(lab.server),
        "--listen-key",
        str(lab.server_key),
        "--peer-ca",
        str(lab.ca),
        "--expect-peer",
        CLIENT_NAME,
        "--require-client-cert",
        "--evidence-out",
        str(evidence),
    )
    port = announced_port(answer, "wss")
    caller = invite(
        f"sip:{LAB_NAME}:{port};transport=wss",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--cert",
        str(lab.client),
        "--key",
        str(lab.client_key),
    )
    assert caller.returncode == 0, caller.stdout + caller.stderr
    assert by_check(json.loads(caller.stdout))["ws.upgrade"]["status"] == "pass"
    code, report, stderr = finished(answer)
    assert code == 0, stderr + json.dumps(report["findings"], indent=1)
    checks = by_check(report)
    assert {name: found["status"] for name, found in checks.items()} == {
        "inbound.calls": "pass",
        "inbound.tls": "pass",
        "inbound.client_cert": "pass",
        "inbound.invite": "pass",
        "inbound.offer": "pass",
        "inbound.teardown": "pass",
    }
    tls = checks["inbound.tls"]
    assert tls["target"].startswith("inbound call 1 from 127.0.0.1:")
    assert tls["target"].endswith("/wss")
    assert tls["details"]["transport"] == "wss"
    assert tls["details"]["version"] == "TLSv1.3"
    assert tls["details"]["client_certificates"] == 2
    upgrade = tls["details"]["websocket"]
    assert upgrade["resource"] == "/"
    assert upgrade["subprotocol"] == "sip"
    assert upgrade["host"] == f"{LAB_NAME}:{port}"
    assert upgrade["user_agent"].startswith("sipprobe/")
    assert "SRTP offered with SDES" in checks["inbound.offer"]["summary"]
    assert checks["inbound.teardown"]["details"]["dialogs_left_open"] == 0
    saved = load_evidence(evidence)
    assert saved.inbound is not None
    (call,) = saved.inbound.calls
    assert call.transport == "wss"
    assert call.websocket is not None
    assert call.websocket.request.startswith(b"GET / HTTP/1.1\r\n")
    assert call.websocket.response.startswith(b"HTTP/1.1 101 ")
    assert saved.inbound.listening[0].transport == "wss"


def test_a_call_over_plain_ws_is_answered_and_its_cleartext_keys_fail(lab: LabFiles) -> None:
    """WS is no TLS: with --no-require-tls the session is skipped, not passed, and SDES
    keys that crossed it fail the offer (RFC 4568 §8.3); the call is still answered and
    ended cleanly."""
    answer = start_answer("--listen", "ws:127.0.0.1:0", "--no-require-tls")
    port = announced_port(answer, "ws")
    caller = invite(f"sip:127.0.0.1:{port};transport=ws", "--allow-cleartext-keys")
    caller_checks = by_check(json.loads(caller.stdout))
    assert caller_checks["sip.invite"]["status"] == "pass", caller.stdout
    code, report, stderr = finished(answer)
    assert code == 1, stderr  # the offer's cleartext keys fail the call
    checks = by_check(report)
    assert checks["inbound.calls"]["status"] == "pass"
    assert checks["inbound.tls"]["status"] == "skip"
    assert "came over WS" in checks["inbound.tls"]["summary"]
    assert checks["inbound.tls"]["details"]["websocket"]["subprotocol"] == "sip"
    assert checks["inbound.offer"]["status"] == "fail"
    assert "in cleartext over WS" in checks["inbound.offer"]["summary"]
    assert checks["inbound.teardown"]["status"] == "pass"
    assert checks["inbound.teardown"]["details"]["dialogs_left_open"] == 0


def test_a_ws_only_listener_that_requires_tls_is_refused_before_it_binds() -> None:
    result = subprocess.run(
        [*SIPPROBE, "answer", "--listen", "ws:127.0.0.1:0", "--within", "1"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "--require-tls" in result.stderr
    assert "add a tls: or wss: listener" in result.stderr
    assert "listening on" not in result.stderr


# --- a raw WebSocket client ------------------------------------------------------------------


@dataclass
class RawClient:
    """A WebSocket client speaking through wsproto on an open stream."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ws: WSConnection = field(default_factory=lambda: WSConnection(ConnectionType.CLIENT))
    http: bytes = b""
    """The answer to the upgrade, as read (a refusal's head and body)."""
    keepalive_answers: int = 0
    pongs: list[bytes] = field(default_factory=list)

    async def upgrade(self, *subprotocols: str) -> Event:
        self.writer.write(
            self.ws.send(Request(host="127.0.0.1", target="/", subprotocols=list(subprotocols)))
        )
        while True:
            for event in await self.events():
                if isinstance(event, AcceptConnection):
                    return event
                if isinstance(event, RejectConnection):
                    # A refusal: the rest of its answer, until the server closes.
                    async with asyncio.timeout(10):
                        while chunk := await self.reader.read(65536):
                            self.http += chunk
                    return event

    async def events(self) -> list[Event]:
        async with asyncio.timeout(10):
            data = await self.reader.read(65536)
        if not data:
            raise EOFError("the server closed the connection")
        if self.ws.state is ConnectionState.CONNECTING:
            self.http += data
        self.ws.receive_data(data)
        return list(self.ws.events())

    def send_sip(self, wire: bytes) -> None:
        self.writer.write(self.ws.send(TextMessage(wire.decode())))

    async def next_sip(self) -> Response | Any:
        """The next SIP message; Pongs and CRLF keep-alive answers are collected."""
        while True:
            for event in await self.events():
                if isinstance(event, TextMessage | BytesMessage):
                    data = event.data.encode() if isinstance(event, TextMessage) else event.data
                    if data.strip():
                        return parse_message(bytes(data))
                    self.keepalive_answers += 1
                elif isinstance(event, Pong):
                    self.pongs.append(bytes(event.payload))
                elif isinstance(event, CloseConnection):
                    raise AssertionError(f"closed while a SIP message was awaited: {event}")


@asynccontextmanager
async def raw_client(port: int, transport: InboundTransport) -> AsyncIterator[RawClient]:
    context = client_context() if transport == "wss" else None
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=LAB_NAME if context else None
        )
    try:
        yield RawClient(reader, writer)
    finally:
        writer.close()
        try:
            async with asyncio.timeout(5):
                await writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            pass


OFFER = (
    b"v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 5004 RTP/AVP 0\r\n"
)


def sip_request(method: str, port: int, *, to_tag: str = "", cseq: int = 1) -> bytes:
    """A request as a SIP WebSocket client writes it: Via WS with an invalid host
    (RFC 7118 §5.2), Content-Length optional but given."""
    body = OFFER if method == "INVITE" else b""
    lines = [
        f"{method} sip:answer@127.0.0.1:{port};transport=ws SIP/2.0",
        f"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{method.lower()}{cseq}",
        "Max-Forwards: 70",
        "From: <sip:trunk@example.test>;tag=wscaller",
        f"To: <sip:answer@127.0.0.1>{';tag=' + to_tag if to_tag else ''}",
        "Call-ID: websocket-raw-call",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:trunk@df7jal23ls0d.invalid;transport=ws;ob>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_our_answers_and_our_bye_travel_as_websocket_messages(lab: LabFiles) -> None:
    """A call up to our BYE over one WebSocket: each response a text message, a Ping
    answered with its Pong, a CRLF keep-alive answered, our BYE (after --hold) in a
    message of its own; then the run ends, and with it the closing handshake, started by
    us (RFC 6455 §7.1.2), after which we close the TCP connection (§7.1.1)."""
    async with answering(config(lab, "ws", hold_s=0.3)) as run:
        port = run.port("ws")
        async with raw_client(port, "ws") as client:
            accepted = await client.upgrade("sip")
            assert isinstance(accepted, AcceptConnection)
            assert accepted.subprotocol == "sip"
            client.send_sip(sip_request("INVITE", port))
            final = await client.next_sip()
            while final.status_code < 200:
                final = await client.next_sip()
            assert final.status_code == 200
            assert "transport=ws" in final.headers.get("Contact")
            client.writer.write(client.ws.send(Ping(b"are you there")))
            client.writer.write(client.ws.send(TextMessage("\r\n\r\n")))
            client.send_sip(sip_request("ACK", port, to_tag=final.to.tag or ""))
            bye = await client.next_sip()
            assert bye.method == "BYE"
            assert bye.headers.get("Via").startswith("SIP/2.0/WS ")
            assert client.pongs == [b"are you there"]
            assert client.keepalive_answers == 1
            client.send_sip(build_response(bye, 200, "OK", to_tag=None).to_bytes())
            # The run has its call: it ends, and closes the WebSocket properly.
            close = None
            while close is None:
                close = next(
                    (e for e in await client.events() if isinstance(e, CloseConnection)), None
                )
            assert close.code == 1000
            client.writer.write(client.ws.send(close.response()))
            async with asyncio.timeout(10):
                assert await client.reader.read() == b""  # then the TCP connection
        evidence = await run.evidence()
    call = only_call(evidence)
    assert call.transport == "ws"
    assert call.teardown == "our_bye"
    assert call.bye_status == 200
    assert call.dialogs_left_open == 0
    assert call.websocket is not None
    assert call.websocket.subprotocol == "sip"
    assert [line for _, line in first_lines(call)][:1] == [
        f"INVITE sip:answer@127.0.0.1:{port};transport=ws SIP/2.0"
    ]
    assert ("sent", "BYE sip:trunk@df7jal23ls0d.invalid;transport=ws;ob SIP/2.0") in first_lines(
        call
    )
    assert evidence.connections == ()


def connection_of(evidence: Any) -> InboundConnection:
    assert evidence.calls == ()
    (connection,) = evidence.connections
    return connection


@pytest.mark.parametrize("transport", ["ws", "wss"])
async def test_an_upgrade_without_the_sip_subprotocol_is_refused_and_recorded(
    lab: LabFiles, transport: InboundTransport
) -> None:
    async with answering(config(lab, transport)) as run:
        async with raw_client(run.port(transport), transport) as client:
            refused = await client.upgrade("chat")
            assert isinstance(refused, RejectConnection)
            assert refused.status_code == 400
        run.stop.set()
        evidence = await run.evidence()
    assert b"'sip' subprotocol" in client.http
    connection = connection_of(evidence)
    assert connection.transport == transport
    assert connection.websocket is not None
    assert connection.websocket.ok is False
    assert connection.websocket.error_kind == "rejected"
    assert connection.error == connection.websocket.error
    assert "offered: 'chat'" in (connection.error or "")
    assert connection.websocket.request.startswith(b"GET / HTTP/1.1\r\n")
    assert b"Sec-WebSocket-Protocol: chat" in connection.websocket.request
    assert connection.websocket.response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    if transport == "wss":  # TLS first, recorded as for a tls: listener
        assert connection.tls is not None
        assert connection.tls.version == "TLSv1.3"
        assert connection.tls.error is None
    else:
        assert connection.tls is None


async def test_a_caller_that_never_finishes_its_upgrade_is_cut_off(
    lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow loris: a byte of its request every 50 ms keeps every read short, but the
    upgrade's deadline covers the whole request; the caller gets 408 and is closed."""
    monkeypatch.setattr(websocket_accept, "UPGRADE_SECONDS", 0.5)
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 2000
    async with answering(config(lab, "ws")) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port("ws"))
        started = time.monotonic()
        answer = b""
        try:
            for byte in request:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    answer += await asyncio.wait_for(reader.read(4096), 0.05)
                except TimeoutError:
                    continue
                if answer:
                    break
            async with asyncio.timeout(10):
                while chunk := await reader.read(4096):
                    answer += chunk
        except (ConnectionError, OSError):
            pass
        cut_off_after = time.monotonic() - started
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    assert cut_off_after < 5.0
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    connection = connection_of(evidence)
    assert connection.websocket is not None
    assert connection.websocket.error_kind == "timeout"
    assert connection.error == "the caller did not finish its WebSocket upgrade within 0.5 s"
    kept = connection.websocket.request
    assert len(kept) >= 5  # what came before the deadline, as evidence
    assert request.startswith(kept)


@pytest.mark.parametrize(
    ("sent", "status", "why"),
    [
        (b"\x00\x01\x02 not http at all\r\n\r\n", 400, "not a WebSocket upgrade request"),
        (
            b"OPTIONS sip:answer@127.0.0.1 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
            400,
            "not a WebSocket upgrade request",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n",
            431,
            "more than 8192 bytes",
        ),
    ],
    ids=["garbage", "sip-without-upgrade", "endless-head"],
)
async def test_what_is_not_an_upgrade_is_refused_with_why(
    lab: LabFiles, sent: bytes, status: int, why: str
) -> None:
    async with answering(config(lab, "ws")) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port("ws"))
        writer.write(sent)
        answer = b""
        try:
            async with asyncio.timeout(10):
                while chunk := await reader.read(4096):
                    answer += chunk
        except ConnectionError:
            pass  # the server may close before reading all of an endless head
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert why.encode() in answer
    connection = connection_of(evidence)
    assert connection.websocket is not None
    assert connection.websocket.error_kind == "protocol"
    assert why in (connection.error or "")
    assert len(connection.websocket.request) <= websocket_accept.MAX_UPGRADE_BYTES


async def test_a_caller_that_closes_its_websocket_gets_our_close_and_is_recorded(
    lab: LabFiles,
) -> None:
    """The caller's Close is answered with ours (RFC 6455 §5.5.1) and we end the TCP
    connection (§7.1.1); a WebSocket that carried no SIP is recorded as such."""
    async with answering(config(lab, "wss")) as run:
        async with raw_client(run.port("wss"), "wss") as client:
            assert isinstance(await client.upgrade("sip"), AcceptConnection)
            client.writer.write(client.ws.send(CloseConnection(code=1001, reason="going away")))
            events = await client.events()
            assert any(isinstance(event, CloseConnection) for event in events)
            assert client.ws.state is ConnectionState.CLOSED
            with pytest.raises(EOFError):
                await client.events()
        run.stop.set()
        evidence = await run.evidence()
    connection = connection_of(evidence)
    assert connection.transport == "wss"
    assert connection.websocket is not None
    assert connection.websocket.ok
    assert connection.error == "the connection closed before any SIP request"
