"""`sip.auth`: a digest challenge (RFC 3261 §22) to OPTIONS or to the test call's INVITE,
and what came of it: which algorithms the server offered, in its order of preference
(RFC 8760 §2.3), which one sipprobe answered, and whether the far end took the answer.

A request reads as authenticated only when credentials went out and a final response
answered them; a challenge sipprobe could not answer never does. An MD5-only challenge
warns (RFC 8760 §3: MD5 is kept for backward compatibility only), and so does one that
lists MD5 above a SHA-2 hash: RFC 8760 §2.4 has a UAC answer the topmost challenge it
supports, so most clients would answer that server with MD5. Pure.
"""

from __future__ import annotations

from probe.evidence.model import AuthEvidence, ProbeEvidence
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

_MD5 = ("MD5", "MD5-sess")
_NO_CREDENTIALS = (
    "no credentials were given (--auth-file, or SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD)"
)


def _digest_algorithms(offered: list[str]) -> list[str]:
    return [name.removeprefix("Digest ") for name in offered if name.startswith("Digest ")]


def _weak_offer(offered: list[str]) -> str | None:
    """Why the server's offer itself is weak (RFC 8760 §3), or None."""
    algorithms = _digest_algorithms(offered)
    if algorithms and all(name in _MD5 for name in algorithms):
        return (
            "the server offers only MD5, which RFC 8760 §3 keeps for backward compatibility "
            "only: offer SHA-256 or SHA-512-256 too"
        )
    if algorithms and algorithms[0] in _MD5:
        stronger = next(name for name in algorithms if name not in _MD5)
        return (
            f"the server lists MD5 above {stronger}, so clients that answer the topmost "
            "challenge they support (RFC 8760 §2.4) answer with MD5"
        )
    return None


def _unanswered(auth: AuthEvidence) -> tuple[Status, str]:
    """The verdict on a challenge no request with credentials answered."""
    if not auth.credentials:
        return Status.SKIP, f"not answered: {_NO_CREDENTIALS}"
    from probe.sip import SipParseError, UnsupportedChallenge, choose_challenge

    try:
        choose_challenge(auth.challenges)
    except UnsupportedChallenge:
        return Status.INCOMPLETE, f"sipprobe cannot answer it: {auth.problem}"
    except SipParseError:
        return Status.FAIL, f"it cannot be answered: {auth.problem}"
    return Status.SKIP, f"not answered: {auth.problem or 'the request was not sent again'}"


def _answered(auth: AuthEvidence, method: str) -> tuple[Status, str]:
    """The verdict on the answer to the request sent with credentials."""
    qop = f", qop={auth.qop}" if auth.qop else ""
    sent = f"answered with {auth.answered_with}{qop}"
    code = auth.answer_status
    if code is None:
        return Status.INCOMPLETE, f"{sent}, but the {method} with credentials got no final answer"
    if code in (401, 407):
        return Status.FAIL, f"{sent}; the credentials were refused ({code} again)"
    if code == 403:
        return (
            Status.WARN,
            f"{sent}, then 403: the request was refused, for the credentials or for itself",
        )
    return Status.PASS, f"{sent}; the far end answered {code}"


def check_auth(auth: AuthEvidence, label: str, method: str) -> Finding:
    """`sip.auth` for the challenge to `method` (OPTIONS or INVITE)."""
    from probe.sip import challenge_algorithm

    offered = [challenge_algorithm(value) for value in auth.challenges]
    details: dict[str, JsonValue] = {
        "method": method,
        "status": auth.status,
        "offered": list(offered),
        "credentials": auth.credentials,
        "answered_with": auth.answered_with,
        "qop": auth.qop,
        "answer_status": auth.answer_status,
        "problem": auth.problem,
        "authenticated": auth.answered_with is not None and auth.answer_status is not None,
    }
    what = ", ".join(offered) if offered else "no challenge at all"
    prefix = f"{method} challenged with {auth.status}, offering {what}"
    if auth.answered_with is None:
        status, outcome = _unanswered(auth)
    else:
        status, outcome = _answered(auth, method)
    summary = f"{prefix}: {outcome}"
    weak = _weak_offer(offered)
    details["weak_offer"] = weak
    if weak is not None:
        summary += f"; {weak}"
        if status in (Status.PASS, Status.SKIP):
            status = Status.WARN
    return Finding(CheckId.SIP_AUTH, status, label, summary, details)


def _challenge(evidence: ProbeEvidence) -> tuple[AuthEvidence, str] | None:
    if evidence.call is not None and evidence.call.auth is not None:
        return evidence.call.auth, "INVITE"
    if evidence.auth is not None:
        return evidence.auth, "OPTIONS"
    return None


def _judge(evidence: ProbeEvidence) -> Finding | None:
    found = _challenge(evidence)
    if found is None:
        return None
    auth, method = found
    return check_auth(auth, evidence.target.label, method)


AUTH = Check(
    ids=(CheckId.SIP_AUTH,),
    reads=("target", "auth", "call"),
    applies=lambda evidence: _challenge(evidence) is not None,
    judge=lambda j: [_judge(j.evidence)],
)
