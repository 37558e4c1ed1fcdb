"""A signed test call through real peers: `sipprobe invite --identity-key --identity-cert`
over TLS to Kamailio, relayed to a SIPp UAS whose scenario captures the Identity, From, To
and Date header fields as received (SIPp `<ereg>`, logged with `-trace_logs`). The
captured header is then verified end to end by `StirVerifier`, with the certificate
served over HTTPS on loopback for x5u and the lab STI-CA as the trust list."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.run.stir import STIR_CHECKS, StirVerifier
from probe.settings import StirSettings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status, Verdict, overall_verdict
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp
from tests.stir.kit import Served, ok

pytestmark = pytest.mark.peer

CALLER = f"sip:+15550123@{LAB_NAME}"
CALLEE = "+15550100"


@dataclass
class Sbc:
    kamailio: Kamailio
    sipp: Sipp


@pytest.fixture
def sbc(tmp_path: Path, lab: LabFiles) -> Iterator[Sbc]:
    sipp = start_sipp(tmp_path / "sipp", "uas_identity.xml", extra=("-trace_logs",))
    try:
        kamailio = start_kamailio(
            tmp_path / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
        )
    except BaseException:
        sipp.stop()
        raise
    yield Sbc(kamailio, sipp)
    sipp.stop()
    kamailio.stop()


async def sipprobe(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "probe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        output, errors = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode(), errors.decode()


def captured(sipp: Sipp) -> list[tuple[str, str]]:
    """The header fields SIPp's scenario logged, as (name, value) in order."""
    logs = sorted(sipp.workdir.glob("*_logs.log"))
    assert logs, sipp.errors()
    fields = []
    for line in logs[0].read_text().splitlines():
        match = re.match(r"(Identity|From|To|Date): (.+)$", line.strip())
        if match:
            fields.append((match[1], match[2]))
    return fields


async def test_a_signed_call_is_verified_from_what_the_far_end_received(
    sbc: Sbc, served: Served, lab: LabFiles
) -> None:
    assert lab.sti is not None
    server = await served.start({"/shaken.pem": ok(lab.sti.chain.read_bytes())})
    x5u = server.url("/shaken.pem")
    code, output, errors = await sipprobe(
        "invite",
        f"sip:{LAB_NAME}:{sbc.kamailio.tls_port};transport=tls",
        "--to",
        CALLEE,
        "--from",
        CALLER,
        "--resolve",
        f"{LAB_NAME}:{sbc.kamailio.tls_port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--identity-key",
        str(lab.sti.key),
        "--identity-cert",
        x5u,
        "--identity-attest",
        "A",
        "--format",
        "json",
    )
    assert code == 0, output + errors
    assert "PRIVATE KEY" not in output + errors
    report = json.loads(output)
    assert report["verdict"] == "pass", output
    note = f"the INVITE is signed for STIR/SHAKEN (attestation A, certificate {x5u})"
    assert note in report["notes"]
    assert sbc.sipp.wait() == 0, sbc.sipp.errors()

    fields = captured(sbc.sipp)
    names = [name for name, _ in fields]
    assert sorted(names) == ["Date", "From", "Identity", "To"], fields
    identity = dict(fields)["Identity"]
    assert identity.endswith(f";info=<{x5u}>;alg=ES256;ppt=shaken")

    verifier = StirVerifier(
        StirSettings(sti_trust=lab.sti.ca, sti_fetch_ca=lab.ca, sti_fetch_timeout=2.0)
    )
    outcome = await verifier.verify(fields, target="far end")
    statuses = {finding.check: finding.status for finding in outcome.findings}
    assert set(statuses.values()) == {Status.PASS}, outcome.findings
    assert overall_verdict(outcome.findings, STIR_CHECKS) is Verdict.PASS
    claims = outcome.evidence.checks[0].claims
    assert (claims.orig_tn, claims.dest_tns, claims.attest) == ("15550123", ("15550100",), "A")
    assert server.hits == {"/shaken.pem": 1}

    # The same Identity on a call to someone else is a PASSporT cut from another call.
    moved = [
        (name, "<sip:+15550199@elsewhere.test>" if name == "To" else value)
        for name, value in fields
    ]
    outcome = await verifier.verify(moved)
    by_check = {finding.check: finding for finding in outcome.findings}
    assert by_check["stir.claims"].status is Status.FAIL
    assert by_check["stir.claims"].details["cause"] == "dest_mismatch"
