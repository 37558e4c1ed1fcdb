"""The capture audit from Python (probe.audit, probe.judge): the report the command line
renders, and the process left as it was (no signal handler, the collector untouched)."""

from __future__ import annotations

import gc
import signal
from pathlib import Path

import pytest

import probe
from probe.errors import SettingsError
from probe.report.model import exit_code
from probe.verdict.findings import Verdict
from tests.pcap.frames import invite_with_keys, udp_frame, write_pcap


def process_state() -> tuple[object, ...]:
    handlers = tuple(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    return (*handlers, gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())


def test_audit_returns_the_report_and_leaves_the_process_as_it_was(tmp_path: Path) -> None:
    capture = write_pcap(
        tmp_path / "leak.pcap",
        [udp_frame("192.0.2.1", 5060, "192.0.2.2", 5060, invite_with_keys())],
    )
    saved = tmp_path / "audit.json"
    before = process_state()
    report = probe.audit(capture, evidence_out=saved)
    assert process_state() == before
    assert report.verdict is Verdict.FAIL
    assert exit_code(report) == 1
    assert [f.check for f in report.findings] == [
        "pcap.sip_cleartext",
        "pcap.sdes_exposed",
        "pcap.media",
    ]
    again = probe.judge(saved)
    assert again.findings == report.findings


def test_audit_refuses_what_it_cannot_audit(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture")
    with pytest.raises(SettingsError, match="is not a pcap or pcapng capture"):
        probe.audit(text)
    with pytest.raises(SettingsError, match="max_flows"):
        probe.audit(text, max_flows=0)
