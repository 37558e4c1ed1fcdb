"""A password in a URI that reaches the library (the CLI refuses it, RFC 3261 §19.1.1)
is never put on the wire, in the JSON report or in the evidence file."""

from __future__ import annotations

import socket
from pathlib import Path

from probe.evidence.file import write_evidence
from probe.net.options import ProbeSettings
from probe.report.json import render_json
from probe.run.collect import collect_run
from probe.sip import parse_uri
from probe.verdict.checks import OptionsPolicy
from probe.verdict.judging import judge_run

SECRET = "hunter2-secret"


async def test_the_password_stays_off_the_wire_the_report_and_the_evidence(
    tmp_path: Path,
) -> None:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(0)
    port = peer.getsockname()[1]
    text = f"sip:alice:{SECRET}@127.0.0.1:{port};transport=udp"
    try:
        evidence = await collect_run([(text, parse_uri(text))], ProbeSettings(timeout=0.3))
        datagrams = []
        while True:
            try:
                datagrams.append(peer.recv(65535))
            except BlockingIOError:
                break
    finally:
        peer.close()

    assert datagrams, "the OPTIONS was sent"
    for datagram in datagrams:
        assert SECRET.encode() not in datagram
        assert datagram.startswith(f"OPTIONS sip:alice@127.0.0.1:{port}".encode())

    report = render_json(judge_run(evidence, OptionsPolicy()))
    assert SECRET not in report
    assert "sip:alice:***@127.0.0.1" in report

    saved = tmp_path / "evidence.json"
    write_evidence(saved, evidence)
    assert SECRET not in saved.read_text()
