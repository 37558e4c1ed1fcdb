"""The operations kit's files, the metric contract they must keep to, and a reader of the
metric names a PromQL expression selects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

KIT = Path(__file__).resolve().parents[2] / "docs" / "prometheus"
RULES = KIT / "rules.yml"
RULES_TEST = KIT / "rules.test.yml"
SCRAPE_CONFIG = KIT / "prometheus.yml"
README = KIT / "README.md"
METRICS_DOC = KIT / "metrics.md"

# The metric contract of issue 16, name for name, for as long as docs/prometheus/metrics.md
# (which lists the same names for users) is not in the tree; once it is, the names are
# read from it instead (contract_names).
CONTRACT = frozenset(
    {
        # blackbox_exporter's names, same meaning
        "probe_success",
        "probe_duration_seconds",
        "probe_dns_lookup_time_seconds",
        "probe_ssl_earliest_cert_expiry",
        "probe_tls_version_info",
        "probe_ip_protocol",
        # sipprobe's own, one probe's exposition
        "sipprobe_verdict",
        "sipprobe_check_status",
        "sipprobe_options_rtt_seconds",
        "sipprobe_sip_status_code",
        "sipprobe_tls_handshake_seconds",
        "sipprobe_certificate_not_after_timestamp_seconds",
        "sipprobe_failover_landing_position",
        "sipprobe_failover_working_endpoints",
        "sipprobe_failover_redundant",
        "sipprobe_srtp_negotiated",
        "sipprobe_srtp_suite_info",
        "sipprobe_dialogs_left_open",
        # the exporter's own /metrics
        "sipprobe_exporter_probes_total",
        "sipprobe_exporter_probes_in_flight",
        "sipprobe_exporter_probe_duration_seconds",
        "sipprobe_exporter_config_reloads_total",
        "sipprobe_exporter_config_last_reload_successful",
        "sipprobe_exporter_config_last_reload_success_timestamp_seconds",
    }
)

# Series Prometheus writes itself for every scrape target.
PROMETHEUS_OWN = frozenset({"up"})

# What a histogram or counter family exposes besides its own name (prometheus_client adds
# `_created`).
FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_created")

NAME_IN_TEXT = re.compile(r"\b(?:sipprobe|probe)_[a-z0-9_]+")
"""A word that reads as one of the exporter's metric names, wherever it is written."""


def contract_names(doc: Path = METRICS_DOC) -> frozenset[str]:
    """The contract's metric names: from metrics.md when it is there (each table row's
    first cell), else CONTRACT."""
    if not doc.exists():
        return CONTRACT
    names = frozenset(
        name
        for line in doc.read_text().splitlines()
        if line.lstrip().startswith("|")
        for name in re.findall(r"`((?:sipprobe|probe)_[a-z0-9_]+)`", line.split("|")[1])
    )
    if not names:
        raise AssertionError(f"{doc} lists no metric name in the first column of a table")
    return names


def is_known(name: str, contract: frozenset[str]) -> bool:
    """A contract name, a member of a contract family, or one of Prometheus's own."""
    if name in contract or name in PROMETHEUS_OWN:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in contract for s in FAMILY_SUFFIXES)


_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "by", "without"}
    | {"on", "ignoring", "group_left", "group_right"}
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_BRACES = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_TOKENS = re.compile(
    r"(?P<number>\d[\d.]*(?:e[+-]?\d+)?[smhdwy]*)|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<call>\s*\()?"
)


def selected_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are neither a function, an
    aggregation, a keyword, a label name (in matchers or grouping lists) nor a number."""
    text = _STRINGS.sub(" ", expr)
    text = _BRACES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names: set[str] = set()
    for match in _TOKENS.finditer(text):
        name = match.group("name")
        if name is None or match.group("call") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules(document: Any) -> list[dict[str, Any]]:
    return [rule for group in document["groups"] for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules(load(RULES)) if "alert" in rule]


def record_names() -> list[str]:
    return [rule["record"] for rule in rules(load(RULES)) if "record" in rule]
