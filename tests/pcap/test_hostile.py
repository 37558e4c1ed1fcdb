"""Hostile captures: a million tiny flows in bounded memory, garbage frames and garbage
files; a finding or a clear error, never a traceback."""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.evidence.capture import CaptureEvidence, CaptureSource
from probe.pcap.analyses import build_analyses
from probe.pcap.analysis import AuditLimits
from probe.pcap.audit import CaptureAudit, audit_capture
from probe.pcap.reader import CaptureError
from probe.pcap.sip_audit import SipAnalysis
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Status
from tests.pcap.frames import ACK, SYN, invite_with_keys, tcp_frame, udp_frame
from tests.sip.strategies import fuzz_examples

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def tiny_flows(path: Path, count: int) -> Path:
    """`count` one-packet UDP flows, each between its own pair of endpoints."""
    frame = bytearray(udp_frame("10.0.0.1", 1, "10.1.0.1", 5060, b"\x80tiny"))
    header = struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame))
    with path.open("wb") as sink:
        sink.write(PCAP_HEADER)
        chunk = bytearray()
        for number in range(count):
            struct.pack_into("!H", frame, 34, number & 0xFFFF)  # the source port
            struct.pack_into("!H", frame, 32, (number >> 16) + 1)  # the destination's end
            chunk += header
            chunk += frame
            if len(chunk) > 1 << 20:
                sink.write(chunk)
                chunk.clear()
        sink.write(chunk)
    return path


MEASURE = """
import resource, sys
from pathlib import Path
from probe.pcap.analysis import AuditLimits
from probe.pcap.audit import audit_capture
evidence = audit_capture(Path(sys.argv[1]), limits=AuditLimits(max_flows=int(sys.argv[2])))
counts = evidence.counts
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, counts.udp_flows,
      counts.most_open_flows, counts.flows_evicted, len(evidence.flows), evidence.sip.messages)
"""


def peak(path: Path, max_flows: int) -> list[int]:
    """Audit in a fresh interpreter: its peak resident memory (KiB) and the counts."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(max_flows)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return [int(word) for word in done.stdout.split()]


def test_a_million_tiny_flows_are_audited_in_bounded_memory(tmp_path: Path) -> None:
    small = peak(tiny_flows(tmp_path / "small.pcap", 10_000), 2_000)
    large = peak(tiny_flows(tmp_path / "million.pcap", 1_000_000), 2_000)
    rss_small, *_ = small
    rss_large, flows, most_open, evicted, listed, sip = large
    assert flows == 1_000_000  # every packet was still looked at
    assert most_open == 2_000
    assert evicted == 1_000_000 - 2_000
    assert (listed, sip) == (0, 0)
    # A hundred times the flows, the same memory: 30 MiB covers allocator noise, while
    # a million flows kept would need gigabytes.
    assert rss_large - rss_small < 30 * 1024, (rss_small, rss_large)


def test_many_tcp_connections_with_holes_release_what_they_held() -> None:
    limits = AuditLimits(max_flows=100, max_pending_bytes=64 * 1024)
    audit = CaptureAudit(build_analyses(limits), limits)
    number = 0
    for connection in range(3_000):
        port = 10_000 + connection
        # A SYN, then a segment after a hole that never fills: held until evicted.
        for frame in (
            tcp_frame("10.0.0.1", port, "10.0.0.2", 5060, 100, flags=SYN),
            tcp_frame("10.0.0.1", port, "10.0.0.2", 5060, 600, b"INVITE sip:x SIP/2.0\r\n"),
        ):
            number += 1
            audit.frame(number, float(number), 1, frame, len(frame))
        assert audit.budget.held <= limits.max_pending_bytes
        assert len(audit.flows) <= 100
    source = CaptureSource(file="x", format="pcap", size_bytes=0, link_types=())
    evidence = audit.evidence(source, started_at="2026-01-01T00:00:00+00:00", duration_ms=1)
    assert audit.budget.held == 0
    assert evidence.counts.tcp_flows == 3_000
    assert evidence.counts.flows_evicted == 2_900


@settings(
    max_examples=fuzz_examples(),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    frames=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda head, tail: udp_frame("192.0.2.1", 5060, "192.0.2.2", 5060, head + tail),
                st.sampled_from([b"INVITE sip:x SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n", b""]),
                st.binary(max_size=200),
            ),
            st.builds(
                lambda seq, data, flags: tcp_frame(
                    "192.0.2.1", 4000, "192.0.2.2", 5060, seq, data, flags
                ),
                st.integers(0, 2**32 - 1),
                st.sampled_from([invite_with_keys()[:90], b"SIP/2.0 100 x\r\n\r\n", b"\r\n"]),
                st.sampled_from([ACK, SYN, ACK | 0x01, 0x04]),
            ),
        ),
        max_size=40,
    ),
    linktype=st.sampled_from([1, 101, 113, 276, 0]),
    cut=st.one_of(st.none(), st.integers(0, 120)),
)
def test_any_frames_give_evidence_and_findings(
    frames: list[bytes], linktype: int, cut: int | None
) -> None:
    limits = AuditLimits(max_flows=4, max_listed=3, claim_window=64)
    audit = CaptureAudit(build_analyses(limits), limits)
    for number, frame in enumerate(frames, start=1):
        kept = frame if cut is None else frame[:cut]
        audit.frame(number, float(number), linktype, kept, len(frame))
    source = CaptureSource(file="x", format="pcap", size_bytes=0, link_types=())
    evidence = audit.evidence(source, started_at="2026-01-01T00:00:00+00:00", duration_ms=1)
    assert evidence.counts.records == len(frames)
    result = judge_capture(evidence)
    assert {finding.check for finding in result.findings} == {
        "pcap.sip_cleartext",
        "pcap.sdes_exposed",
        "pcap.media",
    }


@settings(max_examples=max(50, fuzz_examples() // 3), deadline=None)
@given(
    magic=st.sampled_from([PCAP_HEADER, b"\x0a\x0d\x0d\x0a" + b"\x1c\x00\x00\x00\x4d\x3c\x2b\x1a"]),
    body=st.binary(max_size=400),
)
def test_any_file_after_a_capture_magic_is_audited_or_refused(
    tmp_path_factory: pytest.TempPathFactory, magic: bytes, body: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "capture"
    path.write_bytes(magic + body)
    try:
        evidence = audit_capture(path)
    except CaptureError as exc:
        problem = str(exc)
    else:
        assert evidence.source.read in ("complete", "truncated", "damaged")
        judge_capture(evidence)
        return
    assert problem.startswith(str(path))


@dataclass
class Audited:
    audit: CaptureAudit
    evidence: CaptureEvidence
    peak_held: int
    """The most out-of-order and unrecognised TCP bytes held at once."""
    peak_sip: int
    """The most bytes the SIP streams held at once."""


def audit_of(frames: list[bytes], limits: AuditLimits) -> Audited:
    analyses = build_analyses(limits)
    sip = analyses[0]
    assert isinstance(sip, SipAnalysis)
    audit = CaptureAudit(analyses, limits)
    peak_held = peak_sip = 0
    for number, frame in enumerate(frames, start=1):
        audit.frame(number, float(number), 1, frame, len(frame))
        peak_held = max(peak_held, audit.budget.held)
        peak_sip = max(peak_sip, sip.held)
    source = CaptureSource(file="x", format="pcap", size_bytes=0, link_types=())
    evidence = audit.evidence(source, started_at="2026-01-01T00:00:00+00:00", duration_ms=1)
    assert audit.budget.held == 0  # every flow ended: nothing is held any more
    assert sip.held == 0
    return Audited(audit, evidence, peak_held, peak_sip)


def test_streams_that_never_say_what_they_are_cannot_hold_unbounded_memory() -> None:
    # Connections caught mid-stream whose bytes could still turn out to be SIP (text, no
    # start line yet): their heads count against the budget, and past it they are given
    # up on, which the verdict must show.
    limits = AuditLimits(max_pending_bytes=20_000, claim_window=16_384)
    text = b"x" * 1400
    frames = [
        tcp_frame("10.0.0.1", 20_000 + n, "10.0.0.2", 5060, 1000 + 1400 * k, text)
        for k in range(3)
        for n in range(40)
    ]
    audited = audit_of(frames, limits)
    assert audited.peak_held <= limits.max_pending_bytes + 1400  # past it, one more chunk
    evidence = audited.evidence
    assert evidence.counts.tcp_streams_unexamined > 0
    result = {f.check: f for f in judge_capture(evidence).findings}
    assert result["pcap.sip_cleartext"].status is Status.INCOMPLETE
    assert "memory bound" in result["pcap.sip_cleartext"].summary


def test_sip_streams_together_hold_at_most_the_bound() -> None:
    # Each connection starts an INVITE whose announced body never finishes arriving.
    limits = AuditLimits(max_pending_bytes=50_000)
    head = (
        b"INVITE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nMax-Forwards: 70\r\n"
        b"To: <sip:bob@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: big\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 60000\r\n\r\n"
    )
    frames = []
    for n in range(10):
        frames.append(tcp_frame("10.0.0.1", 30_000 + n, "10.0.0.2", 5060, 1, flags=SYN))
        frames.append(tcp_frame("10.0.0.1", 30_000 + n, "10.0.0.2", 5060, 2, head + bytes(8000)))
    audited = audit_of(frames, limits)
    assert audited.peak_sip <= limits.max_pending_bytes
    evidence = audited.evidence
    assert evidence.sip.overflows >= 1
    assert evidence.sip.cut_messages >= evidence.sip.overflows
    sdes = {f.check: f for f in judge_capture(evidence).findings}["pcap.sdes_exposed"]
    assert sdes.status is Status.INCOMPLETE
    assert "memory bound" in sdes.summary
