"""The operations kit in docs/prometheus/ holds up: Prometheus's own tool accepts the scrape
config and the rules, the rules' unit tests pass and would notice an alert that fires too
early, too late or never, every metric name the files use is one the exporter exposes, and
the README's modules, alerts and snippets match the code and the rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from probe.cli.commands import cli
from tests.peers.common import require_binary
from tests.prometheus.kit import (
    CONTRACT,
    KIT,
    README,
    RULES,
    RULES_TEST,
    SCRAPE_CONFIG,
    alert_names,
    contract_names,
    is_known,
    load,
    record_names,
    rules,
    selected_names,
)

PROMTOOL_DEADLINE = 60.0


def promtool(*args: str, cwd: Path = KIT) -> subprocess.CompletedProcess[str]:
    """promtool's run, its error output in order with the rest (in `stdout`)."""
    return subprocess.run(
        [require_binary("promtool"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=PROMTOOL_DEADLINE,
        check=False,
    )


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"promtool said:\n{result.stdout}"


# promtool ---------------------------------------------------------------------------


def test_promtool_accepts_the_scrape_config_and_the_rules_it_loads() -> None:
    result = promtool("check", "config", SCRAPE_CONFIG.name)
    assert_succeeded(result)
    # The config names rules.yml, and promtool checked that file through it.
    assert "rules.yml" in result.stdout
    assert f"SUCCESS: {len(rules(load(RULES)))} rules found" in result.stdout


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert_succeeded(result)
    assert f"SUCCESS: {len(rules(load(RULES)))} rules found" in result.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", RULES_TEST.name)
    assert_succeeded(result)
    assert "SUCCESS" in result.stdout


def test_promtool_refuses_a_rule_with_a_broken_expression(tmp_path: Path) -> None:
    """The check above can fail: the same rules with one expression broken are refused."""
    document = load(RULES)
    rules(document)[-1]["expr"] = "sum without (vantage) (probe_success"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(document))
    result = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert result.returncode != 0


# Every rule has unit tests that would notice it misfiring -----------------------------


def unit_tests() -> list[dict[str, Any]]:
    return list(load(RULES_TEST)["tests"])


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in unit_tests():
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(alert_names())
    assert alerts, "rules.yml defines no alert"
    assert alerts - firing == set(), "alerts no unit test sees firing"
    assert alerts - quiet == set(), "alerts no unit test sees staying quiet"
    assert (firing | quiet) - alerts == set(), "unit tests of alerts rules.yml does not define"


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = {
        name
        for case in unit_tests()
        for check in case.get("promql_expr_test", [])
        for name in selected_names(check["expr"])
    }
    records = set(record_names())
    assert records, "rules.yml defines no recording rule"
    assert records - tested == set()


def mutations() -> list[tuple[str, Any]]:
    """(what was changed, the rules document with that change) for each rule: an alert
    that fires one evaluation sooner than its `for`, one that fires one evaluation later,
    and a recording rule that records something else."""
    changed: list[tuple[str, Any]] = []
    for index, rule in enumerate(rules(load(RULES))):
        if "alert" in rule:
            minutes = duration_minutes(rule.get("for", "0m"))
            for label, later in (("sooner", minutes - 1), ("later", minutes + 1)):
                document = load(RULES)
                rules(document)[index]["for"] = f"{max(later, 0)}m"
                changed.append((f"{rule['alert']} firing {label}", document))
        else:
            document = load(RULES)
            rules(document)[index]["expr"] = "vector(-1)"
            changed.append((f"{rule['record']} recording something else", document))
    return changed


def duration_minutes(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([mh])", duration)
    assert match, f"a `for` this test cannot shift by one evaluation: {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "h" else 1)


def test_the_unit_tests_notice_every_rule_misfiring(tmp_path: Path) -> None:
    """Each rule changed in turn (its `for` a minute shorter, a minute longer, a recording
    rule's expression replaced) makes the unit tests fail: they pin each alert to the
    evaluation its `for` allows, and no rule passes untested. One promtool run takes every
    mutant (a test file each, naming its own rules file)."""
    assert load(RULES_TEST)["evaluation_interval"] == "1m"
    names: dict[str, str] = {}
    for number, (what, document) in enumerate(mutations()):
        rules_file = f"mutant{number}.rules.yml"
        (tmp_path / rules_file).write_text(yaml.safe_dump(document))
        tests = load(RULES_TEST)
        tests["rule_files"] = [rules_file]
        (tmp_path / f"mutant{number}.test.yml").write_text(yaml.safe_dump(tests))
        names[f"mutant{number}.test.yml"] = what
    result = promtool("test", "rules", *names, cwd=tmp_path)
    outcomes = dict(re.findall(r"Unit Testing:\s+(\S+)\n\s+(SUCCESS|FAILED)", result.stdout))
    assert set(outcomes) == set(names), f"promtool said:\n{result.stdout}"
    unnoticed = [names[file] for file, outcome in outcomes.items() if outcome == "SUCCESS"]
    assert unnoticed == []


# Metric names -------------------------------------------------------------------------


def test_the_contract_names_are_read_from_metrics_md_when_it_is_there() -> None:
    names = contract_names()
    # Whichever source, the names the rules are built on are in it.
    assert {"probe_success", "sipprobe_check_status", "sipprobe_srtp_negotiated"} <= names
    assert all(re.fullmatch(r"(probe|sipprobe)_[a-z0-9_]+", name) for name in names)


def test_metrics_md_is_read_by_the_first_cell_of_its_tables(tmp_path: Path) -> None:
    doc = tmp_path / "metrics.md"
    doc.write_text(
        "# Metrics\n\n`probe_success` is the headline.\n\n"
        "| metric | labels | value |\n|---|---|---|\n"
        "| `probe_success` | — | 1 or 0 |\n"
        "| `sipprobe_check_status` | `check`, `status` (see `sipprobe_verdict`) | 1 |\n"
    )
    assert contract_names(doc) == {"probe_success", "sipprobe_check_status"}
    doc.write_text("# Metrics\n\nNo table.\n")
    with pytest.raises(AssertionError, match="lists no metric name"):
        contract_names(doc)
    assert contract_names(tmp_path / "absent.md") == CONTRACT


def expressions() -> list[tuple[str, str]]:
    found = [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules(load(RULES))]
    found += [
        (f"unit test {case['name']}", check["expr"])
        for case in unit_tests()
        for check in case.get("promql_expr_test", [])
    ]
    return found


def test_every_metric_a_rule_selects_is_in_the_contract() -> None:
    contract = contract_names()
    records = set(record_names())
    selected = {
        (where, name)
        for where, expr in expressions()
        for name in selected_names(expr)
        if name not in records
    }
    # The reader of names is not vacuous: it sees what the alerts are built on.
    assert {name for _, name in selected} >= {
        "probe_success",
        "probe_ssl_earliest_cert_expiry",
        "sipprobe_failover_landing_position",
        "sipprobe_exporter_config_last_reload_successful",
        "up",
    }
    unknown = sorted((where, name) for where, name in selected if not is_known(name, contract))
    assert unknown == []


@pytest.mark.parametrize(
    "path", [RULES, SCRAPE_CONFIG, RULES_TEST, README], ids=lambda path: path.name
)
def test_every_metric_name_written_in_the_kit_is_in_the_contract(path: Path) -> None:
    """Annotations, comments and input series included: an engineer told to look at a
    series that does not exist loses the night."""
    contract = contract_names()
    text = path.read_text()
    written = set(re.findall(r"\b(?:sipprobe|probe)_[a-z0-9_]+", text))
    unknown = sorted(name for name in written if not is_known(name, contract))
    assert unknown == []


def test_the_unit_tests_feed_the_rules_only_series_the_exporter_has() -> None:
    contract = contract_names()
    series = [
        series["series"].split("{", 1)[0]
        for case in unit_tests()
        for series in case.get("input_series", [])
    ]
    assert series
    assert sorted(name for name in set(series) if not is_known(name, contract)) == []


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('max without (vantage) (probe_success{job="a"}) == 0', {"probe_success"}),
        (
            "probe_success == 0 unless ignoring (vantage) (max by (job) (probe_succes) == 0)",
            {"probe_success", "probe_succes"},
        ),
        (
            "increase(sipprobe_exporter_probes_total{result='error'}[10m]) > 0",
            {"sipprobe_exporter_probes_total"},
        ),
        (
            "min(probe_ssl_earliest_cert_expiry offset 5m) - time() < 30 * 86400",
            {"probe_ssl_earliest_cert_expiry"},
        ),
        (
            'up{job=~"sipprobe-.*"} == bool 0 and on (instance) sipprobe_verdict',
            {
                "up",
                "sipprobe_verdict",
            },
        ),
    ],
)
def test_the_name_reader_finds_what_an_expression_selects(expr: str, expected: set[str]) -> None:
    assert selected_names(expr) == expected


def test_a_name_outside_the_contract_is_caught() -> None:
    assert not is_known("sipprobe_ip_protocol", CONTRACT)
    assert not is_known("probe_succes", CONTRACT)
    assert is_known("sipprobe_exporter_probe_duration_seconds_bucket", CONTRACT)
    assert is_known("up", CONTRACT)


# The README ---------------------------------------------------------------------------


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


# Options that shape a command's output or its target list, which a scrape replaces.
NOT_MODULE_SETTINGS = frozenset(
    {"format", "output", "nagios", "verbose", "no_color", "live", "evidence_out", "targets"}
)


# The exporter's own keys: which probe, the consent and pace of an invite module's calls,
# and whether an options module keeps its connections between scrapes.
EXPORTER_KEYS = frozenset(
    {"kind", "allow_calls", "min_call_interval", "reuse", "full_check_interval"}
)


def long_options(kind: str) -> set[str]:
    command = cli.commands[kind]
    return {
        option[2:].replace("-", "_")
        for param in command.params
        if isinstance(param, click.Option)
        for option in param.opts
        if option.startswith("--")
    }


def test_the_example_modules_use_only_the_commands_options() -> None:
    (example,) = [block for block in fenced("toml") if "[modules." in block]
    modules = tomllib.loads(example)["modules"]
    assert {module["kind"] for module in modules.values()} == {"options", "failover", "invite"}
    for name, module in modules.items():
        settings = set(module) - EXPORTER_KEYS
        allowed = long_options(module["kind"]) - NOT_MODULE_SETTINGS
        assert settings - allowed == set(), f"module {name}"
        # Every scrape of an invite module places a call: it must say so.
        assert module.get("allow_calls") is (True if module["kind"] == "invite" else None)


def test_the_long_option_reader_sees_the_commands() -> None:
    assert {"resolve", "warn_days", "min_tls", "ca"} <= long_options("options")
    assert {"to", "suite", "auth_file"} <= long_options("invite")
    assert "to" not in long_options("options")


def test_the_readme_lists_every_alert_and_only_those() -> None:
    listed = re.findall(r"^\| `(\w+)` \| (critical|warning) \|", README.read_text(), re.M)
    severities = {
        rule["alert"]: rule["labels"]["severity"] for rule in rules(load(RULES)) if "alert" in rule
    }
    assert dict(listed) == severities
    assert len(listed) == len(severities)


def test_the_readme_scrape_jobs_are_valid_scrape_configs(tmp_path: Path) -> None:
    """The federation job and the node job of the textfile section, as promtool sees them."""
    jobs = [block for block in fenced("yaml") if block.lstrip().startswith("- job_name:")]
    assert {job["job_name"] for block in jobs for job in yaml.safe_load(block)} == {
        "federate-sipprobe",
        "node",
    }
    config = {"scrape_configs": [job for block in jobs for job in yaml.safe_load(block)]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert_succeeded(promtool("check", "config", "prometheus.yml", cwd=tmp_path))


def test_the_readme_vantage_rule_is_the_one_in_rules_yml() -> None:
    (shown,) = [block for block in fenced("promql") if "vantage" in block]
    (rule,) = [r for r in rules(load(RULES)) if r.get("alert") == "SipEndpointDownFromOneVantage"]
    assert " ".join(shown.split()) == " ".join(rule["expr"].split())


def test_the_kit_is_self_contained(tmp_path: Path) -> None:
    """The scrape config refers to no file but rules.yml, which sits beside it: copied
    together anywhere, promtool accepts them."""
    for path in (SCRAPE_CONFIG, RULES):
        shutil.copy(path, tmp_path / path.name)
    assert_succeeded(promtool("check", "config", SCRAPE_CONFIG.name, cwd=tmp_path))
    (tmp_path / RULES.name).unlink()
    assert promtool("check", "config", SCRAPE_CONFIG.name, cwd=tmp_path).returncode != 0
