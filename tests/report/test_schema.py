"""The published JSON Schema matches the models, and real reports validate against them."""

from __future__ import annotations

import json
from pathlib import Path

from probe.report.json import render_json
from probe.report.schema import ReportModel, json_schema
from probe.run.demo import run_demo
from probe.verdict.findings import Status
from tests.report.test_report import make_report

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"
GOLDEN = Path(__file__).parent / "golden" / "report.json"


def test_published_schema_is_current() -> None:
    assert json.loads(DOCS.read_text()) == json_schema(), (
        "docs/report-schema.json is stale: python -m probe.report.schema > docs/report-schema.json"
    )


def test_a_real_report_validates() -> None:
    ReportModel.model_validate(json.loads(render_json(run_demo())))


def test_golden_json() -> None:
    report = make_report(Status.PASS, Status.WARN, Status.FAIL)
    data = json.loads(render_json(report))
    ReportModel.model_validate(data)
    assert data == json.loads(GOLDEN.read_text())
