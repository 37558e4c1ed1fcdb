"""Provider rules from their own documents, each passing and failing from the command line:
`sipprobe judge EVIDENCE --scenario FILE|builtin:NAME` on saved evidence made to trigger
the rule (the SBC's certificate, the Contact it sent, the TLS version, the SRTP answer).
Offline, as tests.cli.test_scenario_rules: every test runs with sockets refused."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from probe.cli.commands import cli
from probe.evidence.file import write_evidence
from probe.evidence.model import ProbeEvidence
from probe.evidence.run import (
    Endpoint,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunEvidence,
    RunSettings,
)
from probe.locate.records import LocateResult
from probe.report.exit_codes import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from probe.scenario.requests import call_evidence_path
from probe.sdp import Fingerprint, build_offer
from tests.cli.test_scenario_rules import (
    HOST,
    TLS_URI,
    finding,
    judge,
    no_network,
    probe,
    scenario,
    target,
    trust,
)
from tests.evidence import sample
from tests.sdp.samples import KEY28, KEY30, KEY46

__all__ = ["no_network"]  # the autouse fixture: no socket in this module either

KEY44 = base64.b64encode(bytes(range(44))).decode("ascii")  # AEAD_AES_256_GCM
IP_CONTACT = b"Contact: <sip:sipprobe@127.0.0.1:40000;transport=tls>"


def leaf(variant: str | None = None) -> bytes:
    """The lab's sbc.example.test leaf, or one of its variants, as DER."""
    pki = sample.lab()
    cert = pki.server.cert if variant is None else pki.variants[variant].chain[0]
    return cert.public_bytes(Encoding.DER)


def sbc_probe(
    *,
    contact: str | None = f"<sip:{HOST}:5061;transport=tls>",
    client_cert: bool = True,
    requested: bool = True,
    version: str = "TLSv1.2",
) -> ProbeEvidence:
    """A healthy target seen by an SBC: its OPTIONS carried `contact` (None: the IP
    Contact sipprobe sends by default) and, with `client_cert`, a client certificate."""
    evidence = probe(version=version)
    exchanges = evidence.exchanges
    if contact is not None:
        exchanges = tuple(
            replace(e, request=e.request.replace(IP_CONTACT, f"Contact: {contact}".encode()))
            for e in exchanges
        )
    assert evidence.tls is not None
    tls = replace(evidence.tls, client_cert_sent=client_cert, client_cert_requested=requested)
    return replace(evidence, exchanges=exchanges, tls=tls)


def saved_run(tmp_path: Path, evidence: ProbeEvidence, certificate: bytes | None) -> Path:
    """One endpoint's failover run, saved with the client certificate it offered."""
    uri = evidence.target.uri
    run = RunEvidence(
        command="failover",
        started_at=sample.STARTED_AT,
        duration_ms=5.0,
        settings=RunSettings(
            timeout_s=5.0,
            trust=trust(),
            client_cert=certificate is not None,
            client_certificate=certificate,
        ),
        uris=(
            ProbedUri(
                uri=uri,
                locate=LocateResult(uri, "explicit port", (), (), ()),
                targets=(ProbedTarget(evidence=evidence),),
                endpoint=Endpoint(uri, evidence.target.host, 0),
            ),
        ),
        failover=FailoverEvidence("list", (Placement(0, 0, uri),)),
    )
    path = tmp_path / "run.json"
    write_evidence(path, run)
    return path


WAIVED = "[failover]\nrequire_failover_path = false\n"


def teams(tmp_path: Path) -> Path:
    return scenario(tmp_path, "teams", TLS_URI, extra=WAIVED)


# --- Teams Direct Routing: SIPS URIs not used; Contact FQDN must match the certificate --


def test_teams_contact_matching_the_certificate_passes(tmp_path: Path) -> None:
    code, report = judge(saved_run(tmp_path, sbc_probe(), leaf()), teams(tmp_path))
    contact = finding(report, "policy.teams.contact")
    assert contact["status"] == "pass", contact["summary"]
    assert f"Contact {HOST} matches the SBC certificate" in contact["summary"]
    assert "Direct Routing – SIP protocol" in contact["summary"]
    assert code == EXIT_OK


def test_teams_contact_by_a_wildcard_passes(tmp_path: Path) -> None:
    _code, report = judge(saved_run(tmp_path, sbc_probe(), leaf("wildcard")), teams(tmp_path))
    contact = finding(report, "policy.teams.contact")
    assert contact["status"] == "pass", contact["summary"]
    assert "(by *.example.test)" in contact["summary"]


def test_teams_contact_with_an_ip_address_fails(tmp_path: Path) -> None:
    code, report = judge(saved_run(tmp_path, sbc_probe(contact=None), leaf()), teams(tmp_path))
    contact = finding(report, "policy.teams.contact")
    assert contact["status"] == "fail"
    assert "Contact host 127.0.0.1 is an IP address; Teams answers 403" in contact["summary"]
    assert code == EXIT_FAIL


def test_teams_contact_outside_the_certificate_fails(tmp_path: Path) -> None:
    code, report = judge(saved_run(tmp_path, sbc_probe(), leaf("wrong-host")), teams(tmp_path))
    contact = finding(report, "policy.teams.contact")
    assert contact["status"] == "fail"
    assert f"Contact FQDN {HOST} is in neither the CN nor a SAN" in contact["summary"]
    assert code == EXIT_FAIL


def test_teams_contact_without_a_client_certificate_is_unjudged(tmp_path: Path) -> None:
    _code, report = judge(saved_run(tmp_path, sbc_probe(client_cert=False), None), teams(tmp_path))
    contact = finding(report, "policy.teams.contact")
    assert contact["status"] == "skip"
    assert "no client certificate was offered" in contact["summary"]


def test_teams_builtin_judges_the_contact_too(tmp_path: Path) -> None:
    code, report = judge(
        saved_run(tmp_path, sbc_probe(contact=None), leaf()), "builtin:teams-direct-routing"
    )
    assert finding(report, "policy.teams.contact")["status"] == "fail"
    assert code == EXIT_FAIL


def test_teams_refuses_sips_uris_before_judging(tmp_path: Path) -> None:
    sips = scenario(tmp_path, "teams", f"sips:{HOST}:5061", extra=WAIVED)
    result = CliRunner().invoke(
        cli, ["judge", str(saved_run(tmp_path, sbc_probe(), leaf())), "--scenario", str(sips)]
    )
    assert result.exit_code == EXIT_USAGE
    assert "[teams.scheme]" in result.output
    _code, report = judge(saved_run(tmp_path, sbc_probe(), leaf()), teams(tmp_path))
    assert finding(report, "policy.teams.scheme")["status"] == "pass"


# --- Twilio: TLS 1.2 by default; AES_CM_128_HMAC_SHA1_80/_32; no MKI ---------------------


def twilio(tmp_path: Path, *, call: bool = False) -> Path:
    extra = WAIVED + (f'[invite]\nto = "sip:+15550100@{HOST}"\n' if call else "")
    return scenario(tmp_path, "twilio", TLS_URI, extra=extra)


@pytest.mark.parametrize(("version", "status"), [("TLSv1.2", "pass"), ("TLSv1.3", "pass")])
def test_twilio_tls_version_passes_from_1_2(tmp_path: Path, version: str, status: str) -> None:
    _code, report = judge(saved_run(tmp_path, sbc_probe(version=version), None), twilio(tmp_path))
    rule = finding(report, "policy.twilio.tls_version")
    assert rule["status"] == status, rule["summary"]
    assert "TLS 1.0/1.1 deprecation 2022-03-29" in rule["summary"]


def test_twilio_tls_version_fails_below_1_2(tmp_path: Path) -> None:
    evidence = saved_run(tmp_path, sbc_probe(version="TLSv1.1"), None)
    code, report = judge(evidence, twilio(tmp_path), "--min-tls", "1.1")
    assert finding(report, "policy.twilio.tls_version")["status"] == "fail"
    assert code == EXIT_FAIL


def call_run(
    tmp_path: Path,
    evidence: Path,
    offered: tuple[str, ...],
    answer_line: str,
    *,
    kind: str = "sdes",
) -> None:
    """The test call's evidence beside `evidence`: `offered` suites (or a DTLS offer),
    answered with `answer_line` (an a=crypto, or DTLS attributes)."""
    base = sample.call_evidence(target())
    assert base.call is not None
    assert base.tls is not None
    # The call went over the same mutual TLS as the OPTIONS.
    base = replace(base, tls=replace(base.tls, client_cert_sent=True, client_cert_requested=True))
    if kind == "dtls":
        fingerprint = Fingerprint("sha-256", ":".join(["AB"] * 32))
        offer = build_offer(
            "dtls",
            address="192.0.2.10",
            port=40000,
            session_id=7,
            random_bytes=bytes,
            fingerprint=fingerprint,
        )
        m_line = "m=audio 15366 UDP/TLS/RTP/SAVP 0"
    else:
        offer = build_offer(
            "sdes",
            address="192.0.2.10",
            port=40000,
            session_id=7,
            suites=offered,
            random_bytes=lambda n: bytes(range(n)),
        )
        m_line = "m=audio 15366 RTP/SAVP 0"
    answer = "\r\n".join(
        [
            "v=0",
            "o=- 1 1 IN IP4 203.0.113.5",
            "s=-",
            "c=IN IP4 203.0.113.5",
            "t=0 0",
            m_line,
            "a=rtpmap:0 PCMU/8000",
            answer_line,
            "",
        ]
    ).encode()
    call = replace(
        base.call,
        offer_kind=kind,
        offer=offer.to_bytes(reveal_keys=True),
        answer=answer,
        keys_sent=kind == "sdes",
        media=None,
    )
    run = RunEvidence(
        command="invite",
        started_at=sample.STARTED_AT,
        duration_ms=40.0,
        settings=RunSettings(timeout_s=5.0, trust=trust()),
        uris=(
            ProbedUri(
                uri=TLS_URI,
                locate=LocateResult(TLS_URI, "explicit port", (), (), ()),
                targets=(ProbedTarget(evidence=replace(base, call=call)),),
            ),
        ),
    )
    write_evidence(call_evidence_path(evidence), run)


@pytest.mark.parametrize(
    ("offered", "answer_line", "status", "words"),
    [
        (
            ("AES_CM_128_HMAC_SHA1_80",),
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}",
            "pass",
            "AES_CM_128_HMAC_SHA1_80",
        ),
        (
            ("AES_CM_128_HMAC_SHA1_32",),
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}",
            "pass",
            "AES_CM_128_HMAC_SHA1_32",
        ),
        (
            ("AES_256_CM_HMAC_SHA1_80",),
            f"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46}",
            "fail",
            "AES_256_CM_HMAC_SHA1_80 is not a Twilio suite",
        ),
        (
            ("AES_CM_128_HMAC_SHA1_80",),
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31|1:4",
            "fail",  # sdp.srtp fails an MKI the offer did not carry; Twilio's rule too
            "with an MKI, unsupported",
        ),
    ],
)
def test_twilio_srtp_suite(
    tmp_path: Path, offered: tuple[str, ...], answer_line: str, status: str, words: str
) -> None:
    evidence = saved_run(tmp_path, sbc_probe(), None)
    call_run(tmp_path, evidence, offered, answer_line)
    _code, report = judge(evidence, twilio(tmp_path, call=True))
    rule = finding(report, "policy.twilio.srtp_suite")
    assert rule["status"] == status, rule["summary"]
    assert words in rule["summary"]
    assert "AES_CM_128_HMAC_SHA1_80/_32, no MKI" in rule["summary"]
    if "MKI" in words:
        srtp = finding(report, "sdp.srtp")
        assert srtp["status"] == "fail"
        assert "uses an MKI (1:4)" in srtp["summary"]


# --- Google Dialogflow CX: TLS 1.2+, mutual TLS, no wildcard, AES_CM_128_HMAC_SHA1_80 ---


def dialogflow(tmp_path: Path, *, call: bool = False) -> Path:
    extra = WAIVED + (f'[invite]\nto = "sip:+15550100@{HOST}"\n' if call else "")
    return scenario(tmp_path, "dialogflow", TLS_URI, extra=extra)


def test_a_healthy_sbc_passes_every_dialogflow_rule(tmp_path: Path) -> None:
    evidence = saved_run(tmp_path, sbc_probe(), leaf())
    call_run(
        tmp_path,
        evidence,
        ("AES_CM_128_HMAC_SHA1_80",),
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}",
    )
    code, report = judge(evidence, dialogflow(tmp_path, call=True))
    rules = {
        f["check"]: f["status"] for f in report["findings"] if f["check"].startswith("policy.")
    }
    assert rules == {
        f"policy.dialogflow.{rule}": "pass"
        for rule in ("tls_version", "mutual_tls", "wildcard", "srtp_suite")
    }
    assert any("Google Dialogflow CX telephony" in note for note in report["notes"])
    assert code == EXIT_OK


def test_dialogflow_tls_version_below_1_2_fails(tmp_path: Path) -> None:
    evidence = saved_run(tmp_path, sbc_probe(version="TLSv1.1"), leaf())
    code, report = judge(evidence, dialogflow(tmp_path), "--min-tls", "1.1")
    rule = finding(report, "policy.dialogflow.tls_version")
    assert rule["status"] == "fail"
    assert "TLSv1.1: below TLS 1.2" in rule["summary"]
    assert code == EXIT_FAIL


@pytest.mark.parametrize(
    ("sent", "requested", "status", "words"),
    [
        (False, False, "fail", "no client certificate offered"),
        (True, False, "warn", "the server never asked for it"),
    ],
)
def test_dialogflow_mutual_tls(
    tmp_path: Path, sent: bool, requested: bool, status: str, words: str
) -> None:
    evidence = saved_run(
        tmp_path, sbc_probe(client_cert=sent, requested=requested), leaf() if sent else None
    )
    _code, report = judge(evidence, dialogflow(tmp_path))
    rule = finding(report, "policy.dialogflow.mutual_tls")
    assert rule["status"] == status, rule["summary"]
    assert words in rule["summary"]
    assert "mutual authentication" in rule["summary"]


def test_dialogflow_refuses_a_wildcard_certificate(tmp_path: Path) -> None:
    evidence = saved_run(tmp_path, sbc_probe(), leaf("wildcard"))
    code, report = judge(evidence, dialogflow(tmp_path))
    rule = finding(report, "policy.dialogflow.wildcard")
    assert rule["status"] == "fail"
    assert "wildcard name *.example.test (not supported)" in rule["summary"]
    assert code == EXIT_FAIL


@pytest.mark.parametrize(
    ("offered", "answer_line", "kind", "status", "words"),
    [
        (
            ("AEAD_AES_256_GCM",),
            f"a=crypto:1 AEAD_AES_256_GCM inline:{KEY44}",
            "sdes",
            "warn",
            "concepts-troubleshooting lists it",
        ),
        (
            ("AES_CM_128_HMAC_SHA1_32",),
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}",
            "sdes",
            "fail",
            "AES_CM_128_HMAC_SHA1_32 is not supported",
        ),
        (
            ("AEAD_AES_128_GCM",),
            f"a=crypto:1 AEAD_AES_128_GCM inline:{KEY28}",
            "sdes",
            "fail",
            "AEAD_AES_128_GCM is not supported",
        ),
        (
            (),
            "a=setup:active\r\na=fingerprint:sha-256 " + ":".join(["CD"] * 32),
            "dtls",
            "fail",
            "DTLS-SRTP; SDES is the one listed",
        ),
    ],
)
def test_dialogflow_srtp_suite(
    tmp_path: Path,
    offered: tuple[str, ...],
    answer_line: str,
    kind: str,
    status: str,
    words: str,
) -> None:
    evidence = saved_run(tmp_path, sbc_probe(), leaf())
    call_run(tmp_path, evidence, offered, answer_line, kind=kind)
    _code, report = judge(evidence, dialogflow(tmp_path, call=True))
    rule = finding(report, "policy.dialogflow.srtp_suite")
    assert rule["status"] == status, rule["summary"]
    assert words in rule["summary"]
    assert "AES_CM_128_HMAC_SHA1_80 only" in rule["summary"]


def test_dialogflow_builtin(tmp_path: Path) -> None:
    code, report = judge(
        saved_run(tmp_path, sbc_probe(client_cert=False), None), "builtin:dialogflow-cx"
    )
    assert finding(report, "policy.dialogflow.mutual_tls")["status"] == "fail"
    assert finding(report, "policy.dialogflow.wildcard")["status"] == "skip"
    assert code == EXIT_FAIL
