"""From a capture audit's evidence to its result and report. Pure: the audit that just
ran and a saved one (`sipprobe judge`) go through the same code."""

from __future__ import annotations

import signal
from collections.abc import Sequence

from probe.evidence.capture import CaptureEvidence
from probe.report.model import Report
from probe.verdict.checks.policy import OptionsPolicy
from probe.verdict.checks.unit import CaptureJudging
from probe.verdict.findings import CaptureResult, Finding, JsonValue

__all__ = ["capture_facts", "capture_report", "judge_capture"]


def capture_facts(evidence: CaptureEvidence) -> dict[str, JsonValue]:
    """What the report says the capture was, beside its findings."""
    source, counts = evidence.source, evidence.counts
    span = (
        round(counts.last_time - counts.first_time, 3)
        if counts.first_time is not None and counts.last_time is not None
        else None
    )
    return {
        "format": source.format,
        "size_bytes": source.size_bytes,
        "link_types": list(source.link_types),
        "read": source.read,
        "problem": source.problem,
        "records": counts.records,
        "seconds": span,
        "udp_flows": counts.udp_flows,
        "tcp_flows": counts.tcp_flows,
        "cut_records": counts.cut_records,
        "flows_evicted": counts.flows_evicted,
    }


def judge_capture(evidence: CaptureEvidence, policy: OptionsPolicy | None = None) -> CaptureResult:
    """Every capture check that applies, in the registry's order; each one's ids are
    required, so a check that concluded nothing leaves the capture incomplete."""
    from probe.verdict.checks.registry import CAPTURE_CHECKS

    judging = CaptureJudging(evidence, policy)
    findings: list[Finding] = []
    required: list[str] = []
    checks = CAPTURE_CHECKS
    if evidence.recording is not None and not evidence.recording.recorded:
        # Nothing was recorded, so there is nothing to audit: only the recording is judged.
        checks = tuple(check for check in checks if "recording" in check.reads)
    for check in checks:
        if not check.applies(evidence):
            continue
        required.extend(check.ids if check.owes is None else check.owes(evidence))
        findings.extend(finding for finding in check.judge(judging) if finding is not None)
    return CaptureResult(
        capture=evidence.label,
        findings=tuple(findings),
        required=tuple(required),
        facts=capture_facts(evidence),
    )


def capture_report(
    evidence: CaptureEvidence,
    *,
    notes: Sequence[str] = (),
    policy: OptionsPolicy | None = None,
) -> Report:
    """The report of `sipprobe pcap` (or of a saved audit judged again)."""
    result = judge_capture(evidence, policy)
    return Report(
        command="pcap",
        started_at=evidence.started_at,
        duration_ms=evidence.duration_ms,
        results=(),
        notes=tuple(notes),
        captures=(result,),
        interrupted=evidence.stop_signal is not None,
        stop_signal=evidence.stop_signal or signal.SIGINT,
    )
