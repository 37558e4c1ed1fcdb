"""`--trace`: every SIP message sent and received reaches stderr as on the wire, and no
secret does: a digest-authenticated SRTP call through Kamailio to SIPp (credentials and
both sides' SDES keys redacted), OPTIONS over WebSocket with its upgrade, a keep-alive,
bytes that are not SIP, and the command line's flag."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.evidence.model import Target
from probe.net.options import ProbeSettings, collect_options
from probe.net.trace import Trace
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.serve import Responder, ResponderConfig
from probe.settings import CallSettings, Settings
from probe.sip import parse_uri
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.net.websocket_server import WsScript, websocket_server
from tests.peers.kamailio import Kamailio
from tests.peers.sbc import relaying_to_sipp
from tests.peers.sipp import Sipp

SIPP_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
"""The key uas_auth.xml answers with: a secret as far as the trace knows."""
SECRET_KEY = re.compile(r"inline:(?!<redacted>)")


def test_a_block_is_the_message_with_its_secrets_redacted() -> None:
    lines: list[str] = []
    message = (
        b"INVITE sip:x@example.test SIP/2.0\r\n"
        b'Authorization: Digest username="alice", response="0123456789abcdef"\r\n'
        b"Content-Length: 60\r\n\r\n"
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + SIPP_KEY.encode() + b"\r\n"
    )
    Trace(lines.append).on("sbc (127.0.0.1:5061/tls)").sent(message)
    (block,) = lines
    heading, *body = block.split("\n")
    assert heading.endswith(f" sent to sbc (127.0.0.1:5061/tls), {len(message)} bytes ---")
    assert body[0] == "INVITE sip:x@example.test SIP/2.0"
    assert "Authorization: Digest <redacted>" in body
    assert body[-2] == "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>"
    assert "0123456789abcdef" not in block
    assert SIPP_KEY not in block


@pytest.fixture
def sbc(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Sipp]]:
    with relaying_to_sipp(tmp_path, lab, "uas_auth.xml") as pair:
        yield pair


@pytest.mark.peer
def test_a_digest_call_is_traced_without_credentials_or_keys(
    sbc: tuple[Kamailio, Sipp],
    lab: LabFiles,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kamailio, sipp = sbc
    monkeypatch.setenv("SIPPROBE_AUTH_USER", "alice")
    monkeypatch.setenv("SIPPROBE_AUTH_PASSWORD", "s3cret")
    port = kamailio.tls_port
    common = OptionsRequest(
        targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
        settings=Settings.from_flat(
            pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=3, trace=True
        ),
    )
    report = run_invite_command(
        InviteRequest(common, CallSettings(to="sip:+15550100@sip.example.test")),
        on_usage_error=no_usage_error,
    )
    # SIPp challenges with MD5 alone: sip.auth warns (RFC 8760 §3), nothing else does.
    warned = [f.check for f in report.findings if f.status == "warn"]
    assert report.verdict == "warn", [f.summary for f in report.findings]
    assert warned == ["sip.auth"], [f.summary for f in report.findings]
    assert sipp.wait() == 0, sipp.errors()
    trace = capsys.readouterr().err
    headings = [line for line in trace.splitlines() if line.startswith("--- ")]
    sent = [h for h in headings if " sent to " in h]
    received = [h for h in headings if " received from " in h]
    assert len(sent) >= 5  # INVITE, ACK to the 401, INVITE with credentials, ACK, BYE
    assert len(received) >= 4  # 401, 100, 200 and the BYE's 200 at least
    assert "SIP/2.0 401 Unauthorized" in trace
    assert re.search(r"^Authorization: Digest <redacted>$", trace, re.MULTILINE)
    assert "s3cret" not in trace
    assert 'response="' not in trace
    assert "inline:<redacted>" in trace
    assert SECRET_KEY.search(trace) is None
    assert SIPP_KEY not in trace
    assert re.search(r"^BYE sip:", trace, re.MULTILINE)


async def test_options_over_websocket_shows_the_upgrade_and_the_messages() -> None:
    lines: list[str] = []
    async with websocket_server(WsScript()) as port:
        text = f"sip:{LAB_NAME}:{port};transport=ws"
        target = Target(uri=text, host=LAB_NAME, port=port, transport="ws", address="127.0.0.1")
        settings = ProbeSettings(timeout=2.0, keepalive=True, trace=Trace(lines.append))
        await collect_options(parse_uri(text), target, settings)
    assert lines[0].split("\n")[1] == "GET / HTTP/1.1"
    assert "the WebSocket upgrade" in lines[0].split("\n")[0]
    assert lines[1].split("\n")[1].startswith("HTTP/1.1 101 ")
    assert lines[2].split("\n")[1].startswith("OPTIONS sip:")
    assert lines[3].split("\n")[1] == "SIP/2.0 200 OK"
    assert "keep-alive ping sent (WebSocket '" in lines[4]
    assert "keep-alive pong received (WebSocket '" in lines[5]


async def test_bytes_that_are_not_sip_are_shown_as_such() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    lines: list[str] = []
    try:
        text = f"sip:127.0.0.1:{port};transport=tcp"
        target = Target(uri=text, host="127.0.0.1", port=port, transport="tcp", address="127.0.0.1")
        await collect_options(
            parse_uri(text), target, ProbeSettings(timeout=2.0, trace=Trace(lines.append))
        )
    finally:
        server.close()
        await server.wait_closed()
    assert len(lines) == 2
    assert "not SIP (" in lines[1].split("\n")[0]
    assert lines[1].split("\n")[1] == "HTTP/1.1 400 Bad Request"


def test_the_flag_puts_the_trace_on_stderr_and_the_report_on_stdout() -> None:
    async def serve() -> tuple[Responder, int]:
        responder = Responder(ResponderConfig(transports=("tcp",)))
        await responder.start()
        return responder, responder.port_of("tcp")

    loop = asyncio.new_event_loop()
    try:
        responder, port = loop.run_until_complete(serve())
        runner_done = loop.run_in_executor(
            None,
            lambda: CliRunner().invoke(
                cli,
                ["options", f"sip:127.0.0.1:{port};transport=tcp", "--trace", "--format", "json"],
            ),
        )
        result = loop.run_until_complete(runner_done)
        loop.run_until_complete(responder.stop())
    finally:
        loop.close()
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith("{")
    assert re.search(r"^OPTIONS sip:127\.0\.0\.1:\d+;transport=tcp SIP/2\.0$", result.stderr, re.M)
    assert re.search(r"^SIP/2\.0 200 OK$", result.stderr, re.MULTILINE)
