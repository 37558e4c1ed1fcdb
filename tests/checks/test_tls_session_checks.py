"""`tls.version`, `tls.versions`, `tls.ciphers`, `tls.client_cert` on hand-made evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from probe.evidence.model import HandshakeAttempt, TlsEnumeration, TlsEvidence
from probe.tls.suites import TLS12_SUITES, Grade, grade_suite
from probe.verdict.checks.tls_session import (
    check_ciphers,
    check_client_cert,
    check_version,
    check_versions,
)
from probe.verdict.findings import Status
from tests.checks.evidence_factory import evidence, exchange, options_request, response

TLS_OK = TlsEvidence(ok=True, sni="sbc.example.test", version="TLSv1.3", cipher="X")


def with_tls(tls: TlsEvidence, *, answered: bool = True):  # type: ignore[no-untyped-def]
    request = options_request()
    exchanges = (exchange(request, [response(request, 200, "OK")]),) if answered else ()
    return replace(evidence(*exchanges), tls=tls)


@pytest.mark.parametrize(
    ("negotiated", "minimum", "status"),
    [
        ("TLSv1.3", "1.2", Status.PASS),
        ("TLSv1.2", "1.2", Status.PASS),
        ("TLSv1.2", "1.3", Status.FAIL),
        ("TLSv1", "1.2", Status.FAIL),
    ],
)
def test_negotiated_version_against_the_minimum(
    negotiated: str, minimum: str, status: Status
) -> None:
    finding = check_version(with_tls(replace(TLS_OK, version=negotiated)), minimum)
    assert finding is not None
    assert finding.status is status


def test_no_version_in_common_is_a_version_failure() -> None:
    tls = TlsEvidence(
        ok=False,
        sni=None,
        error_kind="alert",
        alert="protocol version",
        error="the server sent TLS alert 'protocol version'",
    )
    finding = check_version(with_tls(tls, answered=False), "1.2")
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "--enumerate" in finding.summary


def test_other_handshake_failures_are_not_version_findings() -> None:
    tls = TlsEvidence(ok=False, sni=None, error_kind="timeout", error="timeout")
    assert check_version(with_tls(tls, answered=False), "1.2") is None


def attempts(**accepted: bool) -> tuple[HandshakeAttempt, ...]:
    return tuple(
        HandshakeAttempt(
            f"TLS {v}", v, "C" if ok else None, accepted=ok, error=None if ok else "refused"
        )
        for v, ok in ((k.replace("_", "."), val) for k, val in accepted.items())
    )


@pytest.mark.parametrize(
    ("accepted", "status", "words"),
    [
        ({"1_0": False, "1_1": False, "1_2": True, "1_3": True}, Status.PASS, "refuses 1.0, 1.1"),
        ({"1_0": True, "1_1": False, "1_2": True, "1_3": True}, Status.WARN, "TLS 1.0 still"),
        ({"1_0": True, "1_1": True, "1_2": False, "1_3": False}, Status.FAIL, "nothing at or"),
        ({"1_0": False, "1_1": False, "1_2": False, "1_3": False}, Status.FAIL, "nothing"),
    ],
)
def test_version_enumeration(accepted: dict[str, bool], status: Status, words: str) -> None:
    ev = replace(with_tls(TLS_OK), enumeration=TlsEnumeration(versions=attempts(**accepted)))
    finding = check_versions(ev, "1.2")
    assert finding is not None
    assert finding.status is status, finding.summary
    assert words in finding.summary


def suites(*accepted: str) -> TlsEnumeration:
    return TlsEnumeration(
        tls12_suites=tuple(
            HandshakeAttempt(
                name, "1.2", name if name in accepted else None, accepted=name in accepted
            )
            for name in TLS12_SUITES
        )
    )


@pytest.mark.parametrize(
    ("accepted", "status", "words"),
    [
        (
            ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA256"),
            Status.PASS,
            "all forward secret",
        ),
        (("ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA"), Status.WARN, "weak: AES128-SHA"),
        (("ECDHE-RSA-AES256-GCM-SHA384", "ADH-AES256-GCM-SHA384"), Status.FAIL, "anonymous"),
        (("NULL-SHA256",), Status.FAIL, "no encryption"),
    ],
)
def test_cipher_enumeration(accepted: tuple[str, ...], status: Status, words: str) -> None:
    ev = replace(with_tls(TLS_OK), enumeration=suites(*accepted))
    finding = check_ciphers(ev)
    assert finding is not None
    assert finding.status is status, finding.summary
    assert words in finding.summary


@pytest.mark.parametrize(
    ("name", "grade"),
    [
        ("ECDHE-ECDSA-CHACHA20-POLY1305", Grade.STRONG),
        ("ECDHE-RSA-AES128-SHA256", Grade.ACCEPTABLE),
        ("ECDHE-RSA-AES128-SHA", Grade.WEAK),
        ("AES256-GCM-SHA384", Grade.WEAK),
        ("AECDH-AES256-SHA", Grade.INSECURE),
        ("ECDHE-RSA-NULL-SHA", Grade.INSECURE),
    ],
)
def test_suite_grades(name: str, grade: Grade) -> None:
    assert grade_suite(name).grade is grade


def test_client_cert_not_requested() -> None:
    finding = check_client_cert(with_tls(replace(TLS_OK, client_cert_requested=False)))
    assert finding is not None
    assert finding.status is Status.PASS
    assert finding.details["requirement"] == "none"


def test_client_cert_optional() -> None:
    finding = check_client_cert(with_tls(replace(TLS_OK, client_cert_requested=True)))
    assert finding is not None
    assert finding.status is Status.PASS
    assert finding.details["requirement"] == "optional"


def test_client_cert_never_called_fine_before_a_response() -> None:
    tls = replace(TLS_OK, client_cert_requested=True, client_cert_sent=True)
    finding = check_client_cert(with_tls(tls, answered=False))
    assert finding is not None
    assert finding.status is Status.SKIP


def test_client_cert_refused_after_a_tls13_handshake() -> None:
    request = options_request()
    refused = exchange(
        request, [], outcome="tls_alert", error="the server sent TLS alert 'certificate required'"
    )
    ev = replace(evidence(refused), tls=replace(TLS_OK, client_cert_requested=True))
    finding = check_client_cert(ev)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "none was sent" in finding.summary
    assert finding.details["alert"] == "certificate required"


def test_client_cert_refused_during_a_tls12_handshake() -> None:
    tls = TlsEvidence(
        ok=False,
        sni=None,
        client_cert_requested=True,
        client_cert_sent=True,
        error_kind="alert",
        alert="unknown ca",
        error="the server sent TLS alert 'unknown ca'",
    )
    finding = check_client_cert(with_tls(tls, answered=False))
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "rejected our client certificate" in finding.summary


def test_an_unknown_version_name_is_judged_not_raised() -> None:
    unknown = (HandshakeAttempt("TLS 9.9", "9.9", "C", accepted=True),)
    ev = replace(with_tls(TLS_OK), enumeration=TlsEnumeration(versions=unknown))
    finding = check_versions(ev, "1.2")
    assert finding is not None
    assert finding.status is Status.FAIL
