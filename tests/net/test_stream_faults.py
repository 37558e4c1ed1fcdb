"""OPTIONS against scripted servers: unhealthy answers, a stall under one uniform timeout,
a server that speaks first. Hostile behaviours, one per finding, are in tests/hostile."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from probe.evidence.model import Target
from probe.locate.pins import Pin
from probe.net.options import ProbeSettings, collect_options
from probe.sip import Request, parse_uri
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.net.scripted import Script, response_bytes, scripted_server, tls_server_context


async def probe_scripted(
    script: Script, lab: LabFiles, *, timeout: float = 2.0, tls: bool = True
) -> dict[str, Finding]:
    context = tls_server_context(lab.server, lab.server_key) if tls else None
    async with scripted_server(script, context) as port:
        transport = "tls" if tls else "tcp"
        text = f"sip:{LAB_NAME}:{port};transport={transport}"
        target = Target(
            uri=text, host=LAB_NAME, port=port, transport=transport, address="127.0.0.1"
        )
        settings = ProbeSettings(timeout=timeout, pins=(Pin(LAB_NAME, port, "127.0.0.1"),))
        evidence = await collect_options(parse_uri(text), target, settings)
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    return {finding.check: finding for finding in judge_options(evidence, policy)}


async def test_503_is_unhealthy_and_retry_after_is_reported(lab: LabFiles) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response_bytes(request, 503, "Service Unavailable", ("Retry-After", "120")))

    checks = await probe_scripted(script, lab)
    options = checks["sip.options"]
    assert options.status is Status.FAIL
    assert "503 Service Unavailable" in options.summary
    assert "Retry-After: 120" in options.summary
    assert options.details["retry_after"] == "120"


async def test_server_that_stalls_mid_response_fails_on_the_deadline(lab: LabFiles) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response_bytes(request, 200, "OK")[:40])

    started = time.monotonic()
    checks = await probe_scripted(script, lab, timeout=0.5)
    assert time.monotonic() - started < 2
    options = checks["sip.options"]
    assert options.status is Status.FAIL
    assert "no final response within 0.5 s" in options.summary
    assert "40 bytes of an incomplete message" in options.summary


@pytest.mark.parametrize(("accept_code", "status"), [(404, Status.FAIL), (200, Status.PASS)])
async def test_answer_outside_the_accepted_set_fails(
    lab: LabFiles, accept_code: int, status: Status
) -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response_bytes(request, accept_code, "Whatever"))

    checks = await probe_scripted(script, lab, tls=False)
    assert checks["sip.options"].status is status
    assert "tls.handshake" not in checks


async def test_server_that_does_not_speak_tls_is_named() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read(65536)
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        text = f"sip:127.0.0.1:{port};transport=tls"
        target = Target(uri=text, host="127.0.0.1", port=port, transport="tls", address="127.0.0.1")
        evidence = await collect_options(parse_uri(text), target, ProbeSettings(timeout=1.0))
    finally:
        server.close()
        await server.wait_closed()
    assert evidence.tls is not None
    assert evidence.tls.error_kind == "not_tls"
    assert "did not answer with TLS" in (evidence.tls.error or "")


async def test_a_server_that_stops_reading_fails_the_send_on_its_deadline() -> None:
    """A request larger than the socket buffers, to a server that never reads: the send
    waits on the transaction deadline and says the server stopped reading."""
    from probe.net.connect import open_tcp
    from probe.net.deadlines import Deadlines
    from probe.net.exchange import exchange_over_stream
    from probe.sip import Headers, StreamFramer

    held: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.pause_reading()
        held.append(writer)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    body = b"x" * (32 * 1024 * 1024)
    uri = parse_uri(f"sip:{LAB_NAME}:{port};transport=tcp")
    headers = Headers(
        [
            ("Via", "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKstall"),
            ("From", "<sip:a@127.0.0.1>;tag=1"),
            ("To", f"<sip:{LAB_NAME}>"),
            ("Call-ID", "stall"),
            ("CSeq", "1 OPTIONS"),
            ("Content-Length", str(len(body))),
        ]
    )
    try:
        connection, connected = await open_tcp("127.0.0.1", port, timeout=2)
        assert connection is not None, connected
        started = time.monotonic()
        exchange = await exchange_over_stream(
            connection,
            StreamFramer(),
            Request("OPTIONS", uri, headers, body),
            clock_ms=lambda: 0.0,
            deadlines=Deadlines.uniform(0.5),
        )
        assert time.monotonic() - started < 3
        assert exchange.outcome == "send_failed"
        assert "the server stopped reading" in (exchange.error or "")
        await connection.close(timeout=0.2)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
