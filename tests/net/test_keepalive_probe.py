"""`--keepalive` over real loopback connections: the embedded responder and scripted
servers that answer a CRLF CRLF ping (RFC 5626 §4.4.1) as each test says, and a
scripted wsproto server that answers (or not) a WebSocket Ping; the evidence each leaves
and the `sip.keepalive` verdict judged from it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest

from probe.evidence.model import ProbeEvidence, Target
from probe.net.deadlines import Deadlines
from probe.net.options import ProbeSettings, collect_options
from probe.serve import Responder, ResponderConfig
from probe.sip import Request, StreamFramer, parse_uri
from probe.tls.lab import LabFiles
from probe.verdict.checks import OptionsPolicy, judge_options, required_checks
from probe.verdict.findings import CheckId, Finding, Status
from tests.net.scripted import response_bytes
from tests.net.websocket_server import WsScript, websocket_server

HOST = "sip.example.test"
OnPing = Literal["pong", "double", "silent", "close", "request-then-pong", "garbage"]
SERVER_REQUEST = (
    b"OPTIONS sip:sipprobe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKsrv\r\n"
    b"From: <sip:srv@127.0.0.1>;tag=s\r\nTo: <sip:sipprobe@127.0.0.1>\r\nCall-ID: srv\r\n"
    b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


def settings(**more: Any) -> ProbeSettings:
    return ProbeSettings(timeout=2.0, keepalive=True, **more)


async def probe(port: int, transport: str, probe_settings: ProbeSettings) -> ProbeEvidence:
    text = f"sip:{HOST}:{port};transport={transport}"
    target = Target(uri=text, host=HOST, port=port, transport=transport, address="127.0.0.1")  # type: ignore[arg-type]
    return await collect_options(parse_uri(text), target, probe_settings)


def keepalive_finding(evidence: ProbeEvidence) -> Finding:
    policy = OptionsPolicy(now=dt.datetime.now(dt.UTC))
    (finding,) = [f for f in judge_options(evidence, policy) if f.check == CheckId.SIP_KEEPALIVE]
    return finding


@contextlib.asynccontextmanager
async def ping_server(on_ping: OnPing) -> AsyncIterator[int]:
    """A TCP server that answers OPTIONS with 200 and each ping as `on_ping` says."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = StreamFramer()
        try:
            while data := await reader.read(65536):
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    if isinstance(message, Request):
                        writer.write(response_bytes(message, 200, "OK"))
                if framer.pings:
                    if on_ping == "close":
                        return
                    writer.write(
                        {
                            "pong": b"\r\n",
                            "double": b"\r\n\r\n",
                            "silent": b"",
                            "request-then-pong": SERVER_REQUEST + b"\r\n",
                            "garbage": b"PONG\n",
                        }[on_ping]
                    )
                await writer.drain()
        except OSError:
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_the_responder_answers_the_ping_and_passes(lab: LabFiles, transport: str) -> None:
    config = ResponderConfig(
        transports=("tls", "tcp"), cert_file=lab.server, key_file=lab.server_key
    )
    async with Responder(config) as responder:
        evidence = await probe(responder.port_of(transport), transport, settings())  # type: ignore[arg-type]
    keepalive = evidence.keepalive
    assert keepalive is not None
    assert (keepalive.mechanism, keepalive.outcome) == ("crlf", "pong")
    assert (keepalive.ping, keepalive.pong) == (b"\r\n\r\n", b"\r\n")
    assert keepalive.pong_ms is not None
    assert 0 <= keepalive.pong_ms < 2000
    finding = keepalive_finding(evidence)
    assert finding.status is Status.PASS, finding.summary
    assert CheckId.SIP_KEEPALIVE in required_checks(evidence)
    assert evidence.closed_cleanly


async def test_without_the_option_no_ping_is_sent(lab: LabFiles) -> None:
    async with Responder(ResponderConfig(transports=("tcp",))) as responder:
        evidence = await probe(responder.port_of("tcp"), "tcp", ProbeSettings(timeout=2.0))
    assert evidence.keepalive is None
    assert CheckId.SIP_KEEPALIVE not in required_checks(evidence)


async def test_a_server_that_never_pongs_fails_at_the_pong_deadline() -> None:
    fast = settings(deadlines=Deadlines.uniform(2.0).with_overrides({"pong": 0.3}))
    async with ping_server("silent") as port:
        evidence = await probe(port, "tcp", fast)
    assert evidence.keepalive is not None
    assert evidence.keepalive.outcome == "timeout"
    assert evidence.keepalive.deadline_s == 0.3
    finding = keepalive_finding(evidence)
    assert finding.status is Status.FAIL
    assert "no CRLF pong within 0.3 s (pong deadline)" in finding.summary
    # The OPTIONS itself was answered: only keep-alive is missing.
    assert evidence.exchanges[0].outcome == "answered"


async def test_a_double_crlf_answer_warns() -> None:
    async with ping_server("double") as port:
        evidence = await probe(port, "tcp", settings())
    assert evidence.keepalive is not None
    assert evidence.keepalive.pong == b"\r\n\r\n"
    assert keepalive_finding(evidence).status is Status.WARN


async def test_a_request_before_the_pong_is_a_message_not_the_pong() -> None:
    async with ping_server("request-then-pong") as port:
        evidence = await probe(port, "tcp", settings())
    keepalive = evidence.keepalive
    assert keepalive is not None
    assert keepalive.outcome == "pong"
    assert keepalive.pong == b"\r\n"
    assert [item.data for item in keepalive.received] == [SERVER_REQUEST]
    assert keepalive_finding(evidence).status is Status.PASS


@pytest.mark.parametrize(
    ("on_ping", "outcome", "words"),
    [
        ("close", "closed", "closed the connection"),
        ("garbage", "malformed", "neither a pong nor SIP"),
    ],
)
async def test_a_connection_that_breaks_at_the_ping_fails(
    on_ping: OnPing, outcome: str, words: str
) -> None:
    async with ping_server(on_ping) as port:
        evidence = await probe(port, "tcp", settings())
    assert evidence.keepalive is not None
    assert evidence.keepalive.outcome == outcome
    finding = keepalive_finding(evidence)
    assert finding.status is Status.FAIL
    assert words in finding.summary


async def test_a_refused_connection_skips_the_ping() -> None:
    async with ping_server("pong") as port:
        pass  # closed again: nothing listens there now
    evidence = await probe(port, "tcp", settings())
    assert evidence.keepalive is not None
    assert evidence.keepalive.outcome == "pending"
    assert keepalive_finding(evidence).status is Status.SKIP


async def test_over_udp_the_keepalive_is_said_not_to_apply() -> None:
    async with Responder(ResponderConfig(transports=("udp",))) as responder:
        evidence = await probe(responder.port_of("udp"), "udp", settings())
    assert evidence.keepalive is not None
    assert evidence.keepalive.mechanism == "none"
    finding = keepalive_finding(evidence)
    assert finding.status is Status.SKIP
    assert "STUN" in finding.summary
    assert CheckId.SIP_KEEPALIVE not in required_checks(evidence)


async def test_over_ws_a_websocket_ping_gets_its_pong() -> None:
    script = WsScript()
    async with websocket_server(script) as port:
        evidence = await probe(port, "ws", settings())
    keepalive = evidence.keepalive
    assert keepalive is not None
    assert (keepalive.mechanism, keepalive.outcome) == ("websocket", "pong")
    assert script.ws_pings == [keepalive.ping]
    assert keepalive.pong == keepalive.ping
    assert len(keepalive.ping) == 8
    assert keepalive_finding(evidence).status is Status.PASS
    assert evidence.closed_cleanly


async def test_over_ws_a_pong_with_other_data_is_no_answer() -> None:
    fast = settings(deadlines=Deadlines.uniform(2.0).with_overrides({"pong": 0.3}))
    async with websocket_server(WsScript(pong_with=b"unsolicited")) as port:
        evidence = await probe(port, "ws", fast)
    keepalive = evidence.keepalive
    assert keepalive is not None
    assert keepalive.outcome == "timeout"
    assert keepalive.other_pongs == (b"unsolicited",)
    finding = keepalive_finding(evidence)
    assert finding.status is Status.FAIL
    assert "no WebSocket Pong echoing the Ping within 0.3 s" in finding.summary


async def test_over_ws_a_server_that_ignores_pings_fails() -> None:
    fast = settings(deadlines=Deadlines.uniform(2.0).with_overrides({"pong": 0.3}))
    async with websocket_server(WsScript(ignore_pings=True)) as port:
        evidence = await probe(port, "ws", fast)
    assert evidence.keepalive is not None
    assert evidence.keepalive.outcome == "timeout"
    assert keepalive_finding(evidence).status is Status.FAIL
