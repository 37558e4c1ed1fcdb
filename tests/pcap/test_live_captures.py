"""Captures of real traffic on loopback, made by the tests with tcpdump and dumpcap, audited
and cross-checked against tshark's own dissection of the same file.

- an OPTIONS ping over UDP to `sipprobe serve`: cleartext SIP;
- OPTIONS over TCP to Kamailio, several on one connection: cleartext SIP, reassembled;
- a test call over TLS to Kamailio relaying to SIPp over UDP: the inner leg carries the
  SDES keys in the clear;
- OPTIONS over TLS only: no cleartext SIP, and the TLS was seen (tests/pcap/
  test_live_tls_captures.py reads those handshakes in detail).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.evidence.capture import CaptureEvidence
from probe.pcap.audit import audit_capture
from probe.run.commands import OptionsRequest, run_options_command
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.lab_responders import serve_process
from tests.peers.capture import capturing, tshark_fields
from tests.peers.kamailio import Kamailio
from tests.peers.sbc import relaying_to_sipp
from tests.peers.sipp import Sipp

pytestmark = pytest.mark.peer

SIPP_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # the key in uas_srtp.xml's answer


def findings(evidence: CaptureEvidence) -> dict[str, Finding]:
    return {finding.check: finding for finding in judge_capture(evidence).findings}


def our_messages(evidence: CaptureEvidence) -> Counter[tuple[int, str]]:
    """(frame, method or status) of every SIP message the audit saw."""
    assert len(evidence.sip.samples) == evidence.sip.messages  # nothing left out
    return Counter(
        (message.frame, message.method if message.kind == "request" else str(message.status))
        for message in evidence.sip.samples
    )


def tsharks_messages(path: Path, *decode_as: str) -> Counter[tuple[int, str]]:
    """The same, from tshark: a frame carrying several messages lists each."""
    rows = tshark_fields(path, "sip", ["frame.number", "sip.Method", "sip.Status-Code"], *decode_as)
    seen: Counter[tuple[int, str]] = Counter()
    for frame, methods, statuses in rows:
        for name in [*filter(None, methods.split(",")), *filter(None, statuses.split(","))]:
            seen[(int(frame), name)] += 1
    return seen


@pytest.mark.parametrize(
    ("interface", "link_type"), [("lo", "1 (Ethernet)"), ("any", "276 (Linux cooked (SLL2))")]
)
def test_an_options_ping_over_udp_is_cleartext_sip(
    tmp_path: Path, interface: str, link_type: str
) -> None:
    path = tmp_path / "options-udp.pcap"
    with (
        serve_process("udp") as (_server, port),
        capturing(path, f"udp port {port}", interface=interface),
    ):
        report = run_options_command(
            OptionsRequest(
                targets=[f"sip:127.0.0.1:{port};transport=udp"],
                settings=Settings.from_flat(timeout=3, count=3, interval=0.05),
            ),
            on_usage_error=no_usage_error,
        )
    assert report.verdict.value == "pass", [f.summary for f in report.findings]
    evidence = audit_capture(path)
    sip = evidence.sip
    assert [(c.name, c.count) for c in sip.requests] == [("OPTIONS", 3)]
    assert [(c.name, c.count) for c in sip.responses] == [("200", 3)]
    assert sip.malformed == 0
    [flow] = sip.flows
    assert flow.server == f"127.0.0.1:{port}"
    assert our_messages(evidence) == tsharks_messages(path, f"udp.port=={port},sip")
    cleartext = findings(evidence)["pcap.sip_cleartext"]
    assert cleartext.status is Status.FAIL
    assert f"127.0.0.1:{port}" in cleartext.summary
    # The command itself, on the file tcpdump wrote.
    done = subprocess.run(
        [sys.executable, "-m", "probe", "pcap", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["captures"][0]["facts"]["link_types"] == [link_type]


def test_sip_over_tcp_is_reassembled_and_counted(tmp_path: Path, kamailio: Kamailio) -> None:
    path = tmp_path / "options-tcp.pcap"
    port = kamailio.plain_port
    with capturing(path, f"tcp port {port}"):
        report = run_options_command(
            OptionsRequest(
                targets=[f"sip:127.0.0.1:{port};transport=tcp"],
                settings=Settings.from_flat(timeout=3, count=4, interval=0.05),
            ),
            on_usage_error=no_usage_error,
        )
    assert report.verdict.value == "pass", [f.summary for f in report.findings]
    evidence = audit_capture(path)
    sip = evidence.sip
    assert (sip.messages, sip.tcp_messages, sip.streams) == (8, 8, 2)
    assert (sip.stream_gap_bytes, sip.unframed_bytes, sip.cut_messages) == (0, 0, 0)
    assert our_messages(evidence) == tsharks_messages(path, f"tcp.port=={port},sip")
    assert findings(evidence)["pcap.sip_cleartext"].status is Status.FAIL


@pytest.fixture
def sbc(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Sipp]]:
    """Kamailio with TLS towards the caller, relaying over UDP to a SIPp UAS that answers
    with SDES keys (as an SBC in front of a media server)."""
    with relaying_to_sipp(tmp_path, lab, "uas_srtp.xml") as pair:
        yield pair


def test_sdes_keys_on_the_cleartext_inner_leg_are_exposed(
    tmp_path: Path, lab: LabFiles, sbc: tuple[Kamailio, Sipp]
) -> None:
    kamailio, sipp = sbc
    path = tmp_path / "sbc.pcap"
    tls_port = kamailio.tls_port
    with capturing(path, f"udp port {sipp.port} or tcp port {tls_port}"):
        report = run_invite_command(
            InviteRequest(
                OptionsRequest(
                    targets=[f"sip:{LAB_NAME}:{tls_port};transport=tls"],
                    settings=Settings.from_flat(
                        pins=[f"{LAB_NAME}:{tls_port}:127.0.0.1"], ca=lab.ca, timeout=3
                    ),
                ),
                CallSettings(to=f"sip:+15550100@{LAB_NAME}"),
            ),
            on_usage_error=no_usage_error,
        )
        assert sipp.wait() == 0, sipp.errors()
    checks = {finding.check: finding for finding in report.findings}
    assert checks["sdp.srtp"].status is Status.PASS  # over TLS, the call itself is fine
    evidence = audit_capture(path)
    sip = evidence.sip
    # Only the inner leg is cleartext SIP; the TLS hop was seen and read as TLS.
    assert {flow.transport for flow in sip.flows} == {"udp"}
    assert {flow.client for flow in sip.flows} | {flow.server for flow in sip.flows} >= {
        f"127.0.0.1:{sipp.port}"
    }
    claimed = {count.name: count.count for count in evidence.counts.tcp_streams_claimed}
    assert claimed.get("tls", 0) >= 2
    assert evidence.tls is not None
    assert {session.server for session in evidence.tls.sessions} == {f"127.0.0.1:{tls_port}"}
    exposed = {exposure.message.name for exposure in sip.exposures}
    assert {"INVITE", "200 (INVITE)"} <= exposed
    sdes = findings(evidence)["pcap.sdes_exposed"]
    assert sdes.status is Status.FAIL
    assert "inline:<redacted>" in sdes.summary
    # tshark finds the same SIP, and a=crypto in the same frames.
    decode = f"udp.port=={sipp.port},sip"
    assert our_messages(evidence) == tsharks_messages(path, decode)
    crypto_rows = tshark_fields(path, "sdp.crypto.tag", ["frame.number"], decode)
    crypto_frames = {int(row[0]) for row in crypto_rows}
    assert {exposure.message.frame for exposure in sip.exposures} == crypto_frames
    # No key reaches the evidence or the finding: neither ours (read from SIPp's trace)
    # nor SIPp's.
    trace = "\n".join(
        log.read_text(errors="replace") for log in sorted(sipp.workdir.glob("*_messages.log"))
    )
    keys = set(re.findall(r"inline:([A-Za-z0-9+/=]{20,})", trace))
    assert SIPP_KEY in keys
    assert len(keys) >= 2
    from probe.evidence.capture_file import dumps_capture

    written = dumps_capture(evidence) + json.dumps(sdes.to_dict())
    assert not [key for key in keys if key in written]


def test_a_tls_only_capture_has_no_cleartext_sip(
    tmp_path: Path, kamailio: Kamailio, lab: LabFiles
) -> None:
    path = tmp_path / "tls.pcapng"
    port = kamailio.tls_port
    with capturing(path, f"tcp port {port}", tool="dumpcap"):
        report = run_options_command(
            OptionsRequest(
                targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
                settings=Settings.from_flat(
                    pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=3, count=2
                ),
            ),
            on_usage_error=no_usage_error,
        )
    assert report.verdict.value == "pass", [f.summary for f in report.findings]
    evidence = audit_capture(path)
    assert evidence.source.format == "pcapng"
    assert evidence.source.read == "complete"
    assert evidence.counts.tcp_flows >= 1
    claimed = {count.name: count.count for count in evidence.counts.tcp_streams_claimed}
    assert claimed == {"tls": 2 * evidence.counts.tcp_flows}
    assert evidence.counts.tcp_streams_unclaimed == 0
    assert evidence.sip.messages == 0
    result = findings(evidence)
    assert result["pcap.sip_cleartext"].status is Status.PASS
    assert result["pcap.sdes_exposed"].status is Status.PASS
    assert judge_capture(evidence).verdict.value == "pass"
    # tshark agrees: the port decoded as TLS shows handshakes, and no SIP anywhere.
    decode = f"tcp.port=={port},tls"
    assert tshark_fields(path, "sip", ["frame.number"], decode) == []
    hellos = tshark_fields(path, "tls.handshake.type == 1", ["frame.number"], decode)
    assert len(hellos) == evidence.counts.tcp_flows
