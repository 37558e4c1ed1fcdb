"""`--keepalive` and `--ws-path` against a real Kamailio.

What Kamailio 5.6 does, seen here: on TCP and TLS it answers a CRLF CRLF ping with one
CRLF (RFC 5626 §4.4.1) and a lone CRLF with nothing; over WS and WSS its websocket
module answers a WebSocket Ping with a Pong echoing the Ping's data (RFC 6455 §5.5.3).
Its WebSocket listener here upgrades `/ws` only, as Asterisk's does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import probe
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.settings import Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def kamailio_ws_path(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    instance = start_kamailio(
        tmp_path_factory.mktemp("kamailio-keepalive"),
        [TlsProfile("tls", lab.server, lab.server_key)],
        websocket=True,
        ws_paths=("/ws",),
    )
    yield instance
    instance.stop()


def run(target: str, port: int, **options: Any) -> Report:
    settings = Settings.from_flat({"pins": [f"{LAB_NAME}:{port}:127.0.0.1"], **options})
    return run_options_command(
        OptionsRequest(targets=[target], settings=settings), on_usage_error=no_usage_error
    )


def by_check(report: Report) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.findings}


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_kamailio_answers_a_crlf_ping_with_one_crlf(
    kamailio_ws_path: Kamailio, lab: LabFiles, transport: str
) -> None:
    port = kamailio_ws_path.plain_port if transport == "tcp" else kamailio_ws_path.tls_port
    report = run(f"sip:{LAB_NAME}:{port};transport={transport}", port, ca=lab.ca, keepalive=True)
    keepalive = by_check(report)["sip.keepalive"]
    assert keepalive.status is Status.PASS, keepalive.summary
    assert keepalive.details["mechanism"] == "crlf"
    assert (keepalive.details["ping"], keepalive.details["pong"]) == ("\r\n\r\n", "\r\n")
    assert 0 <= keepalive.details["pong_ms"] < 5000
    assert "sip.keepalive" in report.results[0].required
    assert report.verdict == "pass", [f.summary for f in report.findings]


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_kamailio_answers_a_websocket_ping_at_ws_path(
    kamailio_ws_path: Kamailio, lab: LabFiles, transport: str
) -> None:
    port = kamailio_ws_path.plain_port if transport == "ws" else kamailio_ws_path.tls_port
    report = run(
        f"sip:{LAB_NAME}:{port};transport={transport}",
        port,
        ca=lab.ca,
        keepalive=True,
        ws_path="/ws",
    )
    checks = by_check(report)
    assert checks["ws.upgrade"].details["request"].startswith("GET /ws HTTP/1.1\r\n")
    keepalive = checks["sip.keepalive"]
    assert keepalive.status is Status.PASS, keepalive.summary
    assert keepalive.details["mechanism"] == "websocket"
    assert keepalive.details["pong"] == keepalive.details["ping"]
    assert report.verdict == "pass", [f.summary for f in report.findings]


def test_the_default_resource_is_refused_where_only_ws_path_is_served(
    kamailio_ws_path: Kamailio,
) -> None:
    port = kamailio_ws_path.plain_port
    report = run(f"sip:{LAB_NAME}:{port};transport=ws", port)
    upgrade = by_check(report)["ws.upgrade"]
    assert upgrade.status is Status.FAIL
    assert "404" in upgrade.summary
    assert upgrade.details["request"].startswith("GET / HTTP/1.1\r\n")


def test_a_saved_keepalive_is_judged_again_offline(
    kamailio_ws_path: Kamailio, lab: LabFiles, tmp_path: Path
) -> None:
    port = kamailio_ws_path.tls_port
    saved = tmp_path / "keepalive.json"
    live = run(
        f"sip:{LAB_NAME}:{port};transport=tls",
        port,
        ca=lab.ca,
        keepalive=True,
        evidence_out=saved,
    )
    stored = json.loads(saved.read_text())
    keepalive = stored["uris"][0]["targets"][0]["evidence"]["keepalive"]
    assert (keepalive["mechanism"], keepalive["outcome"]) == ("crlf", "pong")
    again = probe.judge(saved)
    assert by_check(again)["sip.keepalive"] == by_check(live)["sip.keepalive"]
    assert again.verdict == live.verdict == "pass"
