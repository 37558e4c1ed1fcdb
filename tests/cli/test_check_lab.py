"""`sipprobe check builtin:teams-direct-routing` pointed at a lab with the command line's
options: three embedded responders stand in for sip, sip2 and sip3.pstnhub.microsoft.com
on port 5061 (as the built-in names them), each on a loopback address of its own, with a
lab PKI whose server certificate carries the three names. Nothing leaves loopback."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles, write_lab
from tests.lab_responders import serving

SIPPROBE = [sys.executable, "-m", "probe"]
TEAMS = ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com", "sip3.pstnhub.microsoft.com")


@pytest.fixture(scope="module")
def teams_lab(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    return write_lab(tmp_path_factory.mktemp("teams-lab"), server_names=TEAMS)


@pytest.fixture(scope="module")
def teams_proxies(teams_lab: LabFiles) -> Iterator[list[str]]:
    """The three proxies listening on 5061, one loopback address each (127.0.0.0/8 is all
    loopback on Linux; a random /24 keeps clear of other tests using 5061)."""
    last: Exception | None = None
    for _attempt in range(5):
        prefix = f"127.{random.randint(16, 250)}.{random.randint(1, 250)}"
        addresses = [f"{prefix}.{n}" for n in (1, 2, 3)]
        configs = [
            ResponderConfig(
                host=address, port=5061, cert_file=teams_lab.server, key_file=teams_lab.server_key
            )
            for address in addresses
        ]
        try:
            with serving(configs):
                yield addresses
                return
        except RuntimeError as exc:  # 5061 taken on that address: try another
            last = exc
    pytest.fail(f"no loopback addresses free on 5061: {last}")


def pins(addresses: list[str]) -> list[str]:
    return [
        arg
        for name, a in zip(TEAMS, addresses, strict=True)
        for arg in ("--resolve", f"{name}:5061:{a}")
    ]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIPPROBE, *args], capture_output=True, text=True, timeout=60, check=False
    )


def statuses(report: dict[str, Any], check: str) -> list[str]:
    return [f["status"] for f in report["findings"] if f["check"] == check]


def sbc(lab: LabFiles) -> list[str]:
    """An SBC as Teams wants it: a Contact FQDN (Teams answers 403 to an IP address),
    named by the client certificate it offers."""
    return [
        "--contact",
        "sip:sipprobe-client:5061;transport=tls",
        "--cert",
        str(lab.client),
        "--key",
        str(lab.client_key),
    ]


def test_a_builtin_scenario_pointed_at_a_lab(
    teams_lab: LabFiles, teams_proxies: list[str], tmp_path: Path
) -> None:
    evidence = tmp_path / "teams.json"
    args = ["check", "builtin:teams-direct-routing", *pins(teams_proxies), *sbc(teams_lab)]
    result = run(
        *args, "--ca", str(teams_lab.ca), "--format", "json", "--evidence-out", str(evidence)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Every proxy up and trusted through the lab CA; the one warning is that all three
    # present one certificate key, which is true of this lab.
    assert report["verdict"] == "warn"
    assert [t["target"] for t in report["targets"]] == [
        f"{name} ({address}:5061/tls)" for name, address in zip(TEAMS, teams_proxies, strict=True)
    ]
    for check in ("tls.chain", "tls.identity", "sip.options"):
        assert statuses(report, check) == ["pass"] * 3, check
    assert statuses(report, "failover.order") == ["pass"]
    assert statuses(report, "failover.primary") == ["pass"]
    redundancy = next(f for f in report["findings"] if f["check"] == "failover.redundancy")
    assert redundancy["status"] == "warn"
    assert "same certificate key" in redundancy["summary"]
    teams = {
        f["check"]: f["status"]
        for f in report["findings"]
        if f["check"].startswith("policy.teams.")
    }
    assert set(teams) >= {"policy.teams.tls_version", "policy.teams.identity", "policy.teams.port"}
    assert set(teams.values()) == {"pass"}
    chain = next(f for f in report["findings"] if f["check"] == "tls.chain")
    assert chain["details"]["trust"].startswith(f"file {teams_lab.ca}")
    override = [n for n in report["notes"] if n.startswith("the command line overrides")]
    assert len(override) == 1
    assert f"--ca {teams_lab.ca} (scenario tls.trust: mozilla)" in override[0]
    assert f"{TEAMS[2]}:5061:{teams_proxies[2]}" in override[0]

    # The evidence --evidence-out wrote is judged again without --ca: the lab CA it
    # recorded is used, and under the scenario's other policy (its accept_wildcard; the
    # policy is what judge may change) the targets' findings come out as the run's.
    judged = run("judge", str(evidence), "--accept-wildcard", "--format", "json")
    assert judged.returncode == 0, judged.stderr + judged.stdout
    again = json.loads(judged.stdout)
    assert again["verdict"] == "warn"
    assert statuses(again, "tls.chain") == ["pass"] * 3
    per_target = [
        f for f in report["findings"] if not f["check"].startswith(("policy.", "scenario."))
    ]
    assert again["findings"] == per_target
    assert any(n.startswith("trust anchors the run used: file ") for n in again["notes"])


def test_without_the_lab_ca_the_scenarios_own_trust_fails_the_chains(
    teams_proxies: list[str],
) -> None:
    # The same lab under the built-in's trust = "mozilla": a lab CA is in no public store.
    result = run("check", "builtin:teams-direct-routing", *pins(teams_proxies), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "fail"
    assert statuses(report, "tls.chain") == ["fail"] * 3
    assert not any("tls.trust" in note for note in report["notes"])


def test_run_options_reach_the_scenarios_run(teams_lab: LabFiles, teams_proxies: list[str]) -> None:
    # --nagios and --insecure from the shared option sets, on check.
    result = run(
        "check",
        "builtin:teams-direct-routing",
        *pins(teams_proxies),
        *sbc(teams_lab),
        "--trust",
        str(teams_lab.other_ca),
        "--insecure",
        "--nagios",
    )
    # Under --insecure the unknown issuer only warns: the run's verdict is WARN (Nagios 1).
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("SIPPROBE WARNING"), result.stdout
