"""`--evidence-out` and `sipprobe judge` end to end, against the embedded responder."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from probe.cli.commands import cli
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def report(result: Result) -> dict[str, Any]:
    return json.loads(result.output)  # type: ignore[no-any-return]


def probe_args(port: int, lab: LabFiles) -> list[str]:
    return [
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--format",
        "json",
    ]


@pytest.fixture(scope="module")
def saved(
    responder_port: int, lab: LabFiles, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """One OPTIONS run saved with --evidence-out, and the report it printed."""
    path = tmp_path_factory.mktemp("evidence") / "run.json"
    result = invoke("options", *probe_args(responder_port, lab), "--evidence-out", str(path))
    assert result.exit_code == 0, result.output
    return path, report(result)


def test_evidence_file_is_written_0600(saved: tuple[Path, dict[str, Any]]) -> None:
    path, _report = saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["schema"] == "sipprobe.evidence/1"
    assert document["command"] == "options"


def test_judge_gives_the_same_findings_as_the_run(
    saved: tuple[Path, dict[str, Any]], lab: LabFiles
) -> None:
    path, original = saved
    result = invoke("judge", str(path), "--ca", str(lab.ca), "--format", "json")
    assert result.exit_code == 0, result.output
    again = report(result)
    assert again["findings"] == original["findings"]
    assert again["targets"] == original["targets"]
    assert (again["verdict"], again["started_at"]) == (original["verdict"], original["started_at"])
    checks = {finding["check"] for finding in again["findings"]}
    assert {"tls.chain", "tls.validity", "sip.options"} <= checks


def test_judge_under_another_ca_fails_the_chain(
    saved: tuple[Path, dict[str, Any]], lab: LabFiles
) -> None:
    path, _original = saved
    result = invoke("judge", str(path), "--ca", str(lab.other_ca), "--format", "json")
    assert result.exit_code == 1, result.output
    statuses = {f["check"]: f["status"] for f in report(result)["findings"]}
    assert statuses["tls.chain"] == "fail"
    assert statuses["sip.options"] == "pass"  # the answer itself was not re-judged differently


def test_judge_now_judges_certificates_at_another_instant(
    saved: tuple[Path, dict[str, Any]], lab: LabFiles
) -> None:
    path, _original = saved
    later = invoke(
        "judge", str(path), "--ca", str(lab.ca), "--now", "2090-01-01T00:00:00Z", "--format", "json"
    )
    assert later.exit_code == 1, later.output
    statuses = {f["check"]: f["status"] for f in report(later)["findings"]}
    assert statuses["tls.validity"] == "fail"
    assert any("2090-01-01" in note for note in report(later)["notes"])
    bad = invoke("judge", str(path), "--now", "next tuesday")
    assert bad.exit_code == 2
    assert "--now 'next tuesday'" in bad.output


def test_judge_policy_options_change_the_verdict(
    saved: tuple[Path, dict[str, Any]], lab: LabFiles
) -> None:
    path, _original = saved
    result = invoke(
        "judge",
        str(path),
        "--ca",
        str(lab.other_ca),
        "--insecure",
        "--accept",
        "4xx",
        "--format",
        "json",
    )
    verdict = report(result)
    statuses = {f["check"]: f["status"] for f in verdict["findings"]}
    assert statuses["tls.chain"] == "warn"  # --insecure softens it
    assert statuses["sip.options"] == "fail"  # 200 is not in 4xx
    assert result.exit_code == 1


def test_judge_opens_no_socket(
    saved: tuple[Path, dict[str, Any]], lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, original = saved

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("judge touched the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(asyncio, "open_connection", refuse)
    monkeypatch.setattr(asyncio, "run", refuse)
    result = invoke("judge", str(path), "--ca", str(lab.ca), "--format", "json")
    assert result.exit_code == 0, result.output
    assert report(result)["findings"] == original["findings"]


def test_evidence_is_written_when_the_verdict_fails(
    responder_port: int, lab: LabFiles, tmp_path: Path
) -> None:
    path = tmp_path / "failed.json"
    args = probe_args(responder_port, lab)
    args[args.index("--ca") + 1] = str(lab.other_ca)
    result = invoke("options", *args, "--evidence-out", str(path))
    assert result.exit_code == 1, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = invoke("judge", str(path), "--ca", str(lab.ca))
    assert again.exit_code == 0, again.output  # the same evidence, trusted this time


def test_evidence_of_a_refused_connection(closed_port: int, tmp_path: Path) -> None:
    path = tmp_path / "refused.json"
    result = invoke(
        "options",
        f"sip:127.0.0.1:{closed_port};transport=tcp",
        "--evidence-out",
        str(path),
        "--format",
        "json",
    )
    assert result.exit_code == 1
    again = invoke("judge", str(path), "--format", "json")
    assert again.exit_code == 1
    assert report(again)["findings"] == report(result)["findings"]


def test_failover_evidence_is_judged_again_with_its_order(
    responder_port: int, lab: LabFiles, tmp_path: Path
) -> None:
    path = tmp_path / "failover.json"
    port = responder_port
    other = "sip2.example.test"  # not in the certificate: an unhealthy second endpoint
    result = invoke(
        "failover",
        f"sip:{other}:{port};transport=tls",
        f"sip:{LAB_NAME}:{port};transport=tls",
        "--resolve", f"{other}:{port}:127.0.0.1",
        "--resolve", f"{LAB_NAME}:{port}:127.0.0.1",
        "--priority", "20", "--priority", "10",
        "--ca", str(lab.ca),
        "--format", "json",
        "--evidence-out", str(path),
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # the same address twice: fake redundancy
    again = invoke("judge", str(path), "--ca", str(lab.ca), "--format", "json")
    assert report(again)["findings"] == report(result)["findings"]
    order = next(f for f in report(again)["findings"] if f["check"] == "failover.order")
    assert [row["endpoint"] for row in order["details"]["order"]] == [
        f"sip:{LAB_NAME}:{port};transport=tls",
        f"sip:{other}:{port};transport=tls",
    ]
    document = json.loads(path.read_text())
    assert document["failover"]["mode"] == "priority"
    assert [u["endpoint"]["priority"] for u in document["uris"]] == [20, 10]


def test_evidence_out_into_a_missing_directory_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio, "run", lambda *_a, **_k: pytest.fail("the run started"))
    target = tmp_path / "absent" / "run.json"
    result = invoke("options", "sip:127.0.0.1:5060;transport=tcp", "--evidence-out", str(target))
    assert result.exit_code == 2
    assert "does not exist" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "is not JSON"),
        ('{"schema": "sipprobe.report/1"}', "is not a sipprobe evidence file"),
    ],
)
def test_judge_bad_file_is_exit_2_with_a_sentence(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "evidence.json"
    if content is not None:
        path.write_text(content)
    result = invoke("judge", str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
