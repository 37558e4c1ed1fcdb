"""Each scenario and provider rule from the command line: a scenario file on disk, saved
evidence made to trigger the rule (no special server needed), and `sipprobe judge EVIDENCE
--scenario FILE`, asserting the rule's finding and the exit code. In process, and offline:
every test here runs with sockets refused."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from probe.cli.commands import cli
from probe.evidence.file import write_evidence
from probe.evidence.model import HandshakeAttempt, ProbeEvidence, Target, TlsEnumeration
from probe.evidence.run import (
    Endpoint,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunEvidence,
    RunSettings,
    TrustRecord,
)
from probe.locate.records import LocateResult
from probe.report.exit_codes import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from probe.scenario.requests import call_evidence_path
from tests.checks.evidence_factory import exchange, options_request, response
from tests.evidence import sample

HOST = "sbc.example.test"
HOST2 = "sbc2.example.test"  # not in the lab certificate: only for rules that ignore it
TLS_URI = f"sip:{HOST}:5061;transport=tls"
AES128_GCM = "ECDHE-RSA-AES128-GCM-SHA256"


def refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, opening a socket or resolving a name fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("judge opened a socket or resolved a name")

    monkeypatch.setattr(socket.socket, "__init__", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging is offline: every test here runs without sockets."""
    refuse_sockets(monkeypatch)


def target(host: str = HOST, port: int = 5061, transport: str = "tls") -> Target:
    uri = f"sip:{host}:{port};transport={transport}"
    return Target(uri, host, port, transport, "192.0.2.1", sni=host if transport == "tls" else None)  # type: ignore[arg-type]


def probe(
    where: Target | None = None,
    *,
    version: str = "TLSv1.2",
    cipher: str = AES128_GCM,
    variant: str | None = None,
    versions: tuple[str, ...] = (),
    rtt_ms: float = 2.5,
    contact: str | None = None,
) -> ProbeEvidence:
    """A healthy target (the lab's chain for sbc.example.test, a 200 to OPTIONS after
    `rtt_ms`), with what the test changes; `contact` replaces the OPTIONS' Contact value."""
    where = where or target()
    base = sample.tls_evidence(where)
    chain = base.tls.presented_chain if base.tls is not None else ()
    if variant is not None:
        chain = tuple(c.public_bytes(Encoding.DER) for c in sample.lab().variants[variant].chain)
    request = options_request()
    answered = exchange(request, [response(request, 200, "OK")], final_at=10.0 + rtt_ms)
    if contact is not None:
        sent = answered.request.replace(
            b"Contact: <sip:sipprobe@127.0.0.1:40000;transport=tls>", f"Contact: {contact}".encode()
        )
        answered = replace(answered, request=sent)
    tls = None
    if base.tls is not None and where.transport == "tls":
        tls = replace(base.tls, version=version, cipher=cipher, presented_chain=chain)
    enumeration = None
    if versions:
        enumeration = TlsEnumeration(
            versions=tuple(HandshakeAttempt(f"TLS {v}", v, None, True) for v in versions)
        )
    return replace(base, tls=tls, exchanges=(answered,), enumeration=enumeration)


def trust() -> TrustRecord:
    pem = sample.lab().root.cert.public_bytes(Encoding.PEM).decode("ascii")
    return TrustRecord("path", "file lab/ca.pem (1 certificate)", pem=pem)


def saved(
    tmp_path: Path, *probes: ProbeEvidence, first: int = 0, client_certificate: bytes | None = None
) -> Path:
    """A failover run over one endpoint per probe, tried from `first` on, saved as
    `--evidence-out` writes it (with the client certificate mutual TLS offered)."""
    uris = [
        ProbedUri(
            uri=p.target.uri,
            locate=LocateResult(p.target.uri, "explicit port", (), (), ()),
            targets=(ProbedTarget(evidence=p),),
            endpoint=Endpoint(p.target.uri, p.target.host, i),
        )
        for i, p in enumerate(probes)
    ]
    order = [first, *(i for i in range(len(probes)) if i != first)]
    run = RunEvidence(
        command="failover",
        started_at=sample.STARTED_AT,
        duration_ms=5.0,
        settings=RunSettings(timeout_s=5.0, trust=trust(), client_certificate=client_certificate),
        uris=tuple(uris),
        failover=FailoverEvidence("list", tuple(Placement(i, 0, uris[i].uri) for i in order)),
    )
    path = tmp_path / "run.json"
    write_evidence(path, run)
    return path


def scenario(tmp_path: Path, provider: str, *uris: str, extra: str = "") -> Path:
    endpoints = "".join(
        f'[[endpoint]]\nuri = "{uri}"\nregion = "r{i}"\n' for i, uri in enumerate(uris)
    )
    path = tmp_path / "trunk.toml"
    path.write_text(f'[trunk]\nname = "t"\nprovider = "{provider}"\n{endpoints}{extra}')
    return path


def judge(evidence: Path, spec: Path | str, *more: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["judge", str(evidence), "--scenario", str(spec), "--format", "json", *more]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def finding(report: dict[str, Any], check: str) -> dict[str, Any]:
    (found,) = [f for f in report["findings"] if f["check"] == check]
    return found


def statuses(report: dict[str, Any], check: str) -> list[str]:
    return [f["status"] for f in report["findings"] if f["check"] == check]


# --- the baseline: a healthy trunk passes every rule -----------------------------------


def test_a_healthy_trunk_passes_the_teams_rules(tmp_path: Path) -> None:
    # The SBC's Contact names its FQDN, which its client certificate carries.
    sbc_certificate = sample.lab().server.cert.public_bytes(Encoding.DER)
    evidence = saved(
        tmp_path,
        probe(contact=f"<sip:{HOST}:5061;transport=tls>"),
        client_certificate=sbc_certificate,
    )
    code, report = judge(
        evidence,
        scenario(tmp_path, "teams", TLS_URI, extra="[failover]\nrequire_failover_path = false\n"),
    )
    teams = {
        f["check"]: f["status"] for f in report["findings"] if f["check"].startswith("policy.")
    }
    assert teams == {
        f"policy.teams.{rule}": "pass"
        for rule in ("tls_version", "cipher", "eku", "identity", "scheme", "port", "contact")
    }
    assert report["verdict"] == "warn"  # one endpoint: the failover path the scenario waives
    assert code == EXIT_OK
    assert any(note.startswith("scenario t (Microsoft Teams") for note in report["notes"])


# --- Teams ----------------------------------------------------------------------------


def test_teams_tls_version(tmp_path: Path) -> None:
    teams = scenario(tmp_path, "teams", TLS_URI)
    code, report = judge(saved(tmp_path, probe(version="TLSv1.1")), teams, "--min-tls", "1.1")
    assert finding(report, "policy.teams.tls_version")["status"] == "fail"
    assert (
        "TLSv1.1: Teams requires TLS 1.2" in finding(report, "policy.teams.tls_version")["summary"]
    )
    assert code == EXIT_FAIL
    _code, report = judge(saved(tmp_path, probe(version="TLSv1.3")), teams)
    assert finding(report, "policy.teams.tls_version")["status"] == "warn"
    _code, report = judge(saved(tmp_path, probe(version="TLSv1.3", versions=("1.2", "1.3"))), teams)
    assert finding(report, "policy.teams.tls_version")["status"] == "pass"


def test_teams_cipher(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe(cipher="ECDHE-ECDSA-AES256-GCM-SHA384"))
    code, report = judge(evidence, scenario(tmp_path, "teams", TLS_URI))
    cipher = finding(report, "policy.teams.cipher")
    assert cipher["status"] == "fail"
    assert "ECDHE-ECDSA-AES256-GCM-SHA384 is not one of Teams' suites" in cipher["summary"]
    assert code == EXIT_FAIL


def test_teams_eku(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe(variant="no-server-auth"))
    code, report = judge(evidence, scenario(tmp_path, "teams", TLS_URI))
    eku = finding(report, "policy.teams.eku")
    assert eku["status"] == "fail"
    assert "EKU lacks serverAuth" in eku["summary"]
    assert code == EXIT_FAIL


def test_teams_identity_accepts_a_wildcard_and_refuses_another_host(tmp_path: Path) -> None:
    teams = scenario(tmp_path, "teams", TLS_URI)
    _code, report = judge(saved(tmp_path, probe(variant="wildcard")), teams)
    assert statuses(report, "tls.identity") == ["fail"]  # RFC 5922 forbids the wildcard
    identity = finding(report, "policy.teams.identity")
    assert identity["status"] == "pass"
    assert "Teams accepts it" in identity["summary"]
    code, report = judge(saved(tmp_path, probe(variant="wrong-host")), teams)
    identity = finding(report, "policy.teams.identity")
    assert identity["status"] == "fail"
    assert f"certificate does not cover {HOST}" in identity["summary"]
    assert code == EXIT_FAIL


def test_teams_port_is_the_port_probed(tmp_path: Path) -> None:
    # The scenario names 5061; the target was probed on 5062 (an SRV answer, a pin).
    evidence = saved(tmp_path, probe(target(port=5062)))
    code, report = judge(evidence, scenario(tmp_path, "teams", TLS_URI))
    port = finding(report, "policy.teams.port")
    assert port["status"] == "fail"
    assert f"{HOST} (192.0.2.1:5062/tls): TLS on port 5062" in port["summary"]
    assert code == EXIT_FAIL


# --- Twilio ---------------------------------------------------------------------------


def test_twilio_tls_version(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe(version="TLSv1.1"))
    code, report = judge(evidence, scenario(tmp_path, "twilio", TLS_URI), "--min-tls", "1.1")
    version = finding(report, "policy.twilio.tls_version")
    assert version["status"] == "fail"
    assert "error 32222" in version["summary"]
    assert code == EXIT_FAIL


def test_twilio_srtp_suite_reads_the_test_calls_evidence_beside(tmp_path: Path) -> None:
    twilio = scenario(tmp_path, "twilio", TLS_URI, extra=f'[invite]\nto = "sip:+15550100@{HOST}"\n')
    evidence = saved(tmp_path, probe())
    code, report = judge(evidence, twilio)
    # No call evidence: the call the scenario asks for is not judged, and says so.
    unjudged = finding(report, "sip.invite")
    assert unjudged["status"] == "incomplete"
    assert str(call_evidence_path(evidence)) in unjudged["summary"]
    assert finding(report, "policy.twilio.srtp_suite")["status"] == "skip"
    assert code != EXIT_OK
    call = RunEvidence(
        command="invite",
        started_at=sample.STARTED_AT,
        duration_ms=40.0,
        settings=RunSettings(timeout_s=5.0, trust=trust()),
        uris=(
            ProbedUri(
                uri=TLS_URI,
                locate=LocateResult(TLS_URI, "explicit port", (), (), ()),
                targets=(ProbedTarget(evidence=sample.call_evidence(target())),),
            ),
        ),
    )
    write_evidence(call_evidence_path(evidence), call)
    _code, report = judge(evidence, twilio)
    assert statuses(report, "sdp.srtp") == ["pass"]
    suite = finding(report, "policy.twilio.srtp_suite")
    assert suite["status"] == "pass"
    assert "AES_CM_128_HMAC_SHA1_80" in suite["summary"]
    assert statuses(report, "sip.invite") == ["pass"]


def test_twilio_secure_trunking(tmp_path: Path) -> None:
    plain = "sip:sbc.example.test:5060;transport=tcp"
    twilio = scenario(tmp_path, "twilio", plain, extra=f'[invite]\nto = "sip:+15550100@{HOST}"\n')
    code, report = judge(saved(tmp_path, probe(target(port=5060, transport="tcp"))), twilio)
    secure = finding(report, "policy.twilio.secure_trunking")
    assert secure["status"] == "fail"
    assert "32209" in secure["summary"]
    assert finding(report, "policy.twilio.port")["status"] == "skip"
    assert code == EXIT_FAIL


# --- Amazon Chime, retired services ------------------------------------------------------


def test_chime_port_and_routes(tmp_path: Path) -> None:
    plain = "sip:sbc.example.test:5060;transport=tcp"
    chime = scenario(tmp_path, "chime", plain, extra="[failover]\nrequire_failover_path = false\n")
    code, report = judge(saved(tmp_path, probe(target(port=5060, transport="tcp"))), chime)
    port = finding(report, "policy.chime.port")
    assert port["status"] == "warn"
    assert "not TLS" in port["summary"]
    assert finding(report, "policy.chime.routes")["status"] == "pass"
    assert code == EXIT_OK  # warnings only


def test_a_retired_service_warns(tmp_path: Path) -> None:
    spec = scenario(
        tmp_path,
        "generic",
        TLS_URI,
        extra="[failover]\nrequire_failover_path = false\n",
    )
    spec.write_text(spec.read_text().replace('name = "t"', 'name = "t"\nretired = "Gone in 2024."'))
    code, report = judge(saved(tmp_path, probe()), spec)
    retired = finding(report, "policy.generic.retired")
    assert (retired["status"], retired["summary"]) == ("warn", "Gone in 2024.")
    assert code == EXIT_OK
    _code, report = judge(saved(tmp_path, probe()), "builtin:ibm-voice-agent")
    assert finding(report, "policy.ibm-voice-agent.retired")["status"] == "warn"


# --- the scenario's own expectations -----------------------------------------------------


def test_max_rtt(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe(rtt_ms=40.0))
    waived = "[failover]\nrequire_failover_path = false\n"
    slow = scenario(tmp_path, "generic", TLS_URI, extra=f"{waived}[options]\nmax_rtt_ms = 25\n")
    code, report = judge(evidence, slow)
    rtt = finding(report, "scenario.max_rtt")
    assert rtt["status"] == "fail"
    assert rtt["summary"] == "OPTIONS round trip 40.0 ms, over the scenario's 25 ms"
    assert code == EXIT_FAIL
    fast = scenario(tmp_path, "generic", TLS_URI, extra=f"{waived}[options]\nmax_rtt_ms = 50\n")
    code, report = judge(evidence, fast)
    assert finding(report, "scenario.max_rtt")["status"] == "pass"
    assert code == EXIT_OK


def test_intended_primary(tmp_path: Path) -> None:
    second = f"sip:{HOST2}:5061;transport=tls"
    evidence = saved(tmp_path, probe(), probe(target(HOST2)), first=0)
    spec = scenario(tmp_path, "generic", TLS_URI, second, extra='[failover]\nprimary = "r1"\n')
    code, report = judge(evidence, spec, "--insecure")
    primary = finding(report, "scenario.primary")
    assert primary["status"] == "fail"
    assert primary["summary"] == "the provider tries r0 first, not the intended primary r1"
    assert code == EXIT_FAIL
    spec.write_text(spec.read_text().replace('primary = "r1"', 'primary = "r0"'))
    code, report = judge(evidence, spec, "--insecure")
    assert finding(report, "scenario.primary")["status"] == "pass"


def test_a_failover_path_not_required(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe())
    code, report = judge(evidence, scenario(tmp_path, "generic", TLS_URI))
    assert finding(report, "failover.redundancy")["status"] == "fail"
    assert code == EXIT_FAIL
    waived = scenario(
        tmp_path, "generic", TLS_URI, extra="[failover]\nrequire_failover_path = false\n"
    )
    code, report = judge(evidence, waived)
    redundancy = finding(report, "failover.redundancy")
    assert redundancy["status"] == "warn"
    assert redundancy["summary"].endswith("(the scenario does not require a failover path)")
    assert code == EXIT_OK


# --- the command itself ------------------------------------------------------------------


def test_the_scenarios_policy_and_the_command_lines(tmp_path: Path) -> None:
    # The scenario's [tls] min_version is the policy; --min-tls given here replaces it.
    evidence = saved(tmp_path, probe(version="TLSv1.1"))
    old = scenario(
        tmp_path,
        "generic",
        TLS_URI,
        extra='[failover]\nrequire_failover_path = false\n[tls]\nmin_version = "1.1"\n',
    )
    _code, report = judge(evidence, old)
    assert statuses(report, "tls.version") == ["pass"]
    _code, report = judge(evidence, old, "--min-tls", "1.2")
    assert statuses(report, "tls.version") == ["fail"]


def test_an_unusable_scenario_is_a_usage_error(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe())
    result = CliRunner().invoke(cli, ["judge", str(evidence), "--scenario", "builtin:nope"])
    assert result.exit_code == EXIT_USAGE
    assert "nope" in result.output


def test_judge_renders_every_report_format(tmp_path: Path) -> None:
    evidence = saved(tmp_path, probe(version="TLSv1.1"))
    teams = scenario(tmp_path, "teams", TLS_URI)
    result = CliRunner().invoke(cli, ["judge", str(evidence), "--scenario", str(teams), "--nagios"])
    assert result.exit_code == 2  # Nagios CRITICAL
    assert result.stdout.startswith("SIPPROBE CRITICAL")
    result = CliRunner().invoke(
        cli,
        ["judge", str(evidence), "--format", "junit", "--output", f"nagios={tmp_path / 'n.txt'}"],
    )
    assert result.stdout.startswith("<?xml")
    assert (tmp_path / "n.txt").read_text().startswith("SIPPROBE")
    for command in (["judge", str(evidence)], ["demo"]):
        bad = CliRunner().invoke(cli, [*command, "--format", "yaml"])
        assert bad.exit_code == EXIT_USAGE
        assert "console, json, junit, nagios" in bad.output
