"""The JSON report's schema (`sipprobe.report/1`), as pydantic models.

`docs/report-schema.json` is generated from these models (`python -m probe.report.schema`)
and a test keeps the two equal, so the published schema never drifts from what the tool
writes. Consumers may rely on every field here; `details` is per check and open-ended.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pass", "warn", "skip", "incomplete", "fail", "error"]
Verdict = Literal["pass", "warn", "incomplete", "fail"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FindingModel(_Strict):
    check: str = Field(description="Stable check id, e.g. tls.chain or sip.options.")
    status: Status
    target: str = Field(
        description="`name (address:port/transport)`, `address:port/transport`, `trunk`, "
        "or the capture file a `pcap.*` finding is about."
    )
    summary: str = Field(description="One sentence a person can act on.")
    details: dict[str, Any] = Field(description="The evidence behind the finding.")


class TargetModel(_Strict):
    target: str
    uri: str
    host: str
    address: str | None
    port: int
    transport: Literal["tls", "tcp", "udp", "ws", "wss"]
    sni: str | None
    verdict: Verdict = Field(
        description="pass: every required check ran and passed; warn: they ran, some "
        "warn; fail: something failed; incomplete: nothing failed but required work was "
        "not done (docs/verdicts.md)."
    )
    required: list[str] = Field(description="The checks this target had to conclude.")
    missing: list[str] = Field(
        description="Required checks with no pass, warn or fail finding: not verified."
    )


class CaptureModel(_Strict):
    capture: str = Field(description="The capture file audited (`sipprobe pcap`), as named.")
    verdict: Verdict
    required: list[str] = Field(description="The checks this capture had to conclude.")
    missing: list[str] = Field(
        description="Required checks with no pass, warn or fail finding: not verified."
    )
    facts: dict[str, Any] = Field(
        description="What was read: format, records, time span, how reading ended."
    )


class ToolModel(_Strict):
    name: Literal["sipprobe"]
    version: str


class ReportModel(_Strict):
    schema_: Literal["sipprobe.report/1"] = Field(alias="schema")
    tool: ToolModel
    command: str
    started_at: str = Field(description="ISO 8601 UTC.")
    duration_ms: float
    verdict: Verdict = Field(
        description="The run's verdict over every target and the trunk: fail if anything "
        "failed; else incomplete if any work asked for was not done (or the run was "
        "interrupted); else warn; else pass (docs/verdicts.md)."
    )
    counts: dict[Status, int]
    notes: list[str]
    interrupted_by: str | None = Field(
        default=None,
        description="Present when a signal stopped the run (SIGINT, SIGTERM or SIGHUP): "
        "the report is partial, every call in progress was ended, and the exit code is "
        "128 + the signal's number (docs/exit-codes.md).",
    )
    targets: list[TargetModel]
    captures: list[CaptureModel] | None = Field(
        default=None, description="Present for a capture audit (`sipprobe pcap`)."
    )
    findings: list[FindingModel]


def json_schema() -> dict[str, Any]:
    schema = ReportModel.model_json_schema(by_alias=True)
    schema["$id"] = "https://sipprobe.invalid/report-schema/1"
    schema["title"] = "sipprobe.report/1"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
