"""The report: every finding of a run, with the targets they are about. Pure data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from probe import __version__
from probe.evidence import Target
from probe.findings import Finding, JsonValue, Verdict, overall_verdict

SCHEMA = "sipprobe.report/1"


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One probed target and the findings about it, in check order."""

    target: Target
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.findings)

    def to_dict(self) -> dict[str, JsonValue]:
        target = self.target
        return {
            "target": target.label,
            "uri": target.uri,
            "host": target.host,
            "address": target.address,
            "port": target.port,
            "transport": target.transport,
            "sni": target.sni,
            "verdict": self.verdict.value,
        }


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    started_at: str
    duration_ms: float
    results: tuple[TargetResult, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(finding for result in self.results for finding in result.findings)

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.findings)

    def status_counts(self) -> Counter[str]:
        return Counter(finding.status.value for finding in self.findings)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "schema": SCHEMA,
            "tool": {"name": "sipprobe", "version": __version__},
            "command": self.command,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "verdict": self.verdict.value,
            "counts": dict(sorted(self.status_counts().items())),
            "notes": list(self.notes),
            "targets": [result.to_dict() for result in self.results],
            "findings": [finding.to_dict() for finding in self.findings],
        }


def exit_code(report: Report) -> int:
    """0 when nothing failed (warnings allowed), 1 when something failed."""
    return 1 if report.verdict is Verdict.FAIL else 0
