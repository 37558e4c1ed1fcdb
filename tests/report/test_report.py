"""Report model and renderers, on hand-made findings."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from probe.report.console import detail_lines, render_console
from probe.report.json import render_json
from probe.report.junit import render_junit
from probe.report.model import Report, TargetResult, exit_code
from probe.report.output import nagios
from probe.verdict.findings import Finding, Status, Verdict, overall_verdict
from tests.checks.evidence_factory import TARGET


def make_report(*statuses: Status) -> Report:
    findings = tuple(
        Finding(f"check.{n}", status, TARGET.label, f"summary {n}", {"n": n})
        for n, status in enumerate(statuses)
    )
    return Report(
        command="options",
        started_at="2026-11-27T00:00:00.000+00:00",
        duration_ms=12.3456,
        results=(TargetResult(TARGET, findings),),
    )


def test_verdict_rules() -> None:
    assert overall_verdict([]) is Verdict.INCOMPLETE  # nothing verified is no pass
    assert make_report(Status.PASS, Status.SKIP).verdict is Verdict.PASS
    assert make_report(Status.PASS, Status.WARN).verdict is Verdict.WARN
    assert make_report(Status.WARN, Status.FAIL).verdict is Verdict.FAIL
    assert make_report(Status.ERROR).verdict is Verdict.FAIL
    assert make_report(Status.PASS, Status.INCOMPLETE).verdict is Verdict.INCOMPLETE
    assert make_report(Status.WARN, Status.INCOMPLETE).verdict is Verdict.INCOMPLETE
    # A failure seen is enough to act on, whatever else was left undone.
    assert make_report(Status.INCOMPLETE, Status.FAIL).verdict is Verdict.FAIL
    assert make_report(Status.SKIP).verdict is Verdict.PASS


def test_a_required_check_without_a_conclusion_is_incomplete() -> None:
    passed = Finding("net.connect", Status.PASS, TARGET.label, "connected")
    skipped = Finding("sip.options", Status.SKIP, TARGET.label, "not sent")
    result = TargetResult(TARGET, (passed, skipped), ("net.connect", "sip.options"))
    assert result.missing == ("sip.options",)
    assert result.verdict is Verdict.INCOMPLETE
    absent = TargetResult(TARGET, (passed,), ("net.connect", "tls.chain"))
    assert absent.missing == ("tls.chain",)
    assert absent.verdict is Verdict.INCOMPLETE
    done = TargetResult(TARGET, (passed,), ("net.connect",))
    assert (done.missing, done.verdict) == ((), Verdict.PASS)
    report = Report("options", "2026-11-27T00:00:00.000+00:00", 1.0, (absent,))
    assert exit_code(report) == 4
    data = json.loads(render_json(report))
    assert data["verdict"] == "incomplete"
    assert data["targets"][0]["missing"] == ["tls.chain"]
    assert 'errors="1"' in render_junit(report)
    assert "not verified: tls.chain" in nagios(report)[0]


def test_an_empty_or_interrupted_report_never_passes() -> None:
    empty = Report("options", "2026-11-27T00:00:00.000+00:00", 1.0, ())
    assert empty.verdict is Verdict.INCOMPLETE
    assert nagios(empty) == ("SIPPROBE UNKNOWN - nothing verified", 3)
    passed = make_report(Status.PASS)
    interrupted = dataclasses.replace(passed, interrupted=True)
    assert interrupted.verdict is Verdict.INCOMPLETE
    assert exit_code(interrupted) == 130
    assert exit_code(dataclasses.replace(interrupted, stop_signal=15)) == 143
    assert nagios(interrupted)[1] == 3  # UNKNOWN, never OK
    hung_up = dataclasses.replace(interrupted, stop_signal=1)
    assert exit_code(hung_up) == 129
    assert nagios(hung_up) == (
        "SIPPROBE UNKNOWN - interrupted by SIGHUP: the report is partial",
        3,
    )
    assert hung_up.to_dict()["interrupted_by"] == "SIGHUP"
    assert "interrupted_by" not in passed.to_dict()  # only a stopped run has one


def test_exit_codes_follow_the_verdict() -> None:
    assert exit_code(make_report(Status.PASS, Status.WARN)) == 0
    assert exit_code(make_report(Status.PASS, Status.FAIL)) == 1
    assert exit_code(make_report(Status.PASS, Status.INCOMPLETE)) == 4
    assert nagios(make_report(Status.PASS, Status.INCOMPLETE))[1] == 3


def test_json_shape() -> None:
    data = json.loads(render_json(make_report(Status.PASS, Status.WARN)))
    assert data["schema"] == "sipprobe.report/1"
    assert data["verdict"] == "warn"
    assert data["counts"] == {"pass": 1, "warn": 1}
    assert data["duration_ms"] == 12.346
    assert data["targets"][0]["target"] == "sbc.example.test (127.0.0.1:5061/tls)"
    assert data["targets"][0]["verdict"] == "warn"
    assert data["findings"][1] == {
        "check": "check.1",
        "status": "warn",
        "target": "sbc.example.test (127.0.0.1:5061/tls)",
        "summary": "summary 1",
        "details": {"n": 1},
    }


def test_console_puts_the_verdict_first_and_no_colour_when_asked() -> None:
    out = io.StringIO()
    render_console(make_report(Status.PASS, Status.FAIL), out, color=False)
    text = out.getvalue()
    assert text.startswith("FAIL")
    assert "summary 1" in text
    assert "\x1b[" not in text


def test_console_colour_when_forced() -> None:
    out = io.StringIO()
    render_console(make_report(Status.PASS), out, color=True)
    assert "\x1b[" in out.getvalue()


def test_verbose_detail_lines_nest() -> None:
    lines = detail_lines(
        {
            "leaf": {"subject": "CN=a", "dns_names": ["a", "b"]},
            "presented": [{"s": 1}],
            "empty": None,
        }
    )
    assert lines == ["leaf:", "  subject: CN=a", "  dns_names: a, b", "presented:", "  - s: 1"]


def test_junit_has_one_case_per_finding_and_failures_marked() -> None:
    import xml.etree.ElementTree as ElementTree

    from probe.report.junit import render_junit

    report = make_report(Status.PASS, Status.FAIL, Status.SKIP, Status.WARN)
    root = ElementTree.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    assert root.get("tests") == "4"
    assert root.get("failures") == "1"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "sbc.example.test (127.0.0.1:5061/tls)"
    cases = suite.findall("testcase")
    assert [case.get("classname") for case in cases] == ["check.0", "check.1", "check.2", "check.3"]
    assert cases[1].find("failure") is not None
    assert cases[1].find("failure").get("message") == "summary 1"  # type: ignore[union-attr]
    assert cases[2].find("skipped") is not None
    assert cases[3].find("failure") is None


def test_console_sums_up_a_test_call() -> None:
    label = TARGET.label
    findings = (
        Finding(
            "sip.invite",
            Status.PASS,
            label,
            "answered 200 OK",
            {"final_status": 200, "final_reason": "OK"},
        ),
        Finding("sdp.srtp", Status.PASS, label, "SRTP negotiated: AES_CM_128_HMAC_SHA1_80"),
        Finding("sip.teardown", Status.PASS, label, "BYE answered 200 OK; dialogs left open: 0"),
    )
    report = Report(
        command="invite", started_at="x", duration_ms=1.0, results=(TargetResult(TARGET, findings),)
    )
    out = io.StringIO()
    render_console(report, out, color=False)
    text = out.getvalue()
    assert "Call" in text
    assert "200 OK" in text
    assert "SRTP negotiated: AES_CM_128_HMAC_SHA1_80" in text.replace("\n", " ")
    assert "dialogs left open: 0" in text.replace("\n", " ")


def test_headline_says_where_calls_land_and_the_srtp_suite() -> None:
    label = TARGET.label
    report = Report(
        command="failover",
        started_at="x",
        duration_ms=1.0,
        results=(
            TargetResult(
                TARGET,
                (
                    Finding(
                        "sdp.srtp",
                        Status.PASS,
                        label,
                        "SRTP negotiated",
                        {"negotiated_suite": "AES_CM_128_HMAC_SHA1_80"},
                    ),
                ),
            ),
        ),
        trunk_findings=(
            Finding("failover.order", Status.PASS, "trunk", "calls land on x", {"lands_on": label}),
        ),
    )
    out = io.StringIO()
    render_console(report, out, color=False)
    head = " ".join(line.strip() for line in out.getvalue().splitlines()[1:4])
    assert head.startswith(f"calls land on {label} SRTP negotiated: AES_CM_128_HMAC_SHA1_80")


def test_combined_reports_keep_every_finding_in_order() -> None:
    from probe.report.model import combine_reports

    first, second = make_report(Status.PASS), make_report(Status.FAIL, Status.WARN)
    combined = combine_reports((first, second), command="check", notes=("scenario x",))
    assert combined.command == "check"
    assert [f.status for f in combined.findings] == [Status.PASS, Status.FAIL, Status.WARN]
    assert combined.verdict is Verdict.FAIL
    assert combined.notes[0] == "scenario x"


def test_json_is_streamed_one_target_and_one_finding_per_line() -> None:
    from probe.report.json import write_json

    report = make_report(Status.PASS, Status.WARN, Status.FAIL)
    sink = io.StringIO()
    write_json(report, sink)
    text = sink.getvalue()
    assert json.loads(text) == report.to_dict()
    finding_lines = [line for line in text.splitlines() if line.startswith('    {"check"')]
    assert len(finding_lines) == len(report.findings)
    assert all(json.loads(line.rstrip(",")) for line in finding_lines)
    assert any('"status": "fail"' in line for line in finding_lines)
    assert text.endswith("}\n")


def test_json_of_an_empty_report_is_valid() -> None:
    empty = Report(
        command="options", started_at="2026-11-27T00:00:00.000+00:00", duration_ms=0, results=()
    )
    data = json.loads(render_json(empty))
    assert data["targets"] == []
    assert data["findings"] == []


def test_json_finding_lines_equal_their_dicts_encoded_whole_shared_details_included() -> None:
    """Each finding's line is what encoding `to_dict()` gives, byte for byte, when the
    details are shared by several targets, are a read-only mapping, or hold text that
    needs escaping."""
    from types import MappingProxyType

    shared: dict[str, object] = {"chain": ["leaf é", 'root "CA"'], "days": 364, "ok": None}
    findings = [
        Finding(
            "tls.chain", Status.PASS, f"sbc-{n}.example.test (127.0.0.{n}:5061/tls)", "s", shared
        )
        for n in range(1, 4)
    ]
    findings.append(
        Finding(
            "sip.options",
            Status.FAIL,
            'sbc "quoted" \u2192 x',
            "no answer\n",
            MappingProxyType({"rtt_ms": 1.5}),
        )
    )
    findings.append(Finding("tls.chain", Status.WARN, findings[0].target, "t", {"n": [1, 2.25]}))
    report = Report(
        command="options",
        started_at="2026-11-27T00:00:00.000+00:00",
        duration_ms=1.0,
        results=(TargetResult(TARGET, tuple(findings)),),
    )
    text = render_json(report)
    lines = [
        line.strip().rstrip(",") for line in text.splitlines() if line.startswith('    {"check"')
    ]
    encoder = json.JSONEncoder(ensure_ascii=False)
    assert lines == [encoder.encode(finding.to_dict()) for finding in findings]


def test_a_combined_report_lasts_from_the_first_start_to_the_last_end() -> None:
    from probe.report.model import combine_reports

    def run(started_at: str, duration_ms: float) -> Report:
        return dataclasses.replace(
            make_report(Status.PASS), started_at=started_at, duration_ms=duration_ms
        )

    # A check's listener (60 s from 12:00:00) beside its failover run (2 s from 12:00:01):
    # the job took 60 s, not 62.
    beside = combine_reports(
        (run("2026-12-07T12:00:01.000+00:00", 2000), run("2026-12-07T12:00:00.000+00:00", 60000)),
        command="check",
    )
    assert beside.started_at == "2026-12-07T12:00:00.000+00:00"
    assert beside.duration_ms == pytest.approx(60000)
    # A failover run, judged, then the test call: the time between them counts too.
    after = combine_reports(
        (run("2026-12-07T12:00:00.000+00:00", 2000), run("2026-12-07T12:00:02.500+00:00", 4000)),
        command="check",
    )
    assert after.duration_ms == pytest.approx(6500)
