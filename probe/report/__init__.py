"""Report model and renderers (console, JSON)."""

from probe.report.model import SCHEMA, Report, TargetResult, exit_code

__all__ = ["SCHEMA", "Report", "TargetResult", "exit_code"]
