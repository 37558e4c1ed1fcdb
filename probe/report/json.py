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

from probe.report.model import Report
from probe.verdict.findings import Finding, JsonValue

_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""One encoder for every line (`json.dumps` with options builds a new one per call)."""
_DETAILS_KEPT = 512
"""Encoded details remembered by identity while one report is written."""


_text = json.encoder.encode_basestring
"""A string as JSON, as `_ENCODER.encode` gives it, without the encoder's dispatch."""


def _line(value: JsonValue) -> str:
    return _ENCODER.encode(value)


class _FindingLines:
    """Encodes findings, one line each, as `_line(finding.to_dict())` would, in two
    pieces: up to the details, and the details with the closing brace.

    A sweep's certificate findings share one details object among every target behind
    the same chain (probe.verdict.checks.certificate), and those are the longest details of a
    report: each is encoded once and its text reused. The objects are held while their
    text is, so an identity cannot be reused for other details meanwhile. Kept apart
    from a summary that is not ASCII ("a → b"), long ASCII details reach the file
    without being encoded again.
    """

    def __init__(self) -> None:
        self._details: dict[int, tuple[object, str]] = {}
        self._target: tuple[str, str] = ("", '""')

    def __call__(self, finding: Finding) -> tuple[str, str]:
        details = finding.details
        kept = self._details.get(id(details))
        if kept is not None and kept[0] is details:
            details_text = kept[1]
        else:
            details_text = _line(details if isinstance(details, dict) else dict(details)) + "}"
            if len(self._details) >= _DETAILS_KEPT:
                self._details.clear()
            self._details[id(details)] = (details, details_text)
        if self._target[0] is not finding.target:
            self._target = (finding.target, _text(finding.target))
        head = (
            f'{{"check": {_text(finding.check)}, "status": {_text(finding.status.value)}, '
            f'"target": {self._target[1]}, "summary": {_text(finding.summary)}, "details": '
        )
        return head, details_text


def _write_list(sink: TextIO, key: str, lines: Iterable[tuple[str, ...]], last: bool) -> None:
    """A list of `key`, one item a line, each line given in pieces."""
    sink.write(f"  {_line(key)}: [")
    separator = "\n    "
    for pieces in lines:
        sink.write(separator)
        for piece in pieces:
            sink.write(piece)
        separator = ",\n    "
    sink.write("]" if separator == "\n    " else "\n  ]")
    sink.write("\n" if last else ",\n")


def write_json(report: Report, sink: TextIO) -> None:
    """Write the report to `sink`, ending with a newline."""
    head = report.to_dict(include_lists=False)
    sink.write("{\n")
    for key, value in head.items():
        sink.write(f"  {_line(key)}: {_line(value)},\n")
    targets = ((_line(result.to_dict()),) for result in report.results)
    _write_list(sink, "targets", targets, last=False)
    if report.captures:
        captures = ((_line(capture.to_dict()),) for capture in report.captures)
        _write_list(sink, "captures", captures, last=False)
    _write_list(sink, "findings", map(_FindingLines(), report.findings), last=True)
    sink.write("}\n")


def render_json(report: Report) -> str:
    buffer = io.StringIO()
    write_json(report, buffer)
    return buffer.getvalue().removesuffix("\n")
