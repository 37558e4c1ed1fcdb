"""A large sweep on the console: one line per target past COMPACT_FROM, and the findings
of the targets that did not pass; `--verbose` keeps every target in full."""

from __future__ import annotations

import io
from dataclasses import replace

from probe.report.console import COMPACT_FROM, render_console
from probe.report.model import Report, TargetResult
from probe.verdict.findings import Finding, Status
from tests.checks.evidence_factory import TARGET


def _sweep(size: int, failing: set[int], warning: frozenset[int] = frozenset()) -> Report:
    results = []
    for number in range(size):
        target = replace(TARGET, port=10000 + number)
        label = target.label
        options = Finding("sip.options", Status.PASS, label, f"200 OK in {number}.5 ms")
        if number in failing:
            options = Finding("sip.options", Status.FAIL, label, f"no answer to OPTIONS #{number}")
        elif number in warning:
            options = Finding("sip.options", Status.WARN, label, f"RTT above --rtt-warn #{number}")
        connect = Finding("net.connect", Status.PASS, label, f"TCP connected #{number}.")
        results.append(TargetResult(target, (connect, options)))
    return Report(command="options", started_at="x", duration_ms=1.0, results=tuple(results))


def _render(report: Report, *, verbose: bool = False) -> str:
    out = io.StringIO()
    render_console(report, out, color=False, verbose=verbose)
    return out.getvalue()


def test_past_the_threshold_passing_targets_get_one_line_and_the_others_their_findings() -> None:
    size = COMPACT_FROM + 10
    report = _sweep(size, failing={7}, warning=frozenset({40}))
    text = _render(report)
    assert text.startswith("FAIL")
    for number, result in enumerate(report.results):
        label = result.target.label
        lines = [line for line in text.splitlines() if label in line]
        if number in (7, 40):
            continue
        # One line, with its answer; none of its findings' rows.
        assert len(lines) == 1, lines
        assert lines[0].startswith("PASS")
        assert f"200 OK in {number}.5 ms" in lines[0]
        assert f"TCP connected #{number}." not in text
    # The failing target: its line says why, and its block shows every finding.
    failing = report.results[7].target.label
    assert f"FAIL       {failing}" in text
    assert text.count("no answer to OPTIONS #7") == 2  # its line and its block
    assert "TCP connected #7." in text
    # A warning is not a pass: its findings are shown too.
    assert "TCP connected #40." in text
    assert "RTT above --rtt-warn #40" in text
    assert f"{size} targets, one line each; the findings of the 2 that did not pass" in text


def test_verbose_keeps_every_target_in_full() -> None:
    report = _sweep(COMPACT_FROM + 10, failing={7})
    text = _render(report, verbose=True)
    for number in range(COMPACT_FROM + 10):
        assert f"TCP connected #{number}." in text
    assert "one line each" not in text


def test_up_to_the_threshold_every_target_is_shown_in_full() -> None:
    text = _render(_sweep(COMPACT_FROM, failing={3}))
    for number in range(COMPACT_FROM):
        assert f"TCP connected #{number}." in text
    assert "one line each" not in text
