"""Secrets canary: known secrets go through every command and every output format, and
none of them comes out anywhere.

The secrets: the SDES key the far end answers with (a recognisable AES_CM_128_HMAC_SHA1_80
key ‖ salt), the keys our own offers generate (read from what SIPp received), three digest
passwords (one from `--auth-file`, one from SIPPROBE_AUTH_USER/PASSWORD, one from a
scenario's credentials file) with their H(A1) and the digest responses we computed, and
the lab client's private key (`--cert`/`--key` and a scenario's `client_cert`/
`client_key`), encrypted for `options` and `failover` with two key passwords (one from
`--key-password-file`, one from SIPPROBE_KEY_PASSWORD).

The commands: `invite` (twice, one per credential source), `options`, `failover`,
`check` with a scenario, `judge` of saved evidence in each of its formats, and `diff`.
Between them: console with -v on standard output and in a file, JSON, JUnit and Nagios on
standard output and in files, and `--evidence-out`. Everything is captured: both
standard streams, every file written in the run's folder (HOME and TMPDIR included) and,
the tool having no log, Python's development-mode warnings and asyncio debug output.

Each secret is shown to have been used, or the absence would prove nothing: SIPp exits 0
only when the second INVITE carried a digest response it verified with the canary
password; our offered keys are read from SIPp's own message trace; the answer with the
canary key is judged (`sdp.srtp` pass); the mutual-TLS listener accepted our client
certificate (`tls.client_cert`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from probe.tls.lab import LabFiles
from tests.security.canaries import (
    ANSWER_INLINE,
    DIGEST_USER,
    KEY_PASSWORD_ENV,
    KEY_PASSWORD_FILE,
    PASSWORD_AUTH_FILE,
    PASSWORD_ENV,
    PASSWORD_SCENARIO,
    find_leaks,
    key_password_needles,
    password_needles,
    private_key_needles,
    srtp_key_needles,
    views,
)
from tests.security.harness import Run, run_sipprobe
from tests.security.sbc import CALLEE, Sbc, start_sbc

pytestmark = pytest.mark.peer

ENV_CREDENTIALS = {"SIPPROBE_AUTH_USER": DIGEST_USER, "SIPPROBE_AUTH_PASSWORD": PASSWORD_ENV}
ALL_FORMATS = "console,json,junit,nagios"
INVITES = ("invite-auth-file", "invite-env", "check")
RUNS = (
    "invite-auth-file",
    "options",
    "failover",
    "invite-env",
    "check",
    "judge-console",
    "judge-json",
    "judge-junit",
    "judge-env-console",
    "diff-console",
    "diff-json",
)


@dataclass
class Campaign:
    runs: dict[str, Run] = field(default_factory=dict)
    far_end_exit: dict[str, int] = field(default_factory=dict)
    offered_keys: dict[str, list[str]] = field(default_factory=dict)
    digest_responses: dict[str, list[str]] = field(default_factory=dict)
    far_end_traces: dict[str, str] = field(default_factory=dict)
    needles: dict[str, set[str]] = field(default_factory=dict)


def identity(sbc: Sbc, lab: LabFiles, *profiles: str, key: Path | None = None) -> list[str]:
    args = ["--ca", str(lab.ca), "--cert", str(lab.client), "--key", str(key or lab.client_key)]
    for profile in profiles or ("mtls",):
        args += ["--resolve", sbc.pin(profile)]
    return [*args, "--timeout", "5"]


def encrypted_copy(lab: LabFiles, path: Path, password: str) -> Path:
    """The lab's client key, encrypted with the canary `password`."""
    key = serialization.load_pem_private_key(lab.client_key.read_bytes(), password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    return path


def witness(campaign: Campaign, name: str, sbc: Sbc) -> None:
    """What the far end saw of one call: its verdict, our keys, our digest response."""
    campaign.far_end_exit[name] = sbc.sipp.wait(30)
    campaign.offered_keys[name] = list(dict.fromkeys(sbc.offered_keys()))  # once each
    campaign.digest_responses[name] = sbc.digest_responses()
    campaign.far_end_traces[name] = sbc.seen_by_far_end()


def scenario_text(sbc: Sbc, lab: LabFiles, credentials: Path) -> str:
    return f"""[trunk]
name = "canary"

[[endpoint]]
uri = "{sbc.uri()}"

[tls]
trust = "{lab.ca}"
client_cert = "{lab.client}"
client_key = "{lab.client_key}"

[invite]
to = "{CALLEE}"
credentials = "{credentials}"

[failover]
require_failover_path = false

[run]
timeout = 5.0
resolve = ["{sbc.pin()}"]
"""


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Campaign:
    base = tmp_path_factory.mktemp("canary")
    inputs = base / "inputs"
    inputs.mkdir()
    auth_file = inputs / "trunk.auth"
    auth_file.write_text(f"username={DIGEST_USER}\npassword={PASSWORD_AUTH_FILE}\n")
    scenario_auth = inputs / "scenario.auth"
    scenario_auth.write_text(f"username={DIGEST_USER}\npassword={PASSWORD_SCENARIO}\n")
    key_for_file = encrypted_copy(lab, inputs / "file-password.key", KEY_PASSWORD_FILE)
    key_for_env = encrypted_copy(lab, inputs / "env-password.key", KEY_PASSWORD_ENV)
    key_password_file = inputs / "key-password.txt"
    key_password_file.write_text(KEY_PASSWORD_FILE + "\n")
    done = Campaign()
    runs = done.runs

    def run(name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        runs[name] = run_sipprobe(name, args, base / name, ENV_CREDENTIALS if env is None else env)

    outputs = ["--output", "json=report.json", "--output", "junit=report.xml"]
    outputs += ["--output", "nagios=report.nagios", "--evidence-out", "evidence.json"]
    sbc = start_sbc(base / "sbc-auth-file", lab, PASSWORD_AUTH_FILE)
    try:
        invite = ["invite", sbc.uri(), "--to", CALLEE, *identity(sbc, lab)]
        auth = ["--auth-file", str(auth_file)]
        run("invite-auth-file", [*invite, *auth, "--format", ALL_FORMATS, "-v", *outputs], env={})
        witness(done, "invite-auth-file", sbc)
        options = ["options", sbc.uri(), *identity(sbc, lab, key=key_for_file)]
        options += ["--key-password-file", str(key_password_file)]
        run("options", [*options, "--format", ALL_FORMATS, "-v", *outputs])
        endpoints = [sbc.uri("mtls"), sbc.uri("tls")]
        endpoints += identity(sbc, lab, "mtls", "tls", key=key_for_env)
        nagios_first = ["--format", "nagios,console,json,junit", "-v"]
        to_files = ["--output", "console=report.txt", "--output", "json=report.json"]
        to_files += ["--output", "junit=report.xml", "--evidence-out", "evidence.json"]
        key_env = {**ENV_CREDENTIALS, "SIPPROBE_KEY_PASSWORD": KEY_PASSWORD_ENV}
        run("failover", ["failover", *endpoints, *nagios_first, *to_files], env=key_env)
    finally:
        sbc.stop()

    sbc = start_sbc(base / "sbc-env", lab, PASSWORD_ENV)
    try:
        invite = ["invite", sbc.uri(), "--to", CALLEE, *identity(sbc, lab)]
        json_first = ["--format", "json,console,junit,nagios", "-v"]
        to_files = ["--output", "console=report.txt", "--output", "junit=report.xml"]
        to_files += ["--output", "nagios=report.nagios", "--evidence-out", "evidence.json"]
        run("invite-env", [*invite, *json_first, *to_files])
        witness(done, "invite-env", sbc)
    finally:
        sbc.stop()

    sbc = start_sbc(base / "sbc-scenario", lab, PASSWORD_SCENARIO)
    try:
        scenario = inputs / "canary.toml"
        scenario.write_text(scenario_text(sbc, lab, scenario_auth))
        check_outputs = [
            item for item in outputs if item not in ("--evidence-out", "evidence.json")
        ]
        run(
            "check", ["check", str(scenario), "--format", ALL_FORMATS, "-v", *check_outputs], env={}
        )
        witness(done, "check", sbc)
    finally:
        sbc.stop()

    first = str(runs["invite-auth-file"].folder / "evidence.json")
    second = str(runs["invite-env"].folder / "evidence.json")
    for output_format in ("console", "json", "junit"):
        run(
            f"judge-{output_format}",
            ["judge", first, "--ca", str(lab.ca), "--format", output_format, "-v"],
        )
    run("judge-env-console", ["judge", second, "--ca", str(lab.ca), "-v"])
    run("diff-console", ["diff", first, second])
    run("diff-json", ["diff", first, second, "--format", "json"])

    needles = done.needles
    needles["answer SDES key"] = srtp_key_needles(ANSWER_INLINE)
    for name, keys in done.offered_keys.items():
        for number, key in enumerate(keys):
            needles[f"offered SDES key {number} of {name}"] = srtp_key_needles(key)
    for name, responses in done.digest_responses.items():
        needles[f"digest response of {name}"] = set(responses) | {r.upper() for r in responses}
    needles["--auth-file password"] = password_needles(PASSWORD_AUTH_FILE)
    needles["SIPPROBE_AUTH_PASSWORD"] = password_needles(PASSWORD_ENV)
    needles["scenario credentials password"] = password_needles(PASSWORD_SCENARIO)
    needles["client private key"] = private_key_needles(lab.client_key, lab.client)
    needles["--key-password-file password"] = key_password_needles(KEY_PASSWORD_FILE)
    needles["SIPPROBE_KEY_PASSWORD"] = key_password_needles(KEY_PASSWORD_ENV)
    return done


def json_report(run: Run) -> dict[str, Any]:
    """The run's JSON report: from its file, or from standard output when it went there."""
    text = run.files.get("report.json") or run.stdout
    report: dict[str, Any] = json.loads(text)
    assert report["schema"] == "sipprobe.report/1"
    return report


def by_check(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["check"] == check]


@pytest.mark.parametrize("name", RUNS)
def test_no_secret_comes_out_anywhere(campaign: Campaign, name: str) -> None:
    run = campaign.runs[name]
    assert run.stdout or run.files, f"{name} produced nothing to inspect"
    leaks = find_leaks(campaign.needles, run.haystacks())
    assert not leaks, "\n".join(leaks)


def test_the_leak_finder_finds_each_secret_where_it_really_is(
    campaign: Campaign, lab: LabFiles
) -> None:
    """The far end's trace holds our keys, its key and our digest responses; the key file
    holds the key: the needles are right, so finding none in the outputs means something."""
    found = find_leaks(campaign.needles, campaign.far_end_traces)
    for name in INVITES:
        assert f"digest response of {name}" in "\n".join(found)
        for number in range(2):
            assert f"offered SDES key {number} of {name}" in "\n".join(found)
    assert "answer SDES key" in "\n".join(found)
    in_key_file = find_leaks(campaign.needles, {"key file": lab.client_key.read_text()})
    assert any(leak.startswith("client private key") for leak in in_key_file)


@pytest.mark.parametrize("name", INVITES)
def test_each_call_authenticated_with_the_canary_password(campaign: Campaign, name: str) -> None:
    # SIPp verified the digest response with the canary password, answered, and saw BYE.
    assert campaign.far_end_exit[name] == 0, campaign.runs[name].explain()
    # One response (SIPp logs a retransmission of the INVITE again: the same value).
    assert len(set(campaign.digest_responses[name])) == 1, campaign.digest_responses[name]
    report = json_report(campaign.runs[name])
    (invite,) = by_check(report, "sip.invite")
    assert invite["status"] == "pass", invite["summary"]
    assert "digest authentication" in invite["summary"]
    (srtp,) = by_check(report, "sdp.srtp")
    assert srtp["status"] == "pass", srtp["summary"]  # the canary key was received and judged


@pytest.mark.parametrize("name", INVITES)
def test_each_offer_carried_fresh_sdes_keys(campaign: Campaign, name: str) -> None:
    keys = sorted(set(campaign.offered_keys[name]))
    assert len(keys) == 2, keys  # AES_CM_128_HMAC_SHA1_80 then _32, as the far end saw them
    others = [
        key for other, found in campaign.offered_keys.items() if other != name for key in found
    ]
    assert not set(keys) & set(others), "every call offers keys of its own"


@pytest.mark.parametrize("name", ["invite-auth-file", "invite-env"])
def test_evidence_keeps_the_key_lengths_with_zeros(campaign: Campaign, name: str) -> None:
    evidence = campaign.runs[name].file("evidence.json")
    assert json.loads(evidence)["schema"] == "sipprobe.evidence/1"
    decoded = "\n".join(views(evidence))
    for key in campaign.offered_keys[name] + [ANSWER_INLINE]:
        zeros = "A" * len(key.rstrip("=")) + "=" * (len(key) - len(key.rstrip("=")))
        assert f"inline:{zeros}" in decoded
    assert re.search(r"Authorization: Digest <redacted>", decoded)


def test_the_client_key_was_used(campaign: Campaign) -> None:
    # Encrypted with a canary password (from the file for options, from the environment
    # for failover): the mutual-TLS listener accepting it proves the password opened it.
    for name in ("options", "failover"):
        report = json_report(campaign.runs[name])
        client = [f for f in by_check(report, "tls.client_cert") if f["details"]["requested"]]
        assert client, f"{name}: no listener asked for a client certificate"
        for finding in client:
            assert finding["status"] == "pass", finding["summary"]
            assert finding["details"]["sent"] is True
        assert by_check(report, "sip.options"), name
        assert all(f["status"] == "pass" for f in by_check(report, "sip.options"))


def test_every_format_was_produced(campaign: Campaign) -> None:
    runs = campaign.runs
    assert runs["invite-auth-file"].returncode == 0, runs["invite-auth-file"].explain()
    assert "sip.invite" in runs["invite-auth-file"].stdout  # console, -v
    assert runs["invite-env"].returncode == 0, runs["invite-env"].explain()
    assert json.loads(runs["invite-env"].stdout)["schema"] == "sipprobe.report/1"
    assert runs["failover"].stdout.startswith("SIPPROBE ")  # Nagios status line
    for name in ("invite-auth-file", "options", "check"):
        assert runs[name].file("report.xml").startswith("<?xml")
        assert runs[name].file("report.nagios").strip()
    assert "SRTP negotiated" in runs["invite-env"].file("report.txt")
    assert "sipprobe failover" in runs["failover"].file("report.txt")
    for name in ("invite-env", "failover"):
        assert "not after" in runs[name].file("report.txt")  # -v: the certificates shown
    for name in ("invite-auth-file", "invite-env", "options", "failover"):
        assert runs[name].file("evidence.json")
    assert json.loads(runs["judge-json"].stdout)["findings"]
    assert runs["judge-junit"].stdout.startswith("<?xml")
    assert "sip.invite" in runs["judge-console"].stdout
    assert runs["diff-console"].returncode in (0, 1), runs["diff-console"].explain()
    assert json.loads(runs["diff-json"].stdout) is not None
