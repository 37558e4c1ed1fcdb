"""JUnit XML rendering, for CI systems that show test results: one test suite per target
(plus one for trunk-wide findings, and one per audited capture), one test case per finding.

A `fail` finding is a <failure>, an `error` an <error>, a `skip` is <skipped>; a `warn`
passes, with its summary in <system-out> so that it is still visible. Written with
xml.etree (the junit-xml package is unmaintained).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from probe.report.model import Report
from probe.verdict.findings import Finding, Status


def _case(suite: ElementTree.Element, finding: Finding) -> None:
    case = ElementTree.SubElement(
        suite, "testcase", {"classname": finding.check, "name": finding.target}
    )
    if finding.status is Status.FAIL:
        failure = ElementTree.SubElement(case, "failure", {"message": finding.summary})
        failure.text = json.dumps(dict(finding.details), indent=2, default=str)
    elif finding.status in (Status.ERROR, Status.INCOMPLETE):
        # JUnit's "error": the test could not be carried out, which is what work left
        # undone is; never a pass, and not an assertion that failed either.
        ElementTree.SubElement(case, "error", {"message": finding.summary})
    elif finding.status is Status.SKIP:
        ElementTree.SubElement(case, "skipped", {"message": finding.summary})
    out = ElementTree.SubElement(case, "system-out")
    out.text = f"{finding.status.value}: {finding.summary}"


def _suite(
    parent: ElementTree.Element,
    name: str,
    findings: tuple[Finding, ...],
    missing: tuple[str, ...] = (),
) -> None:
    # A required check that concluded nothing is a case of its own, in error: a CI
    # reading only the counts must not see a clean suite.
    findings = (
        *findings,
        *(Finding(check, Status.INCOMPLETE, name, "not verified") for check in missing),
    )
    counts = {status: sum(f.status is status for f in findings) for status in Status}
    suite = ElementTree.SubElement(
        parent,
        "testsuite",
        {
            "name": name,
            "tests": str(len(findings)),
            "failures": str(counts[Status.FAIL]),
            "errors": str(counts[Status.ERROR] + counts[Status.INCOMPLETE]),
            "skipped": str(counts[Status.SKIP]),
        },
    )
    for finding in findings:
        _case(suite, finding)


def render_junit(report: Report) -> str:
    findings = report.findings
    unverified = sum(len(result.missing) for result in report.results)
    unverified += sum(len(capture.missing) for capture in report.captures)
    root = ElementTree.Element(
        "testsuites",
        {
            "name": f"sipprobe {report.command}",
            "tests": str(len(findings) + unverified),
            "failures": str(sum(f.status is Status.FAIL for f in findings)),
            "errors": str(
                sum(f.status in (Status.ERROR, Status.INCOMPLETE) for f in findings) + unverified
            ),
            "time": f"{report.duration_ms / 1000:.3f}",
        },
    )
    if report.trunk_findings:
        _suite(root, "trunk", report.trunk_findings)
    for result in report.results:
        _suite(root, result.target.label, result.findings, result.missing)
    for capture in report.captures:
        _suite(root, capture.capture, capture.findings, capture.missing)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)
