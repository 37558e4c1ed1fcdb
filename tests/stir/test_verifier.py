"""`StirVerifier`, the entry point a command that receives calls uses, end to end: Identity
headers signed at run time with the lab's STI PKI, the certificate served over HTTPS on
loopback for x5u. The hostile set of issue 19 — bad signature, alg none, wrong ppt, stale
iat, orig not matching From, a certificate without TNAuthList, an x5u that never answers,
one that serves 10 MB, a redirect loop, an http:// x5u — may not hang, crash or pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from probe.errors import SettingsError
from probe.run.stir import STIR_CHECKS, StirOutcome, StirVerifier
from probe.settings import StirSettings
from probe.stir.tn import http_date
from probe.tls.lab import LabFiles
from probe.tls.sti_lab import StiLab, shaken_certificate
from probe.verdict.findings import Status, Verdict, overall_verdict
from tests.stir.kit import (
    CALLEE,
    CALLER,
    Handler,
    Served,
    X5uServer,
    claims,
    endless,
    header,
    identity,
    ok,
    redirect,
    request,
    silent,
    token,
)

FETCH_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def sti_trust(tmp_path_factory: pytest.TempPathFactory, sti: StiLab) -> Path:
    """The lab STI-CA root as a trust list file (--sti-trust)."""
    path = tmp_path_factory.mktemp("sti") / "sti-ca.pem"
    path.write_bytes(sti.root.cert_pem())
    return path


def settings(lab: LabFiles, sti_trust: Path | None, **changes: Any) -> StirSettings:
    base = StirSettings(sti_trust=sti_trust, sti_fetch_ca=lab.ca, sti_fetch_timeout=FETCH_TIMEOUT)
    return replace(base, **changes)


async def run(
    served: Served,
    lab: LabFiles,
    trust: Path | None,
    routes: dict[str, Handler],
    make_fields: Callable[[X5uServer], list[tuple[str, str]]],
) -> tuple[StirOutcome, float, X5uServer]:
    server = await served.start(routes)
    verifier = StirVerifier(settings(lab, trust))
    started = time.monotonic()
    outcome = await verifier.verify(make_fields(server), target="inbound")
    return outcome, time.monotonic() - started, server


def by_check(outcome: StirOutcome) -> dict[str, Status]:
    return {finding.check: finding.status for finding in outcome.findings}


def verdict(outcome: StirOutcome) -> Verdict:
    return overall_verdict(outcome.findings, STIR_CHECKS)


def signed(sti: StiLab, x5u: str, **claim_changes: object) -> str:
    return identity(token(sti.shaken.key, header(x5u), claims(**claim_changes)), x5u)


async def test_a_signed_call_verifies_end_to_end(
    served: Served, lab: LabFiles, sti: StiLab, sti_trust: Path
) -> None:
    outcome, _elapsed, server = await run(
        served,
        lab,
        sti_trust,
        {"/shaken.pem": ok(sti.chain_pem())},
        lambda s: request(signed(sti, s.url("/shaken.pem"))),
    )
    assert set(by_check(outcome).values()) == {Status.PASS}, outcome.findings
    assert verdict(outcome) is Verdict.PASS
    assert outcome.evidence.response is None
    fetch = outcome.evidence.checks[0].fetch
    assert fetch is not None
    assert fetch.source == "https"
    assert fetch.status == 200
    assert server.hits == {"/shaken.pem": 1}
    assert all(finding.target == "inbound" for finding in outcome.findings)


async def test_the_verifier_caches_for_its_lifetime(
    served: Served, lab: LabFiles, sti: StiLab, sti_trust: Path
) -> None:
    server = await served.start({"/shaken.pem": ok(sti.chain_pem(), cache_control="max-age=600")})
    verifier = StirVerifier(settings(lab, sti_trust))
    for _ in range(3):
        outcome = await verifier.verify(request(signed(sti, server.url("/shaken.pem"))))
        assert verdict(outcome) is Verdict.PASS
    assert server.hits == {"/shaken.pem": 1}
    assert outcome.evidence.checks[0].fetch is not None
    assert outcome.evidence.checks[0].fetch.source == "cache"


HOSTILE_PASSPORTS = {
    "bad signature": lambda sti, x5u: identity(
        ".".join(token(sti.shaken.key, header(x5u), claims()).split(".")[:2])
        + "."
        + token(sti.shaken.key, header(x5u), claims(attest="B")).split(".")[2],
        x5u,
    ),
    "alg none": lambda sti, x5u: identity(
        token(sti.shaken.key, header(x5u, alg="none"), claims(), signature=b"\0"), x5u, alg="none"
    ),
    "wrong ppt": lambda sti, x5u: identity(
        token(sti.shaken.key, header(x5u, ppt="rph"), claims()), x5u, ppt="rph"
    ),
    "stale iat": lambda sti, x5u: identity(
        token(sti.shaken.key, header(x5u), claims(iat=int(time.time()) - 600)), x5u
    ),
    "orig not From": lambda sti, x5u: identity(
        token(sti.shaken.key, header(x5u), claims(orig={"tn": "12025550199"})), x5u
    ),
}
EXPECTED = {
    "bad signature": ("stir.signature", 438),
    "alg none": ("stir.identity", 438),
    "wrong ppt": ("stir.identity", 428),
    "stale iat": ("stir.claims", 403),
    "orig not From": ("stir.claims", 438),
}


@pytest.mark.parametrize("case", list(HOSTILE_PASSPORTS))
async def test_hostile_passports_fail_and_say_why(
    served: Served, lab: LabFiles, sti: StiLab, sti_trust: Path, case: str
) -> None:
    outcome, elapsed, _server = await run(
        served,
        lab,
        sti_trust,
        {"/shaken.pem": ok(sti.chain_pem())},
        lambda s: request(HOSTILE_PASSPORTS[case](sti, s.url("/shaken.pem"))),
    )
    check, code = EXPECTED[case]
    assert verdict(outcome) is Verdict.FAIL
    assert by_check(outcome)[check] is Status.FAIL, outcome.findings
    assert outcome.evidence.response is not None
    assert outcome.evidence.response.code == code
    assert by_check(outcome)["stir.attestation"] is not Status.PASS
    assert elapsed < 5


async def test_a_certificate_without_tnauthlist_fails(
    served: Served, lab: LabFiles, sti: StiLab, sti_trust: Path
) -> None:
    bare = shaken_certificate(sti.intermediate, tn_auth_list=False)

    def fields(server: X5uServer) -> list[tuple[str, str]]:
        x5u = server.url("/bare.pem")
        return request(identity(token(bare.key, header(x5u), claims()), x5u))

    routes = {"/bare.pem": ok(sti.chain_pem(bare))}
    outcome, _elapsed, _server = await run(served, lab, sti_trust, routes, fields)
    finding = {f.check: f for f in outcome.findings}["stir.certificate"]
    assert finding.status is Status.FAIL
    assert finding.details["cause"] == "tnauthlist_missing"
    assert outcome.evidence.response is not None
    assert outcome.evidence.response.code == 437
    assert by_check(outcome)["stir.signature"] is Status.PASS
    assert verdict(outcome) is Verdict.FAIL
    # Without any trust list it fails all the more.
    outcome, _elapsed, _server = await run(served, lab, None, routes, fields)
    assert verdict(outcome) is Verdict.FAIL


async def test_the_lab_written_to_disk_signs_and_verifies(served: Served, lab: LabFiles) -> None:
    # What `sipprobe certs lab` writes under sti/: the key signs, the chain is served at
    # x5u, the root is the trust list.
    from probe.run.stir import load_signer

    assert lab.sti is not None
    server = await served.start({"/shaken.pem": ok(lab.sti.chain.read_bytes())})
    signer = load_signer(lab.sti.key, server.url("/shaken.pem"))
    fields = request(
        signer.identity(orig_tn=CALLER, dest_tns=[CALLEE], iat=int(time.time()), origid="x")
    )
    outcome = await StirVerifier(settings(lab, lab.sti.ca)).verify(fields)
    held = by_check(outcome)
    assert held["stir.claims"] is Status.WARN  # origid "x" is no UUID
    assert {held[check] for check in STIR_CHECKS if check != "stir.claims"} == {Status.PASS}


HOSTILE_SERVERS: dict[str, tuple[Callable[[X5uServer], Handler] | None, str]] = {
    "never answers": (lambda s: silent(), "x5u_timeout"),
    "serves 10 MB": (lambda s: endless(announce=False), "x5u_too_large"),
    "announces 10 MB": (lambda s: endless(announce=True), "x5u_too_large"),
    "redirect loop": (lambda s: redirect(s.url("/shaken.pem")), "x5u_redirect_loop"),
    "http x5u": (None, "x5u_not_https"),
}


@pytest.mark.parametrize("case", list(HOSTILE_SERVERS))
async def test_hostile_x5u_servers_fail_with_436_and_never_hang(
    served: Served, lab: LabFiles, sti: StiLab, sti_trust: Path, case: str
) -> None:
    make_handler, cause = HOSTILE_SERVERS[case]
    server = await served.start({})
    if make_handler is not None:
        server.routes["/shaken.pem"] = make_handler(server)
        x5u = server.url("/shaken.pem")
    else:
        server.routes["/shaken.pem"] = ok(sti.chain_pem())
        x5u = f"http://127.0.0.1:{server.port}/shaken.pem"
    verifier = StirVerifier(settings(lab, sti_trust))
    started = time.monotonic()
    outcome = await verifier.verify(request(signed(sti, x5u)))
    assert time.monotonic() - started < FETCH_TIMEOUT + 2
    findings = {f.check: f for f in outcome.findings}
    assert findings["stir.certificate"].status is Status.FAIL
    assert findings["stir.certificate"].details["cause"] == cause
    assert outcome.evidence.response is not None
    assert outcome.evidence.response.code == 436
    assert findings["stir.signature"].status is Status.SKIP
    assert verdict(outcome) is Verdict.FAIL
    if make_handler is None:
        assert server.hits == {}


async def test_certificates_come_from_a_directory_offline(
    tmp_path: Path, lab: LabFiles, sti: StiLab, sti_trust: Path
) -> None:
    (tmp_path / "shaken.pem").write_bytes(sti.chain_pem())
    verifier = StirVerifier(settings(lab, sti_trust, sti_cert_dir=tmp_path))
    # The host does not exist: nothing is fetched, the directory answers.
    x5u = "https://sti.cert.invalid/certs/shaken.pem"
    outcome = await verifier.verify(request(signed(sti, x5u)))
    assert verdict(outcome) is Verdict.PASS, outcome.findings
    assert outcome.evidence.checks[0].fetch is not None
    assert outcome.evidence.checks[0].fetch.source == "directory"


async def test_the_request_date_and_the_injected_clock_are_used(
    lab: LabFiles, sti: StiLab, sti_trust: Path, tmp_path: Path
) -> None:
    (tmp_path / "shaken.pem").write_bytes(sti.chain_pem())
    verifier = StirVerifier(settings(lab, sti_trust, sti_cert_dir=tmp_path, sti_freshness=30))
    x5u = "https://sti.cert.invalid/shaken.pem"
    now = time.time()
    fields = request(signed(sti, x5u, iat=int(now)), date=http_date(now))
    assert verdict(await verifier.verify(fields, now=now + 29)) is Verdict.PASS
    outcome = await verifier.verify(fields, now=now + 31)
    assert by_check(outcome)["stir.claims"] is Status.FAIL


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sti_fetch_timeout": 0.0}, "--sti-fetch-timeout"),
        ({"sti_fetch_timeout": float("nan")}, "--sti-fetch-timeout"),
        ({"sti_fetch_timeout": 25.0}, "--sti-fetch-timeout .*at most 20"),
        ({"sti_freshness": 0}, "--sti-freshness"),
        ({"sti_min_attest": "D"}, "--sti-min-attest"),
        ({"sti_cert_dir": Path("/nonexistent/certs")}, "--sti-cert-dir"),
        ({"sti_cert_dir": Path(__file__)}, "--sti-cert-dir .*: not a directory"),
    ],
)
def test_settings_that_cannot_be_used_are_refused_before_any_call(
    lab: LabFiles, sti_trust: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        StirVerifier(settings(lab, sti_trust, **changes))


def test_an_unusable_fetch_ca_is_refused(lab: LabFiles, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(SettingsError, match="--sti-fetch-ca"):
        StirVerifier(replace(settings(lab, None), sti_fetch_ca=tmp_path / "junk.pem"))
    # A directory of PEM files is a CA too.
    (tmp_path / "junk.pem").unlink()
    (tmp_path / "ca.pem").write_bytes(lab.ca.read_bytes())
    StirVerifier(replace(settings(lab, None), sti_fetch_ca=tmp_path))


def test_an_unreadable_trust_list_is_refused(lab: LabFiles, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--sti-trust"):
        StirVerifier(settings(lab, tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(SettingsError, match="--sti-trust"):
        StirVerifier(settings(lab, tmp_path / "junk.pem"))
