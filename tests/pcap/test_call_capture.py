"""The pieces of `sipprobe invite --capture` that need no peer: where and what it captures,
what it reads of the tool's last words, and how `pcap.capture` judges the recording."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from probe.evidence.capture import CaptureRecording
from probe.run import call_capture
from probe.run.call_capture import CallCapture, capture_filter, capture_interface
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Status, Verdict
from tests.helpers import Refused, refuse
from tests.pcap.frames import audit_frames, invite_with_keys, udp_frame


@pytest.mark.parametrize(
    ("addresses", "interface"),
    [
        (["127.0.0.1"], "lo"),
        (["::1", "127.0.0.2"], "lo"),
        (["127.0.0.1", "192.0.2.1"], "any"),
        (["2001:db8::1"], "any"),
        ([], "any"),
    ],
)
def test_loopback_targets_are_captured_on_lo_and_the_rest_on_any(
    addresses: list[str], interface: str
) -> None:
    assert capture_interface(addresses) == interface


def test_the_filter_is_the_calls_signalling_media_and_end_marker() -> None:
    bpf = capture_filter(
        [("192.0.2.1", 5061), ("2001:db8::1", 5061), ("192.0.2.1", 5061)], 40000, 50000
    )
    assert bpf == (
        "(host 192.0.2.1 and tcp port 5061) or (host 2001:db8::1 and tcp port 5061) or "
        "(udp portrange 40000-40001) or (udp and dst host 127.0.0.1 and dst port 50000)"
    )
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        capture_filter([("192.0.2.1 or port 22", 5061)], 40000, 50000)


def test_the_tools_last_words_give_what_was_captured_and_dropped() -> None:
    tcpdump = "38 packets captured\n40 packets received by filter\n2 packets dropped by kernel\n"
    stats = call_capture._stats("tcpdump", tcpdump)
    assert (stats.captured, stats.dropped) == (38, 2)
    dumpcap = (
        "Capturing on 'Loopback: lo'\nFile: x.pcapng\nPackets captured: 12\n"
        "Packets received/dropped on interface 'Loopback: lo': 12/3 (pcap:0/dumpcap:0/flushed:0)"
    )
    stats = call_capture._stats("dumpcap", dumpcap)
    assert (stats.captured, stats.dropped) == (12, 3)
    assert call_capture._stats("tcpdump", "").captured is None


def test_a_capture_file_that_cannot_be_written_is_refused_before_the_call(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="is a directory"):
        CallCapture(tmp_path, refuse)
    with pytest.raises(Refused, match="does not exist"):
        CallCapture(tmp_path / "missing" / "call.pcap", refuse)


def recorded(**changes: object) -> CaptureRecording:
    made = CaptureRecording(
        file="call.pcap",
        recorded=True,
        tool="tcpdump",
        interface="lo",
        bpf="(udp portrange 40000-40001)",
        packets_captured=2,
        packets_dropped=0,
        end_marker=True,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_a_recording_that_did_not_happen_is_the_only_thing_judged() -> None:
    evidence = replace(
        audit_frames([]),
        recording=recorded(recorded=False, problem="no privilege to capture on lo"),
    )
    result = judge_capture(evidence)
    [finding] = result.findings
    assert (finding.check, finding.status) == ("pcap.capture", Status.INCOMPLETE)
    assert "no privilege to capture on lo" in finding.summary
    assert result.verdict is Verdict.INCOMPLETE


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"packets_dropped": 3}, "3 packet(s) dropped before tcpdump read them"),
        ({"end_marker": False}, "the call's last packets may be missing"),
        ({"killed": True}, "did not stop when asked and was killed"),
    ],
)
def test_a_recording_that_may_lack_packets_is_incomplete(
    changes: dict[str, object], words: str
) -> None:
    frames = [udp_frame("127.0.0.1", 40000, "127.0.0.1", 40002, b"\x80" + bytes(20))]
    evidence = replace(audit_frames(frames), recording=recorded(**changes))
    findings = {f.check: f for f in judge_capture(evidence).findings}
    assert findings["pcap.capture"].status is Status.INCOMPLETE
    assert words in findings["pcap.capture"].summary


def test_a_whole_recording_passes_and_its_audit_follows() -> None:
    frames = [udp_frame("127.0.0.1", 5060, "127.0.0.1", 5062, invite_with_keys())]
    evidence = replace(audit_frames(frames), recording=recorded())
    findings = {f.check: f for f in judge_capture(evidence).findings}
    assert findings["pcap.capture"].status is Status.PASS
    assert findings["pcap.capture"].summary == (
        "recorded 1 packet of the call with tcpdump on lo into call.pcap"
    )
    assert findings["pcap.sdes_exposed"].status is Status.FAIL
