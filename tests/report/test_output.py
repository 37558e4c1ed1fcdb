"""Formats and destinations: several formats in one run, files, Nagios."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.report.console import render_console
from probe.report.model import Report, TargetResult
from probe.report.output import OutputError, nagios, plan_outputs
from probe.verdict.checks.options import AcceptedCodes, PingThresholds, check_options
from probe.verdict.findings import Finding, Status
from tests.checks.evidence_factory import evidence
from tests.checks.test_ping import answered, unanswered
from tests.checks.test_ping import run as ping_run
from tests.report.test_report import TARGET, make_report


def test_one_format_one_file() -> None:
    (destination,) = plan_outputs("json", ["out.json"])
    assert destination.format == "json"
    assert destination.path == Path("out.json")


def test_several_formats_need_named_files() -> None:
    plan = plan_outputs("console,json,junit", ["json=r.json", "junit=r.xml"])
    assert [(d.format, d.path) for d in plan] == [
        ("console", None),
        ("json", Path("r.json")),
        ("junit", Path("r.xml")),
    ]
    with pytest.raises(OutputError, match="FORMAT=FILE"):
        plan_outputs("console,json", ["r.json"])
    with pytest.raises(OutputError, match="only one format"):
        plan_outputs("console,json", [])
    with pytest.raises(OutputError, match="choose from"):
        plan_outputs("yaml", [])


@pytest.mark.parametrize(
    ("statuses", "word", "code"),
    [
        ((Status.PASS,), "OK", 0),
        ((Status.PASS, Status.WARN), "WARNING", 1),
        ((Status.FAIL,), "CRITICAL", 2),
    ],
)
def test_nagios_line_and_code(statuses: tuple[Status, ...], word: str, code: int) -> None:
    line, exit_code = nagios(make_report(*statuses))
    assert line.startswith(f"SIPPROBE {word} - ")
    assert exit_code == code
    assert "\n" not in line


def test_cli_writes_json_to_a_file_and_console_to_stdout(tmp_path: Path, closed_port: int) -> None:
    target = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "options",
            f"sip:127.0.0.1:{closed_port};transport=tcp",
            "--format",
            "console,json",
            "--output",
            f"json={target}",
            "--no-color",
        ],
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAIL")
    assert json.loads(target.read_text())["verdict"] == "fail"
    assert target.stat().st_mode & 0o007 == 0


def test_bad_output_plan_is_refused_before_probing() -> None:
    result = CliRunner().invoke(
        cli, ["options", "sip:127.0.0.1:9;transport=tcp", "--format", "console,json"]
    )
    assert result.exit_code == 2
    assert "only one format" in result.output


def test_naming_a_format_in_output_adds_it() -> None:
    plan = plan_outputs("console", ["json=r.json"])
    assert [(d.format, d.path) for d in plan] == [("console", None), ("json", Path("r.json"))]
    plan = plan_outputs("console", ["junit=r.xml", "c.txt", "json=r.json"])
    assert [(d.format, d.path) for d in plan] == [
        ("console", Path("c.txt")),
        ("junit", Path("r.xml")),
        ("json", Path("r.json")),
    ]
    with pytest.raises(OutputError, match=r"already written to r\.json"):
        plan_outputs("console", ["json=r.json", "JSON=s.json"])
    with pytest.raises(OutputError, match="no file name"):
        plan_outputs("console", ["json="])


def test_cli_output_json_file_without_format_json(tmp_path: Path, closed_port: int) -> None:
    target = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        ["options", f"sip:127.0.0.1:{closed_port};transport=tcp", "--output", f"json={target}"],
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAIL")
    report = json.loads(target.read_text())
    assert report["verdict"] == "fail"


def test_an_output_file_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        plan_outputs("json", [str(tmp_path)])
    with pytest.raises(OutputError, match="does not exist"):
        plan_outputs("console", [f"json={tmp_path / 'missing' / 'r.json'}"])


def _ping_report(finding: Finding) -> Report:
    return Report(
        command="options",
        started_at="2026-11-27T00:00:00.000+00:00",
        duration_ms=1.0,
        results=(TargetResult(TARGET, (finding,)),),
    )


def _perfdata(line: str) -> list[str]:
    return line.split(" | ", 1)[1].split(" ")


def test_nagios_ping_perfdata_carries_rta_and_pl_with_thresholds() -> None:
    # 6 of 20 answered: beyond the default --loss-crit, CRITICAL.
    exchanges = [answered(n, rtt=2.0 + n / 10) for n in range(1, 7)]
    exchanges += [unanswered(n) for n in range(7, 21)]
    finding = check_options(ping_run(20, exchanges), AcceptedCodes())
    assert finding is not None
    line, code = nagios(_ping_report(finding))
    assert line.startswith("SIPPROBE CRITICAL - sip.options ")
    assert code == 2
    assert _perfdata(line) == [
        "rta_1=2.350ms;300;500;0;",
        "pl_1=70%;0;20;0;100",
        "rtmin_1=2.100ms;;;0;",
        "rtmax_1=2.600ms;;;0;",
    ]


def test_nagios_ping_perfdata_follows_the_thresholds_given() -> None:
    thresholds = PingThresholds(loss_warn_pct=5, loss_crit_pct=50, rtt_warn_ms=1, rtt_crit_ms=10)
    exchanges = [answered(n, rtt=2.0) for n in range(1, 5)] + [unanswered(5)]
    finding = check_options(ping_run(5, exchanges), AcceptedCodes(), thresholds)
    assert finding is not None
    line, code = nagios(_ping_report(finding))
    assert (line.split(" - ")[0], code) == ("SIPPROBE WARNING", 1)
    assert _perfdata(line)[:2] == ["rta_1=2.000ms;1;10;0;", "pl_1=20%;5;50;0;100"]


def test_nagios_ping_with_no_answer_has_an_undetermined_rta() -> None:
    finding = check_options(ping_run(3, [unanswered(n) for n in (1, 2, 3)]), AcceptedCodes())
    assert finding is not None
    line, _ = nagios(_ping_report(finding))
    assert _perfdata(line) == ["rta_1=U;300;500;0;", "pl_1=100%;0;20;0;100"]


def test_nagios_single_probe_rtt_carries_its_thresholds() -> None:
    thresholds = PingThresholds(rtt_warn_ms=100, rtt_crit_ms=200, judge_single_rtt=True)
    finding = check_options(evidence(answered(1, rtt=1.5)), AcceptedCodes(), thresholds)
    assert finding is not None
    line, code = nagios(_ping_report(finding))
    assert code == 0
    assert _perfdata(line) == ["rtt_1=1.500ms;100;200;0;"]


def test_console_facts_of_a_ping_run_count_the_probes_never_sent() -> None:
    exchanges = [answered(n) for n in range(1, 6)] + [unanswered(6, "reset", "reset by peer")]
    finding = check_options(ping_run(20, exchanges, lost=True), AcceptedCodes())
    assert finding is not None
    out = io.StringIO()
    render_console(_ping_report(finding), out, color=False)
    facts = " ".join(out.getvalue().split("\nRTT", 1)[1].split())
    assert facts.startswith("min/avg/max/stdev = 2.00/2.00/2.00/0.00 ms · 5/6 answered · 75% loss")
    assert "· 75% loss · 14 never sent" in facts
