"""STIR/SHAKEN through the real `sipprobe answer`: SIPp behind Kamailio (the Identity
caller kit, tests.peers.identity_caller) places calls whose Identity headers are signed at
run time with the lab STI PKI, the certificate served by a local HTTPS x5u server, and the
command, a process of its own, verifies each INVITE and reports the five `stir.*` findings
per call, naming what a verifier would answer (RFC 8224 §6.2.2).

Every wait has a deadline: the command's start, each call, the command's end. A hostile
x5u server costs a call at most the fetch deadline, never a hang."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probe.stir.passport import shaken_claims
from probe.stir.tn import http_date
from probe.tls.lab import LabFiles
from probe.tls.sti_lab import StiLab
from tests.conftest import LAB_NAME
from tests.peers.common import free_port
from tests.peers.identity_caller import (
    CALLEE,
    CALLER,
    EXPECTED,
    HOSTILE,
    CallOutcome,
    IdentityCaller,
    IdentityPki,
    PlacedCall,
    identity_caller,
)
from tests.stir.kit import Served, header, identity, token

pytestmark = pytest.mark.peer

FETCH_TIMEOUT = 0.5
"""--sti-fetch-timeout of every run: the deadline a silent or flooding x5u server meets."""
HOLD = 0.3
"""--hold: how long the command keeps an answered call up before its BYE."""
CALL_MARGIN = 4.0
"""Beyond the fetch deadline and the hold, what one call may take (relaying, TLS, the
SIPp process starting) on a busy machine."""
START_SECONDS = 20.0
"""How long the command may take to start listening (an interpreter starting)."""
RUN_MARGIN = 10.0
"""Beyond its calls, what a whole run may take: the interpreter starting, the report."""
END_SECONDS = 20.0
"""How long the command may take to end and report once its calls have ended."""

STIR = ("stir.identity", "stir.certificate", "stir.signature", "stir.claims", "stir.attestation")


@dataclass(frozen=True)
class AnswerRun:
    """What one `sipprobe answer` process did: its exit, its console report and stderr,
    its JSON report, and each call as the caller saw it (and how long it took)."""

    exit_code: int
    console: str
    stderr: str
    report: dict[str, Any]
    calls: tuple[CallOutcome, ...]
    call_seconds: tuple[float, ...]
    seconds: float

    def findings(self, call: int = 1) -> dict[str, dict[str, Any]]:
        """The findings of the `call`-th call received (1-based), by check."""
        label = self.targets()[call - 1]["target"]
        return {
            finding["check"]: finding
            for finding in self.report["findings"]
            if finding["target"] == label
        }

    def targets(self) -> list[dict[str, Any]]:
        return [
            target
            for target in self.report["targets"]
            if str(target["target"]).startswith("inbound call ")
        ]

    def stir(self, call: int = 1) -> dict[str, str]:
        return {check: self.findings(call)[check]["status"] for check in STIR}


@pytest.fixture(scope="module")
def listen_port() -> int:
    """Where Kamailio relays the calls: each test's `sipprobe answer` listens there in turn."""
    return free_port()


@pytest.fixture(scope="module")
def relay(
    tmp_path_factory: pytest.TempPathFactory, lab: LabFiles, listen_port: int
) -> Iterator[IdentityCaller]:
    with identity_caller(
        tmp_path_factory.mktemp("identity-caller"), lab, ("127.0.0.1", listen_port)
    ) as caller:
        yield caller


@pytest.fixture
async def pki(served: Served, sti: StiLab) -> AsyncIterator[IdentityPki]:
    async with IdentityPki.serving(served, sti) as pki:
        yield pki


Place = Callable[[IdentityCaller], PlacedCall]


async def answer(
    tmp_path: Path,
    lab: LabFiles,
    port: int,
    relay: IdentityCaller,
    calls: Sequence[Place],
    *options: str,
) -> AnswerRun:
    """`sipprobe answer` listening on `port` for `len(calls)` calls with `options`; once it
    listens, each call is placed in turn (through the relay) and awaited. Every step has
    its deadline; the process is killed whatever happens."""
    json_path = tmp_path / f"report-{uuid.uuid4().hex[:8]}.json"
    command = [
        sys.executable,
        "-m",
        "probe",
        "answer",
        "--listen",
        f"tls:127.0.0.1:{port}",
        "--listen-cert",
        str(lab.server),
        "--listen-key",
        str(lab.server_key),
        "--expect",
        str(len(calls)),
        "--within",
        "60",
        "--hold",
        str(HOLD),
        "--sti-fetch-timeout",
        str(FETCH_TIMEOUT),
        "--no-color",
        "--output",
        f"json={json_path}",
        *options,
    ]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        head = await asyncio.wait_for(process.stderr.readline(), START_SECONDS)
        assert b"listening on tls:127.0.0.1:" in head, head + await process.stderr.read()
        outcomes: list[CallOutcome] = []
        seconds: list[float] = []
        for place in calls:
            placed_at = time.monotonic()
            outcomes.append(await place(relay).ended())
            seconds.append(time.monotonic() - placed_at)
        stdout, stderr = await asyncio.wait_for(process.communicate(), END_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await asyncio.wait_for(process.wait(), 10)
    elapsed = time.monotonic() - started
    assert process.returncode is not None
    report = json.loads(json_path.read_text()) if json_path.exists() else {}
    return AnswerRun(
        process.returncode,
        stdout.decode(errors="replace"),
        (head + stderr).decode(errors="replace"),
        report,
        tuple(outcomes),
        tuple(seconds),
        elapsed,
    )


def call_with(signed: Callable[[], str]) -> Place:
    """A call whose Identity is signed when it is placed (its iat fresh)."""
    return lambda relay: call(signed())(relay)


def call(identity_value: str | None, **place: Any) -> Place:
    """A call the kit places, its INVITE carrying `identity_value`; the caller waits for
    our BYE (which comes after HOLD) rather than hanging up itself."""
    return lambda relay: relay.place(identity_value, hold_s=10, timeout_s=20, **place)


def sane(run: AnswerRun) -> None:
    """No traceback, every call answered and ended by our BYE, within its bound."""
    assert "Traceback" not in run.stderr, run.stderr
    assert run.report, f"no JSON report: {run.stderr}\n{run.console}"
    for outcome, seconds in zip(run.calls, run.call_seconds, strict=True):
        assert outcome.exit_code == 0, outcome.errors
        assert (outcome.final_status, outcome.hangup) == (200, "callee"), outcome.errors
        assert seconds < FETCH_TIMEOUT + HOLD + CALL_MARGIN, (seconds, run.stderr)
    assert run.seconds < RUN_MARGIN + len(run.calls) * (FETCH_TIMEOUT + HOLD + CALL_MARGIN)


async def test_a_good_call_passes_every_stir_check_and_a_verifier_would_answer_nothing(
    tmp_path: Path, lab: LabFiles, relay: IdentityCaller, pki: IdentityPki, listen_port: int
) -> None:
    # The x5u names a host, reached through --resolve and never through DNS.
    x5u = f"https://{LAB_NAME}:{pki.server.port}/shaken.pem"
    run = await answer(
        tmp_path,
        lab,
        listen_port,
        relay,
        [call_with(lambda: good_identity(pki, x5u))],
        "--sti-trust",
        str(pki.trust_list(tmp_path)),
        "--sti-fetch-ca",
        str(lab.ca),
        "--resolve",
        f"{LAB_NAME}:{pki.server.port}:127.0.0.1",
    )
    sane(run)
    assert run.exit_code == 0, run.console + run.stderr
    assert run.report["verdict"] == "pass"
    assert run.stir() == dict.fromkeys(STIR, "pass"), run.console
    findings = run.findings()
    assert findings["stir.attestation"]["details"]["attest"] == "A"
    for check in STIR:
        assert findings[check]["details"]["verifier_would_answer"] is None
    assert findings["stir.certificate"]["details"]["fetch"]["source"] == "https"
    assert pki.server.hits == {"/shaken.pem": 1}
    assert "Identity  a verifier would not refuse it" in run.console


def good_identity(pki: IdentityPki, x5u: str) -> str:
    """A good Identity whose PASSporT names `x5u` (the kit's own names 127.0.0.1)."""
    claims = shaken_claims(
        attest="A",
        orig_tn=CALLER.lstrip("+"),
        dest_tns=[CALLEE.lstrip("+")],
        iat=int(time.time()),
        origid=str(uuid.uuid4()),
    )
    return identity(token(pki.sti.shaken.key, header(x5u), claims), x5u)


async def test_attestation_b_warns_and_fails_below_a_minimum_of_a(
    tmp_path: Path, lab: LabFiles, relay: IdentityCaller, pki: IdentityPki, listen_port: int
) -> None:
    trust = ["--sti-trust", str(pki.trust_list(tmp_path)), "--sti-fetch-ca", str(lab.ca)]
    partial = call_with(lambda: pki.identity("good", attest="B"))
    evidence = tmp_path / "attest-b.json"
    run = await answer(
        tmp_path, lab, listen_port, relay, [partial], *trust, "--evidence-out", str(evidence)
    )
    sane(run)
    assert run.exit_code == 0, run.console + run.stderr
    assert run.report["verdict"] == "warn"
    assert run.stir() == {**dict.fromkeys(STIR, "pass"), "stir.attestation": "warn"}
    assert run.findings()["stir.attestation"]["details"]["attest"] == "B"

    # Judged again as saved: the findings reached when the call came, and a note says so.
    judged = await judge(evidence)
    assert judged.exit_code == 0, judged.stderr
    assert judged.stir() == run.stir()
    assert any("as verified when the calls arrived" in note for note in judged.notes)
    # Verified again offline under a stricter policy: B is now below the minimum.
    stricter = await judge(evidence, "--sti-trust", trust[1], "--sti-min-attest", "A")
    assert "Traceback" not in stricter.stderr, stricter.stderr
    assert stricter.exit_code == 1, stricter.stderr
    assert stricter.stir() == {**dict.fromkeys(STIR, "pass"), "stir.attestation": "fail"}
    assert any(note.startswith("STIR/SHAKEN verified again offline") for note in stricter.notes)
    # A policy cannot verify without the STI-CA trust list, which the evidence names only.
    untrusted = await judge(evidence, "--sti-min-attest", "A")
    assert untrusted.exit_code == 2, untrusted.stderr
    assert "--sti-trust: verifying Identity needs the STI-CA trust list" in untrusted.stderr
    assert "Traceback" not in untrusted.stderr

    run = await answer(
        tmp_path, lab, listen_port, relay, [partial], *trust, "--sti-min-attest", "A"
    )
    sane(run)
    assert run.exit_code == 1, run.console + run.stderr
    assert run.report["verdict"] == "fail"
    assert run.stir() == {**dict.fromkeys(STIR, "pass"), "stir.attestation": "fail"}
    attestation = run.findings()["stir.attestation"]
    assert attestation["details"]["cause"] == "attest_below_minimum"
    assert "FAIL     stir.attestation" in run.console


async def test_every_hostile_identity_fails_with_its_cause_in_one_run_and_nothing_hangs(
    tmp_path: Path, lab: LabFiles, relay: IdentityCaller, pki: IdentityPki, listen_port: int
) -> None:
    evidence = tmp_path / "evidence.json"
    calls = [call_with(lambda case=case: pki.identity(case)) for case in HOSTILE]
    run = await answer(
        tmp_path,
        lab,
        listen_port,
        relay,
        calls,
        "--sti-trust",
        str(pki.trust_list(tmp_path)),
        "--sti-fetch-ca",
        str(lab.ca),
        "--evidence-out",
        str(evidence),
    )
    sane(run)
    assert run.exit_code == 1, run.console + run.stderr
    assert run.report["verdict"] == "fail"
    assert len(run.targets()) == len(HOSTILE)
    console = " ".join(run.console.split())  # the table's wrapping undone
    for number, case in enumerate(HOSTILE, start=1):
        expected = EXPECTED[case]
        findings = run.findings(number)
        failing = findings[expected.check]
        assert failing["status"] == "fail", (case, failing)
        assert failing["details"]["cause"] == expected.cause, (case, failing)
        assert str(failing["details"]["response"]).startswith(f"{expected.response} "), case
        assert str(failing["details"]["verifier_would_answer"]).startswith(
            f"{expected.response} "
        ), case
        # Attestation is proven only when everything else held: never here.
        assert run.stir(number)["stir.attestation"] != "pass", (case, run.stir(number))
        assert run.targets()[number - 1]["verdict"] == "fail", case
        answers = f"a verifier answers {failing['details']['response']}"
        assert answers in failing["summary"], (case, failing["summary"])
        assert f"a verifier would answer {failing['details']['response']}" in console, case
        fetch = findings["stir.certificate"]["details"]["fetch"]
        # Whatever the x5u server does, its fetch ends by the deadline.
        assert fetch["elapsed_ms"] < (FETCH_TIMEOUT + 0.5) * 1000, (case, fetch)
    # The whole run: each call within the fetch deadline, the hold and a margin.
    per_call = FETCH_TIMEOUT + HOLD + CALL_MARGIN
    assert run.report["duration_ms"] < len(HOSTILE) * per_call * 1000
    # The stalling and flooding x5u servers were asked, and cut off.
    assert pki.server.hits["/silent.pem"] == 1
    assert pki.server.hits["/huge.pem"] == 1
    # The evidence carries each call's verification, and judged again offline from it
    # (nothing fetched, nothing received) gives the same stir findings.
    saved = json.loads(evidence.read_text())
    assert all(received["stir"]["checks"] for received in saved["inbound"]["calls"])
    judged = await judge(evidence)
    assert "Traceback" not in judged.stderr, judged.stderr
    assert judged.exit_code == 1, judged.stderr
    assert stir_findings(judged.report) == stir_findings(run.report)
    # Verified again under the same policy, offline, from each INVITE and the fetches the
    # evidence kept (a fetch that failed fails again): the same findings once more.
    again = await judge(evidence, "--sti-trust", str(pki.trust_list(tmp_path)))
    assert "Traceback" not in again.stderr, again.stderr
    assert again.exit_code == 1, again.stderr
    assert stir_findings(again.report) == stir_findings(run.report)
    assert any(note.startswith("STIR/SHAKEN verified again offline") for note in again.notes)


def stir_findings(report: dict[str, Any]) -> list[tuple[str, str, str, Any, Any]]:
    return [
        (
            finding["target"],
            finding["check"],
            finding["status"],
            finding["details"].get("cause"),
            finding["details"].get("response"),
        )
        for finding in report["findings"]
        if finding["check"].startswith("stir.")
    ]


@dataclass(frozen=True)
class Judged:
    exit_code: int
    report: dict[str, Any]
    stderr: str

    @property
    def notes(self) -> list[str]:
        return list(self.report.get("notes", []))

    def stir(self) -> dict[str, str]:
        return {
            finding["check"]: finding["status"]
            for finding in self.report["findings"]
            if finding["check"].startswith("stir.")
        }


async def judge(evidence: Path, *options: str) -> Judged:
    """`sipprobe judge EVIDENCE --format json [OPTIONS]`, within its deadline."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "probe",
        "judge",
        str(evidence),
        "--format",
        "json",
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), END_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), 10)
    assert process.returncode is not None
    report = json.loads(stdout) if stdout.strip() else {}
    return Judged(process.returncode, report, stderr.decode(errors="replace"))


@pytest.mark.parametrize("required", [True, False])
async def test_a_call_without_identity_fails_only_when_identity_is_required(
    tmp_path: Path,
    lab: LabFiles,
    relay: IdentityCaller,
    pki: IdentityPki,
    listen_port: int,
    required: bool,
) -> None:
    run = await answer(
        tmp_path,
        lab,
        listen_port,
        relay,
        [call(None)],
        "--sti-trust",
        str(pki.trust_list(tmp_path)),
        "--sti-required" if required else "--sti-optional",
    )
    sane(run)
    identity_finding = run.findings()["stir.identity"]
    assert identity_finding["details"]["cause"] == "identity_missing"
    if required:
        assert run.exit_code == 1, run.console + run.stderr
        assert identity_finding["status"] == "fail"
        assert identity_finding["details"]["response"] == "428 Use Identity Header"
        assert "428" in run.console
    else:
        assert run.exit_code == 0, run.console + run.stderr
        assert identity_finding["status"] == "skip"
        assert run.report["verdict"] in ("pass", "warn")
    assert set(run.stir().values()) - {"skip", "fail"} == set()
    assert pki.server.hits == {}


async def test_the_certificate_is_read_from_sti_cert_dir_without_a_fetch(
    tmp_path: Path, lab: LabFiles, relay: IdentityCaller, pki: IdentityPki, listen_port: int
) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "shaken.pem").write_bytes(pki.sti.chain_pem())
    run = await answer(
        tmp_path,
        lab,
        listen_port,
        relay,
        # The second call's x5u (/bare.pem) is served, but not in the directory.
        [call_with(lambda: pki.identity("good")), call_with(lambda: pki.identity("no_tnauthlist"))],
        "--sti-trust",
        str(pki.trust_list(tmp_path)),
        "--sti-cert-dir",
        str(directory),
    )
    sane(run)
    assert run.exit_code == 1, run.console + run.stderr
    assert run.stir(1) == dict.fromkeys(STIR, "pass"), run.console
    assert run.findings(1)["stir.certificate"]["details"]["fetch"]["source"] == "directory"
    absent = run.findings(2)["stir.certificate"]
    assert absent["status"] == "fail"
    assert absent["details"]["cause"] == "x5u_not_in_directory"
    assert absent["details"]["response"] == "436 Bad Identity Info"
    # The x5u server was there and never asked: certificates come from the directory only.
    assert pki.server.hits == {}


async def test_a_compact_form_identity_is_rebuilt_from_the_relayed_request(
    tmp_path: Path, lab: LabFiles, relay: IdentityCaller, pki: IdentityPki, listen_port: int
) -> None:
    """RFC 8224 §4.1.1: the verifier rebuilds a compact PASSporT from From, To and Date as
    they arrived through Kamailio; SHAKEN sends the full form only (ATIS-1000074 §5.3.3),
    so a compact PASSporT never passes, but its signature must verify over what the
    request carries."""
    x5u = pki.x5u("good")

    def compact(*, ppt: str | None) -> Place:
        def place(relay: IdentityCaller) -> PlacedCall:
            now = int(time.time())
            base = {"alg": "ES256", "typ": "passport", "x5u": x5u}
            if ppt is not None:
                base["ppt"] = ppt
            claims = {
                "dest": {"tn": [CALLEE.lstrip("+")]},
                "iat": now,
                "orig": {"tn": CALLER.lstrip("+")},
            }
            signature = token(pki.sti.shaken.key, base, claims).split(".")[2]
            value = identity(f"..{signature}", x5u, ppt=ppt)
            return relay.place(value, hold_s=10, timeout_s=20, date=http_date(now))

        return place

    run = await answer(
        tmp_path,
        lab,
        listen_port,
        relay,
        [compact(ppt=None), compact(ppt="shaken")],
        "--sti-trust",
        str(pki.trust_list(tmp_path)),
        "--sti-fetch-ca",
        str(lab.ca),
    )
    sane(run)
    assert run.exit_code == 1
    base = run.findings(1)
    assert base["stir.identity"]["details"]["form"] == "compact"
    assert base["stir.signature"]["status"] == "pass", base["stir.signature"]
    assert "rebuilt from the request" in base["stir.signature"]["summary"]
    assert base["stir.identity"]["status"] == "fail"
    assert base["stir.identity"]["details"]["cause"] == "ppt_not_shaken"
    assert base["stir.identity"]["details"]["response"].startswith("428 ")
    shaken = run.findings(2)
    assert shaken["stir.identity"]["status"] == "fail"
    assert shaken["stir.identity"]["details"]["cause"] == "compact_shaken"
    assert shaken["stir.identity"]["details"]["response"].startswith("438 ")
    assert "pass" not in run.stir(2).values()
