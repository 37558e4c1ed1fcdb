"""JSON rendering: one object, schema `sipprobe.report/1`.

The report is written as it is encoded, one target and one finding per line: a sweep of
thousands of targets never holds its whole JSON text (or a dict tree of it) in memory,
each line is encoded by the C encoder, and `grep '"status": "fail"'` finds every failing
check with its target on the same line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import TextIO

from probe.findings import Finding, JsonValue
from probe.report.model import Report

_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""One encoder for every line (`json.dumps` with options builds a new one per call)."""


def _line(value: JsonValue) -> str:
    return _ENCODER.encode(value)


def _finding_line(finding: Finding) -> JsonValue:
    """`finding.to_dict()` without copying its details: the line is encoded at once."""
    details = finding.details
    return {
        "check": finding.check,
        "status": finding.status.value,
        "target": finding.target,
        "summary": finding.summary,
        "details": details if isinstance(details, dict) else dict(details),
    }


def _write_list(sink: TextIO, key: str, items: Iterable[JsonValue], last: bool) -> None:
    sink.write(f"  {_line(key)}: [")
    first = True
    for item in items:
        sink.write("\n    " if first else ",\n    ")
        sink.write(_line(item))
        first = False
    sink.write("]" if first else "\n  ]")
    sink.write("\n" if last else ",\n")


def write_json(report: Report, sink: TextIO) -> None:
    """Write the report to `sink`, ending with a newline."""
    head = report.to_dict(include_lists=False)
    sink.write("{\n")
    for key, value in head.items():
        sink.write(f"  {_line(key)}: {_line(value)},\n")
    _write_list(sink, "targets", (result.to_dict() for result in report.results), last=False)
    _write_list(sink, "findings", map(_finding_line, report.findings), last=True)
    sink.write("}\n")


def render_json(report: Report) -> str:
    buffer = io.StringIO()
    write_json(report, buffer)
    return buffer.getvalue().removesuffix("\n")
