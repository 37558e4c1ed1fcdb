"""Golden files: the JUnit XML and the plain console report of a fixed report.

A change in either output shows up as a diff here. To accept an intended change, delete
the golden file and run the test once: it writes the new one and fails, asking for a look.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from probe.report.console import render_console
from probe.report.junit import render_junit
from probe.report.model import Report, TargetResult
from probe.verdict.findings import Finding, Status
from tests.checks.evidence_factory import TARGET

GOLDEN = Path(__file__).parent / "golden"


def fixed_report() -> Report:
    label = TARGET.label
    findings = (
        Finding("net.connect", Status.PASS, label, "TCP connected to 127.0.0.1:5061/tls in 0.4 ms"),
        Finding(
            "tls.chain",
            Status.FAIL,
            label,
            "the server did not send the intermediate certificate that issued the leaf",
            {"presented_count": 1},
        ),
        Finding("tls.identity", Status.WARN, label, "matched the Common Name"),
        Finding(
            "sip.options",
            Status.PASS,
            label,
            "200 OK in 1.3 ms",
            {
                "status_code": 200,
                "reason": "OK",
                "rtt_ms": 1.3,
                "server": "SBC 1.0",
                "allow": ["INVITE", "ACK", "BYE"],
            },
        ),
        Finding("sip.response", Status.SKIP, label, "no response to judge"),
    )
    trunk = (
        Finding(
            "failover.order",
            Status.PASS,
            "trunk",
            "calls land on it",
            {
                "lands_on": label,
                "order": [
                    {
                        "rank": 1,
                        "target": label,
                        "healthy": True,
                        "rtt_ms": 1.3,
                        "priority": None,
                        "weight": None,
                        "share": None,
                        "reason": "healthy",
                    }
                ],
            },
        ),
    )
    return Report(
        command="failover",
        started_at="2026-11-27T00:00:00.000+00:00",
        duration_ms=42.0,
        results=(TargetResult(TARGET, findings),),
        notes=("a fixed report for the golden files",),
        trunk_findings=trunk,
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():
        path.write_text(text)
        pytest.fail(f"wrote {path}: check it by eye and commit it")
    assert text == path.read_text()


def test_junit_golden() -> None:
    check_golden("report.junit.xml", render_junit(fixed_report()) + "\n")


def test_console_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    render_console(fixed_report(), out, color=False)
    check_golden("report.console.txt", out.getvalue())
