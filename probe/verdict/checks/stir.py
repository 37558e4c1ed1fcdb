"""STIR/SHAKEN findings: what verifying a request's Identity header concluded.

Five findings, one per step of RFC 8224 §6.2 as SHAKEN runs it (ATIS-1000074 §5.3):

- `stir.identity`: the Identity header field and its PASSporT header (full or compact
  form; `alg` ES256, `typ` passport, `ppt` shaken, `x5u`);
- `stir.certificate`: the certificate at `x5u` obtained, chained to the STI-CA trust
  list, with a TNAuthList for the caller;
- `stir.signature`: ES256 over the PASSporT with that certificate's key;
- `stir.claims`: `orig` and `dest` against the request, `iat` and Date fresh, `origid`;
- `stir.attestation`: the level asserted (A, B or C), proven only when all else held.

Each failing finding names its cause and what a verification service would answer (RFC
8224 §6.2.2: 428, 436, 437, 438; §6.2.1: 403 Stale Date). A step that could not run
because an earlier one failed is skipped with the reason; it is never a pass.

Pure: reads `StirEvidence` only.
"""

from __future__ import annotations

from probe.stir.model import Area, IdentityCheck, StirEvidence, StirProblem
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["STIR_CHECKS", "stir_findings"]

STIR_CHECKS: tuple[CheckId, ...] = (
    CheckId.STIR_IDENTITY,
    CheckId.STIR_CERTIFICATE,
    CheckId.STIR_SIGNATURE,
    CheckId.STIR_CLAIMS,
    CheckId.STIR_ATTESTATION,
)
"""The findings a verified request owes, in report order."""

_CHECK_OF: dict[Area, CheckId] = {
    "identity": CheckId.STIR_IDENTITY,
    "certificate": CheckId.STIR_CERTIFICATE,
    "signature": CheckId.STIR_SIGNATURE,
    "claims": CheckId.STIR_CLAIMS,
    "attestation": CheckId.STIR_ATTESTATION,
}
_PASSED = {
    "identity": "the Identity header field carries a {form}-form SHAKEN PASSporT (ES256)",
    "certificate": "the signing certificate is trusted",
    "signature": "the signature verifies",
    "claims": "the claims match the request",
    "attestation": "attestation verified",
}


def stir_findings(evidence: StirEvidence, *, target: str) -> list[Finding]:
    """One finding per STIR check for one request (`target` names it in the report)."""
    answer = evidence.response
    common: dict[str, JsonValue] = {
        "verifier_would_answer": None if answer is None else str(answer),
        "identity_fields": len(evidence.checks),
    }
    judged = evidence.judged
    if judged is None:
        return _without_identity(evidence, target, common)
    common["form"] = judged.form
    if len(evidence.checks) > 1 or evidence.ignored_fields:
        common["judged_field"] = judged.index
    return [_area_finding(area, judged, evidence, target, common) for area in _CHECK_OF]


def _without_identity(
    evidence: StirEvidence, target: str, common: dict[str, JsonValue]
) -> list[Finding]:
    if evidence.required:
        status = Status.FAIL
        summary = (
            "the request carries no Identity header field: a verifier that requires one "
            "answers 428 Use Identity Header (RFC 8224 §6.2.2)"
        )
    else:
        status = Status.SKIP
        summary = "the request carries no Identity header field (not required)"
    details = {
        **common,
        "cause": "identity_missing",
        "response": common["verifier_would_answer"],
        "sip": evidence.sip.to_dict(),
    }
    findings = [Finding(CheckId.STIR_IDENTITY, status, target, summary, details)]
    rest = "not checked: the request carries no Identity header field"
    findings += [
        Finding(check, Status.SKIP, target, rest, {"cause": "identity_missing"})
        for check in STIR_CHECKS[1:]
    ]
    return findings


def _area_finding(
    area: Area,
    judged: IdentityCheck,
    evidence: StirEvidence,
    target: str,
    common: dict[str, JsonValue],
) -> Finding:
    check = _CHECK_OF[area]
    problems = [problem for problem in judged.problems if problem.area == area]
    failing = [problem for problem in problems if problem.severity == "fail"]
    warning = [problem for problem in problems if problem.severity == "warn"]
    skipped = [why for where, why in judged.not_checked if where == area]
    notes = [note for where, note in judged.notes if where == area]
    details: dict[str, JsonValue] = {
        **common,
        **_facts(area, judged, evidence),
        "causes": [problem.cause for problem in problems],
        "problems": [problem.to_dict() for problem in problems],
        "held": notes,
    }
    if failing:
        first = failing[0]
        details["cause"] = first.cause
        details["response"] = None if first.response is None else str(first.response)
        return Finding(check, Status.FAIL, target, _sentence(first, len(failing)), details)
    if skipped:
        details["cause"] = "not_checked"
        return Finding(check, Status.SKIP, target, f"not checked: {skipped[0]}", details)
    if warning:
        details["cause"] = warning[0].cause
        return Finding(check, Status.WARN, target, _sentence(warning[0], len(warning)), details)
    summary = "; ".join(notes) if notes else _PASSED[area].format(form=judged.form)
    return Finding(check, Status.PASS, target, summary, details)


def _sentence(problem: StirProblem, count: int) -> str:
    text = problem.text
    if problem.response is not None:
        text += f"; a verifier answers {problem.response}"
    if count > 1:
        text += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
    return text


def _facts(area: Area, judged: IdentityCheck, evidence: StirEvidence) -> dict[str, JsonValue]:
    claims = judged.claims
    if area == "identity":
        return {
            "excerpt": judged.excerpt,
            "alg": claims.alg,
            "typ": claims.typ,
            "ppt": claims.ppt,
            "x5u": claims.x5u,
            "ignored_fields": evidence.ignored_fields,
        }
    if area == "certificate":
        return {
            "x5u": claims.x5u,
            "fetch": None if judged.fetch is None else judged.fetch.to_dict(),
            "certificate": judged.certificate.to_dict(),
            "trust": evidence.trust_source,
        }
    if area == "signature":
        return {"signature_valid": judged.signature_valid, "x5u": claims.x5u}
    if area == "claims":
        return {
            "orig_tn": claims.orig_tn,
            "dest_tns": list(claims.dest_tns),
            "dest_uris": list(claims.dest_uris),
            "iat": claims.iat,
            "origid": claims.origid,
            "checked_at": evidence.checked_at,
            "freshness": evidence.freshness,
            "sip": evidence.sip.to_dict(),
        }
    return {"attest": claims.attest}
