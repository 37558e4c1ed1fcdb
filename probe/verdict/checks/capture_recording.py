"""The check of a capture sipprobe recorded itself (`sipprobe invite --capture`):
`pcap.capture`, whether the call's packets were all recorded.

A capture asked for and not made (no privilege to capture, no tcpdump) is incomplete
work, never a pass: the call ran, and its report says the capture did not. A capture
that may have lost packets (the kernel dropped some, the tool stopped before sipprobe's
end-of-call marker reached the file) is incomplete too: what it lacks, the audit of it
could not see.
"""

from __future__ import annotations

from collections.abc import Iterable

from probe.evidence.capture import CaptureEvidence
from probe.verdict.checks.unit import CaptureCheck, CaptureJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["RECORDED"]


def _applies(evidence: CaptureEvidence) -> bool:
    return evidence.recording is not None


def judge_recording(judging: CaptureJudging) -> Iterable[Finding]:
    evidence = judging.evidence
    recording = evidence.recording
    if recording is None:
        return
    details: dict[str, JsonValue] = {
        "file": recording.file,
        "tool": recording.tool,
        "interface": recording.interface,
        "filter": recording.bpf,
        "packets_captured": recording.packets_captured,
        "packets_dropped": recording.packets_dropped,
        "end_marker": recording.end_marker,
        "killed": recording.killed,
        "problem": recording.problem,
    }
    label = evidence.label

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.PCAP_CAPTURE, status, label, summary, details)

    if not recording.recorded:
        why = recording.problem or "the capture did not start"
        yield finding(
            Status.INCOMPLETE,
            f"no capture of the call to audit: {why}; the call ran all the same",
        )
        return
    where = f"with {recording.tool} on {recording.interface}"
    missed: list[str] = [recording.problem] if recording.problem else []
    if recording.packets_dropped:
        missed.append(
            f"{recording.packets_dropped} packet(s) dropped before {recording.tool} read them"
        )
    if not recording.end_marker:
        missed.append(
            f"{recording.tool} stopped before sipprobe's end-of-call marker reached the file, "
            "so the call's last packets may be missing"
        )
    if recording.killed:
        missed.append(f"{recording.tool} did not stop when asked and was killed")
    if missed:
        yield finding(
            Status.INCOMPLETE, f"recorded {where}, but not all of it: " + "; ".join(missed)
        )
        return
    count = evidence.counts.records
    packets = f"{count} packet{'' if count == 1 else 's'}"
    yield finding(Status.PASS, f"recorded {packets} of the call {where} into {recording.file}")


RECORDED = CaptureCheck(
    ids=(CheckId.PCAP_CAPTURE,),
    reads=("recording", "counts"),
    judge=judge_recording,
    applies=_applies,
)
