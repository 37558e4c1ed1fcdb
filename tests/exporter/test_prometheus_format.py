"""`--format prometheus` on options, failover, invite, check and judge, run as the command
against the embedded responder on loopback; every exposition passes `promtool check
metrics` (Debian's prometheus package), and the file is what node_exporter's textfile
collector can read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles, write_lab
from tests.conftest import LAB_NAME
from tests.exporter.expositions import one, parsed, promtool_finds_no_problem
from tests.lab_responders import serving

SIPPROBE = [sys.executable, "-m", "probe"]


def sipprobe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, *args], capture_output=True, text=True, timeout=60, check=False
    )


NAMES = (LAB_NAME, "sip2.example.test")
ADDRESSES = ("127.0.0.1", "127.0.0.2")
"""Two endpoints on two machines, for the failover judgement: two names on two loopback
addresses (all of 127/8 is loopback on Linux)."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    """A lab PKI whose server certificate carries both NAMES."""
    return write_lab(tmp_path_factory.mktemp("metrics-lab"), server_names=NAMES)


@pytest.fixture(scope="module")
def ports(lab: LabFiles) -> Iterator[list[int]]:
    """An embedded responder on each of ADDRESSES, presenting the lab chain."""
    configs = [
        ResponderConfig(host=address, cert_file=lab.server, key_file=lab.server_key)
        for address in ADDRESSES
    ]
    with serving(configs) as listening:
        yield listening


def target(port: int, number: int = 0) -> str:
    """The URI of the responder listening on `port`, by NAMES[number]."""
    return f"sip:{NAMES[number]}:{port};transport=tls"


def lab_args(lab: LabFiles, *ports: int) -> list[str]:
    """NAMES[n] pinned to ADDRESSES[n], on ports[n] (where responder n listens)."""
    pins = [
        arg
        for port, name, address in zip(ports, NAMES, ADDRESSES, strict=False)
        for arg in ("--resolve", f"{name}:{port}:{address}")
    ]
    return [*pins, "--ca", str(lab.ca), "--timeout", "3"]


def test_options_writes_every_target_to_one_file_atomically(
    lab: LabFiles, ports: list[int], closed_port: int, tmp_path: Path
) -> None:
    metrics = tmp_path / "sipprobe.prom"
    metrics.write_text("old content\n")
    down = f"sip:127.0.0.1:{closed_port};transport=tcp"
    result = sipprobe(
        "options",
        target(ports[0]),
        down,
        *lab_args(lab, ports[0]),
        "--format",
        "json",
        "--output",
        f"prometheus={metrics}",
    )
    assert result.returncode == 1, result.stderr  # the closed port fails the run
    assert json.loads(result.stdout)["verdict"] == "fail"  # the other format is unchanged
    text = metrics.read_text()
    promtool_finds_no_problem(text)
    # Replaced whole, readable by node_exporter's own user, no temporary file left.
    assert "old content" not in text
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["sipprobe.prom"]
    series = parsed(text)
    assert one(series, "probe_success", target=target(ports[0])) == 1
    assert one(series, "probe_success", target=down) == 0
    assert one(series, "sipprobe_sip_status_code", target=target(ports[0])) == 200
    assert one(series, "sipprobe_check_status", target=down, check="net.connect", status="fail")
    assert one(series, "probe_tls_version_info", target=target(ports[0])) == 1
    assert one(series, "sipprobe_tls_handshake_seconds", target=target(ports[0])) > 0
    assert all(("target", target(ports[0])) in ls or ("target", down) in ls for _, ls in series)


def test_failover_to_standard_output(lab: LabFiles, ports: list[int]) -> None:
    result = sipprobe(
        "failover",
        target(ports[0]),
        target(ports[1], 1),
        *lab_args(lab, *ports),
        "--format",
        "prometheus",
    )
    assert result.returncode == 0, result.stderr
    promtool_finds_no_problem(result.stdout)
    series = parsed(result.stdout)
    assert one(series, "sipprobe_failover_landing_position") == 1
    assert one(series, "sipprobe_failover_working_endpoints") == 2
    assert one(series, "sipprobe_failover_redundant") == 1
    for position, port in enumerate(ports, start=1):
        labels = {"endpoint": target(port, position - 1), "position": str(position)}
        assert one(series, "sipprobe_sip_status_code", **labels) == 200


def test_two_endpoints_on_one_machine_are_no_failover_path(lab: LabFiles, ports: list[int]) -> None:
    # Both endpoints pinned to the first responder: two names, one machine.
    pinned = ["--resolve", f"{LAB_NAME}:{ports[0]}:127.0.0.1"]
    other = f"sip:sip2.example.test:{ports[0]};transport=tls"
    result = sipprobe(
        "failover",
        target(ports[0]),
        other,
        *pinned,
        "--resolve",
        f"sip2.example.test:{ports[0]}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--format",
        "prometheus",
    )
    assert result.returncode == 1, result.stderr
    promtool_finds_no_problem(result.stdout)
    series = parsed(result.stdout)
    assert one(series, "sipprobe_check_status", check="failover.redundancy", status="fail") == 1
    assert one(series, "sipprobe_failover_redundant") == 0
    assert one(series, "sipprobe_failover_landing_position") == 1


def test_invite_has_the_calls_srtp(lab: LabFiles, ports: list[int], tmp_path: Path) -> None:
    metrics = tmp_path / "call.prom"
    result = sipprobe(
        "invite",
        target(ports[0]),
        "--to",
        f"sip:+15550100@{LAB_NAME}",
        *lab_args(lab, ports[0]),
        "--output",
        f"prometheus={metrics}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PASS")  # --output adds its format to the console
    text = metrics.read_text()
    promtool_finds_no_problem(text)
    series = parsed(text)
    assert one(series, "sipprobe_srtp_negotiated") == 1
    assert one(series, "sipprobe_srtp_suite_info") == 1
    assert one(series, "sipprobe_dialogs_left_open") == 0
    assert one(series, "sipprobe_sip_status_code") == 200
    assert one(series, "sipprobe_check_status", check="sdp.srtp", status="pass") == 1


SCENARIO = """
[trunk]
name = "metrics-lab"
provider = "generic"

[order]
mode = "priority"

[[endpoint]]
uri = "{a}"
region = "lab-a"
priority = 10

[[endpoint]]
uri = "{b}"
region = "lab-b"
priority = 20

[tls]
trust = "{ca}"

[invite]
to = "sip:+15550100@{name}"
via = "lab-a"

[failover]
primary = "lab-a"

[run]
timeout = 3.0
resolve = ["{name}:{pa}:127.0.0.1", "sip2.example.test:{pb}:127.0.0.2"]
"""


def test_check_has_the_failover_and_the_call(
    lab: LabFiles, ports: list[int], tmp_path: Path
) -> None:
    scenario = tmp_path / "lab.toml"
    scenario.write_text(
        SCENARIO.format(
            a=target(ports[0]),
            b=target(ports[1], 1),
            ca=lab.ca,
            name=LAB_NAME,
            pa=ports[0],
            pb=ports[1],
        )
    )
    report = tmp_path / "report.json"
    result = sipprobe(
        "check", str(scenario), "--format", "prometheus", "--output", f"json={report}"
    )
    assert result.returncode == 0, result.stderr
    promtool_finds_no_problem(result.stdout)
    series = parsed(result.stdout)
    # One endpoint list, named by its first endpoint in every series.
    assert {dict(ls)["target"] for _, ls in series} == {target(ports[0])}
    assert one(series, "sipprobe_failover_landing_position") == 1
    assert one(series, "sipprobe_srtp_negotiated") == 1
    assert one(series, "sipprobe_dialogs_left_open") == 0
    # The verdict of the report (a warning: both endpoints present one key), and each
    # finding's status, scenario rules and trunk findings included.
    document = json.loads(report.read_text())
    assert one(series, "sipprobe_verdict", verdict=document["verdict"]) == 1
    assert one(series, "probe_success") == 1
    trunk = [f for f in document["findings"] if f["target"] == "trunk"]
    checks = [f["check"] for f in trunk]
    assert "failover.redundancy" in checks
    for finding in trunk:
        if checks.count(finding["check"]) == 1:
            status = {"check": finding["check"], "status": finding["status"]}
            assert one(series, "sipprobe_check_status", **status) == 1


def test_judge_gives_the_metrics_of_the_run_it_judges(
    lab: LabFiles, ports: list[int], tmp_path: Path
) -> None:
    evidence = tmp_path / "run.json"
    first = sipprobe(
        "options",
        target(ports[0]),
        *lab_args(lab, ports[0]),
        "--format",
        "prometheus",
        "--evidence-out",
        str(evidence),
    )
    assert first.returncode == 0, first.stderr
    judged = sipprobe("judge", str(evidence), "--format", "prometheus")
    assert judged.returncode == 0, judged.stderr
    promtool_finds_no_problem(judged.stdout)
    before, after = parsed(first.stdout), parsed(judged.stdout)
    # The same evidence: the same figures, the same verdict.
    assert before == after
    # Judged again as if a year had passed: the certificates are as they were, the
    # verdict is not.
    later = sipprobe(
        "judge", str(evidence), "--format", "prometheus", "--now", "2060-01-01T00:00:00Z"
    )
    assert later.returncode == 1, later.stderr
    series = parsed(later.stdout)
    assert one(series, "probe_success") == 0
    assert one(series, "sipprobe_check_status", check="tls.validity", status="fail") == 1
    assert one(series, "probe_ssl_earliest_cert_expiry") == one(
        before, "probe_ssl_earliest_cert_expiry"
    )


def test_demo_refuses_the_prometheus_format() -> None:
    result = sipprobe("demo", "--format", "prometheus")
    assert result.returncode == 2
    assert "prometheus" in result.stderr
    assert result.stdout == ""


def prometheus_client_loaded(closed_port: int, output_format: str) -> bool:
    """Whether an options run printing `output_format` imported prometheus_client."""
    script = (
        "import sys\n"
        "from probe.cli.commands import main\n"
        "try:\n"
        f"    main(['options', 'sip:127.0.0.1:{closed_port};transport=tcp',"
        f" '--format', '{output_format}', '--timeout', '1'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('prometheus_client' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stderr.strip().splitlines()[-1] == "True"


def test_only_the_prometheus_format_loads_prometheus_client(closed_port: int) -> None:
    assert not prometheus_client_loaded(closed_port, "json")
    assert prometheus_client_loaded(closed_port, "prometheus")
