"""The report: every finding of a run, with the targets they are about. Pure data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from probe import __version__
from probe.report.exit_codes import (
    EXIT_FAIL,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    signal_name,
)
from probe.verdict.findings import (
    CaptureResult,
    Finding,
    JsonValue,
    TargetResult,
    Verdict,
    overall_verdict,
    worst_verdict,
)

__all__ = ["SCHEMA", "CaptureResult", "Report", "TargetResult", "combine_reports", "exit_code"]

SCHEMA = "sipprobe.report/1"


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    started_at: str
    duration_ms: float
    results: tuple[TargetResult, ...]
    notes: tuple[str, ...] = field(default=())
    trunk_findings: tuple[Finding, ...] = field(default=())
    """Findings about the endpoint list as a whole (failover), shown first."""
    interrupted: bool = False
    """The run was cut short by a signal: the report is partial and the exit code says so."""
    stop_signal: int = 2
    """Which signal cut it short (SIGINT unless said otherwise); read only when
    `interrupted`."""
    captures: tuple[CaptureResult, ...] = field(default=())
    """Audited packet captures (`sipprobe pcap`), each with its findings, after the
    targets."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        per_target = (finding for result in self.results for finding in result.findings)
        per_capture = (finding for capture in self.captures for finding in capture.findings)
        return (*self.trunk_findings, *per_target, *per_capture)

    @property
    def verdict(self) -> Verdict:
        """Fail, incomplete, warn or pass over the trunk findings and every target
        (docs/verdicts.md). An interrupted run is at best incomplete, and a report with
        nothing in it verified nothing."""
        parts = [result.verdict for result in self.results]
        parts.extend(capture.verdict for capture in self.captures)
        if self.trunk_findings:
            parts.append(overall_verdict(self.trunk_findings))
        verdict = worst_verdict(parts)
        if self.interrupted and verdict in (Verdict.PASS, Verdict.WARN):
            return Verdict.INCOMPLETE
        return verdict

    def status_counts(self) -> Counter[str]:
        return Counter(finding.status.value for finding in self.findings)

    def to_dict(self, *, include_lists: bool = True) -> dict[str, JsonValue]:
        """The JSON object; without `include_lists`, only its head (the streaming writer
        adds the targets and findings one at a time)."""
        head: dict[str, JsonValue] = {
            "schema": SCHEMA,
            "tool": {"name": "sipprobe", "version": __version__},
            "command": self.command,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "verdict": self.verdict.value,
            "counts": dict(sorted(self.status_counts().items())),
            "notes": list(self.notes),
        }
        if self.interrupted:
            head["interrupted_by"] = signal_name(self.stop_signal)
        if include_lists:
            head["targets"] = [result.to_dict() for result in self.results]
            if self.captures:
                head["captures"] = [capture.to_dict() for capture in self.captures]
            head["findings"] = [finding.to_dict() for finding in self.findings]
        return head


EXIT_BY_VERDICT = {
    Verdict.PASS: EXIT_OK,
    Verdict.WARN: EXIT_OK,
    Verdict.FAIL: EXIT_FAIL,
    Verdict.INCOMPLETE: EXIT_INCOMPLETE,
}


def exit_code(report: Report) -> int:
    """The verdict's exit code; 128 + the signal's number when a signal cut the run
    short (130 for Ctrl-C, 143 for SIGTERM), as a shell reports it, whatever was found
    before."""
    if report.interrupted:
        return EXIT_SIGNAL_BASE + report.stop_signal
    return EXIT_BY_VERDICT[report.verdict]


def combine_reports(
    reports: tuple[Report, ...], *, command: str, notes: tuple[str, ...] = ()
) -> Report:
    """One report out of several runs of one job (a failover check and a test call, say).

    A note is kept once, where it first appears: the runs of one job share their settings,
    so each run's report repeats the notes about them (`--insecure`, the scenario's name).
    """
    if not reports:
        raise ValueError("nothing to combine")
    started_at, duration_ms = _span(reports)
    return Report(
        command=command,
        started_at=started_at,
        duration_ms=duration_ms,
        results=tuple(result for report in reports for result in report.results),
        notes=tuple(dict.fromkeys((*notes, *(n for report in reports for n in report.notes)))),
        trunk_findings=tuple(f for report in reports for f in report.trunk_findings),
        interrupted=any(report.interrupted for report in reports),
        stop_signal=next((r.stop_signal for r in reports if r.interrupted), 2),
        captures=tuple(capture for report in reports for capture in report.captures),
    )


def _span(reports: Sequence[Report]) -> tuple[str, float]:
    """When the first run started, and how long the job took from then to the end of the
    last one. The runs of a `check --inbound` overlap (the listener runs beside the
    outbound runs) and those of a `check` follow one another with judging in between:
    adding their durations would be right for neither."""
    try:
        starts = [dt.datetime.fromisoformat(report.started_at) for report in reports]
        ends = [
            start + dt.timedelta(milliseconds=report.duration_ms)
            for start, report in zip(starts, reports, strict=True)
        ]
        first = min(range(len(reports)), key=starts.__getitem__)
        span = (max(ends) - starts[first]).total_seconds() * 1000
    except (TypeError, ValueError):  # a start that is not an ISO 8601 instant with offset
        return min(r.started_at for r in reports), sum(r.duration_ms for r in reports)
    return reports[first].started_at, span
