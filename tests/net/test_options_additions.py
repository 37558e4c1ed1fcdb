"""`--header`, `--from`, `--contact` and `--user-agent` reach real peers as given: a SIPp
UAS checks each in the OPTIONS it received (its call, and so its exit code, fails when
one is missing), and Kamailio echoes what it parsed (From URI, Contact, User-Agent, the
added field) back in its 200."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.evidence.file import load_evidence
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.settings import Settings
from probe.sip import Response, parse_message
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp

pytestmark = pytest.mark.peer

ADDITIONS: dict[str, Any] = {
    "headers": ["X-Parity: one two"],
    "from_": "sip:alice@example.test",
    "contact": "sip:probe@192.0.2.1:5999",
    "user_agent": "parity-test/1.0",
}


def run(target: str, **options: Any) -> Report:
    return run_options_command(
        OptionsRequest(targets=[target], settings=Settings.from_flat(options)),
        on_usage_error=no_usage_error,
    )


def listening_sipp(workdir: Path) -> Sipp:
    """SIPp, once its UDP port is taken (an OPTIONS sent earlier would be refused by ICMP,
    and anything else sent to find out would be its one call)."""
    sipp = start_sipp(workdir, "uas_options_additions.xml")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sipp.process.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            try:
                taken.bind(("127.0.0.1", sipp.port))
            except OSError:
                return sipp
        time.sleep(0.05)
    sipp.stop()
    raise RuntimeError(f"SIPp did not start:\n{sipp.errors()}")


def test_sipp_finds_every_addition_in_the_options(tmp_path: Path) -> None:
    sipp = listening_sipp(tmp_path / "sipp")
    try:
        report = run(f"sip:127.0.0.1:{sipp.port};transport=udp", timeout=5.0, **ADDITIONS)
        assert report.verdict == "pass", [f.summary for f in report.findings]
        assert sipp.wait() == 0, sipp.errors()
    finally:
        sipp.stop()


def test_sipp_fails_its_call_when_an_addition_is_missing(tmp_path: Path) -> None:
    sipp = listening_sipp(tmp_path / "sipp")
    try:
        without_header = {**ADDITIONS, "headers": []}
        run(f"sip:127.0.0.1:{sipp.port};transport=udp", timeout=2.0, **without_header)
        assert sipp.wait() != 0  # its check of X-Parity failed the call
    finally:
        sipp.stop()


@pytest.fixture(scope="module")
def kamailio_echo(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    instance = start_kamailio(
        tmp_path_factory.mktemp("kamailio-echo"),
        [TlsProfile("tls", lab.server, lab.server_key)],
        reply_headers=(
            "X-Seen-From: $fu",
            "X-Seen-Contact: $ct",
            "X-Seen-UA: $ua",
            "X-Seen-Parity: $hdr(X-Parity)",
        ),
    )
    yield instance
    instance.stop()


def test_kamailio_reads_every_addition_over_tls(
    kamailio_echo: Kamailio, lab: LabFiles, tmp_path: Path
) -> None:
    port = kamailio_echo.tls_port
    saved = tmp_path / "echo.json"
    report = run(
        f"sip:{LAB_NAME}:{port};transport=tls",
        pins=[f"{LAB_NAME}:{port}:127.0.0.1"],
        ca=lab.ca,
        evidence_out=saved,
        **ADDITIONS,
    )
    assert report.verdict == "pass", [f.summary for f in report.findings]
    (probed,) = load_evidence(saved).probed()
    assert probed.evidence is not None
    (exchange,) = probed.evidence.exchanges
    sent = parse_message(exchange.request)
    answer = parse_message(exchange.received[-1].data)
    assert isinstance(answer, Response)
    assert answer.headers.get("X-Seen-From") == "sip:alice@example.test"
    assert answer.headers.get("X-Seen-Contact") == "<sip:probe@192.0.2.1:5999>"
    assert answer.headers.get("X-Seen-UA") == "parity-test/1.0"
    assert answer.headers.get("X-Seen-Parity") == "one two"
    # Added after User-Agent, before Content-Length; ours stay as they were.
    names = [name for name, _value in sent.headers.items()]
    assert names[-3:] == ["User-Agent", "X-Parity", "Content-Length"]
    assert sent.headers.get("Accept") == "application/sdp"
