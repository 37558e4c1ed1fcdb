"""`net.connect`, `tls.handshake` and the skipped probe, on hand-made evidence."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from probe.evidence.model import ConnectEvidence, TlsEvidence
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.checks.connection import check_connect, check_handshake
from probe.verdict.findings import Status
from tests.checks.evidence_factory import TARGET, evidence

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def test_not_sent_names_the_failed_phase() -> None:
    ev = replace(
        evidence(),
        connect=ConnectEvidence(ok=False, error_kind="refused", error="connection refused"),
    )
    skipped = judge_options(ev, OptionsPolicy(now=NOW))[-1]
    assert skipped.check == "sip.options"
    assert skipped.status is Status.SKIP
    assert skipped.summary == "OPTIONS not sent: the connection failed"


def test_refused_connection() -> None:
    ev = replace(
        evidence(),
        connect=ConnectEvidence(
            ok=False,
            elapsed_ms=0.2,
            error_kind="refused",
            error="connection refused (nothing listens on that port)",
        ),
    )
    finding = check_connect(ev)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert finding.summary.startswith("cannot connect to 127.0.0.1:5061/tls")
    assert finding.target == "sbc.example.test (127.0.0.1:5061/tls)"


def test_handshake_failure_suggests_a_client_certificate() -> None:
    ev = replace(
        evidence(),
        tls=TlsEvidence(
            ok=False,
            sni="sbc.example.test",
            error_kind="alert",
            error="the server sent TLS alert 'handshake failure'",
            alert="handshake failure",
        ),
    )
    finding = check_handshake(ev)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "--cert/--key" in finding.summary


def test_handshake_pass_names_version_cipher_and_sni() -> None:
    ev = replace(
        evidence(),
        tls=TlsEvidence(
            ok=True,
            sni="sbc.example.test",
            elapsed_ms=3.25,
            version="TLSv1.3",
            cipher="TLS_AES_128_GCM_SHA256",
            cipher_bits=128,
        ),
    )
    finding = check_handshake(ev)
    assert finding is not None
    assert finding.status is Status.PASS
    assert finding.summary == "TLSv1.3 TLS_AES_128_GCM_SHA256 in 3.2 ms, SNI sbc.example.test"


def test_ip_literal_target_label() -> None:
    literal = replace(TARGET, host="192.0.2.7", address="192.0.2.7", sni=None)
    assert literal.label == "192.0.2.7:5061/tls"
    v6 = replace(TARGET, host="2001:db8::1", address="2001:db8::1")
    assert v6.label == "[2001:db8::1]:5061/tls"
