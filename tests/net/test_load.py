"""Load: thousands of targets against real Kamailio TLS listeners, under a lowered
file-descriptor limit, with the start rate honoured.

Two Kamailio instances (127.0.0.2 and 127.0.0.3) with 100 TLS listeners each give 200
distinct targets; several URIs per listener (different user parts) make up the count.
Targets sharing a listener are probed one at a time (one connection per target), so 200
listeners are what lets --concurrency 200 be used in full.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.evidence.file import load_evidence
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

LISTENERS_PER_INSTANCE = 100
HOSTS = ("127.0.0.2", "127.0.0.3")


@pytest.fixture(scope="module")
def listeners(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[list[str]]:
    """`host:port` of every TLS listener of both instances."""
    instances: list[Kamailio] = []
    try:
        for host in HOSTS:
            profiles = [
                TlsProfile(f"tls{n}", lab.server, lab.server_key)
                for n in range(LISTENERS_PER_INSTANCE)
            ]
            instances.append(
                start_kamailio(
                    tmp_path_factory.mktemp("load"), profiles, host, shared_memory_mb=512
                )
            )
        yield [f"{i.host}:{port}" for i in instances for port in i.ports.values()]
        for instance in instances:
            assert not instance.crashed(), instance.log.read_text()[-2000:]
    finally:
        for instance in instances:
            instance.stop()


def write_targets(tmp_path: Path, listeners: list[str], count: int) -> tuple[Path, list[str]]:
    """`count` target URIs spread over the listeners, and the pins that lead there."""
    lines, pins = [], []
    for number in range(count):
        host, port = listeners[number % len(listeners)].split(":")
        lines.append(f"sip:probe{number}@{LAB_NAME}:{port};transport=tls")
    for listener in listeners:
        host, port = listener.split(":")
        pins += ["--resolve", f"{LAB_NAME}:{port}:{host}"]
    path = tmp_path / "targets.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, pins


def run_sweep(
    tmp_path: Path, lab: LabFiles, targets: Path, pins: list[str], fd_limit: int, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    report = tmp_path / "report.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "probe",
            "options",
            "--targets",
            str(targets),
            *pins,
            "--ca",
            str(lab.ca),
            "--timeout",
            "20",
            "--format",
            "json",
            "--output",
            f"json={report}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lower_limit,
        check=False,
    )
    assert "Traceback" not in completed.stderr
    return completed, json.loads(report.read_text())


def assert_every_target_judged(report: dict[str, object], count: int) -> None:
    targets = report["targets"]
    assert isinstance(targets, list)
    assert len(targets) == count
    findings = report["findings"]
    assert isinstance(findings, list)
    options = Counter(f["status"] for f in findings if f["check"] == "sip.options")
    chains = Counter(f["status"] for f in findings if f["check"] == "tls.chain")
    failing = [f for f in findings if f["status"] not in ("pass", "skip")]
    assert not failing, failing[:3]
    assert options == {"pass": count}
    assert chains == {"pass": count}


def test_two_thousand_targets_at_concurrency_200_under_1024_descriptors(
    tmp_path: Path, lab: LabFiles, listeners: list[str]
) -> None:
    targets, pins = write_targets(tmp_path, listeners, 2000)
    completed, report = run_sweep(tmp_path, lab, targets, pins, 1024, "--concurrency", "200")
    assert_every_target_judged(report, 2000)
    assert completed.returncode == 0, completed.stderr[-2000:]
    notes = report["notes"]
    assert isinstance(notes, list)
    assert not any("lowered" in note for note in notes)


def test_concurrency_is_bounded_by_a_tight_descriptor_limit(
    tmp_path: Path, lab: LabFiles, listeners: list[str]
) -> None:
    targets, pins = write_targets(tmp_path, listeners, 400)
    completed, report = run_sweep(tmp_path, lab, targets, pins, 160, "--concurrency", "400")
    assert_every_target_judged(report, 400)
    assert completed.returncode == 0, completed.stderr[-2000:]
    notes = report["notes"]
    assert isinstance(notes, list)
    assert any("--concurrency 400 lowered to 48" in note for note in notes), notes


def test_rate_is_honoured_within_ten_percent(
    tmp_path: Path, lab: LabFiles, listeners: list[str]
) -> None:
    asked = 100.0
    targets, pins = write_targets(tmp_path, listeners, 300)
    evidence_file = tmp_path / "evidence.json"
    completed, report = run_sweep(
        tmp_path,
        lab,
        targets,
        pins,
        1024,
        "--concurrency",
        "200",
        "--rate",
        f"{asked:g}",
        "--evidence-out",
        str(evidence_file),
    )
    assert_every_target_judged(report, 300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    sent = []
    for probed in load_evidence(evidence_file).probed():
        assert probed.evidence is not None
        began = dt.datetime.fromisoformat(probed.evidence.started_at).timestamp()
        sent.append(began + probed.evidence.exchanges[0].sent_at_ms / 1000)
    sent.sort()
    measured = (len(sent) - 1) / (sent[-1] - sent[0])
    assert abs(measured - asked) / asked <= 0.10, f"sent {measured:.1f}/s for --rate {asked:g}"
