"""`sip.auth` (probe.verdict.checks.auth) on hand-made evidence: what each outcome of a
digest challenge concludes, and what the server's offer alone warns about."""

from __future__ import annotations

import pytest

from probe.evidence.model import AuthEvidence
from probe.verdict.checks.auth import check_auth
from probe.verdict.findings import CheckId, Status

SHA = 'Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth"'
MD5 = 'Digest realm="r", nonce="n2", algorithm=MD5, qop="auth"'


def judged(**fields: object) -> tuple[Status, str]:
    auth = AuthEvidence(**{"status": 401, "challenges": (SHA,), **fields})  # type: ignore[arg-type]
    finding = check_auth(auth, "t", "OPTIONS")
    assert finding.check == CheckId.SIP_AUTH
    return finding.status, finding.summary


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        (
            {"credentials": True, "answered_with": "SHA-256", "answer_status": 200},
            Status.PASS,
            "answered 200",
        ),
        (
            {"credentials": True, "answered_with": "SHA-256", "answer_status": 404},
            Status.PASS,
            "answered 404",
        ),
        (
            {"credentials": True, "answered_with": "SHA-256", "answer_status": 403},
            Status.WARN,
            "403",
        ),
        (
            {"credentials": True, "answered_with": "SHA-256", "answer_status": 407},
            Status.FAIL,
            "refused (407 again)",
        ),
        ({"credentials": True, "answered_with": "SHA-256"}, Status.INCOMPLETE, "no final answer"),
        (
            {"credentials": True, "problem": "the call was being cancelled"},
            Status.SKIP,
            "being cancelled",
        ),
        ({}, Status.SKIP, "no credentials were given"),
    ],
)
def test_each_outcome(fields: dict[str, object], status: Status, words: str) -> None:
    got, summary = judged(**fields)
    assert got is status, summary
    assert words in summary
    assert summary.startswith("OPTIONS challenged with 401, offering Digest SHA-256: ")


def test_a_401_without_any_challenge_cannot_be_answered() -> None:
    status, summary = judged(challenges=(), credentials=True, problem="no usable Digest challenge")
    assert status is Status.FAIL
    assert "offering no challenge at all" in summary


@pytest.mark.parametrize(
    ("challenges", "warning"),
    [
        ((MD5,), "offers only MD5"),
        ((MD5.replace("MD5", "MD5-sess"), 'Basic realm="r"'), "offers only MD5"),
        ((MD5, SHA), "lists MD5 above SHA-256"),
    ],
)
def test_a_weak_offer_warns_even_when_credentials_are_accepted(
    challenges: tuple[str, ...], warning: str
) -> None:
    status, summary = judged(
        challenges=challenges, credentials=True, answered_with="MD5", answer_status=200
    )
    assert status is Status.WARN
    assert warning in summary


def test_a_weak_offer_does_not_soften_a_failure() -> None:
    status, summary = judged(
        challenges=(MD5,), credentials=True, answered_with="MD5", answer_status=401
    )
    assert status is Status.FAIL
    assert "offers only MD5" in summary


def test_sha_2_listed_first_is_no_warning() -> None:
    status, _summary = judged(
        challenges=(SHA, MD5), credentials=True, answered_with="SHA-256", answer_status=200
    )
    assert status is Status.PASS
