"""The PASSporT's claims against the request they came with (RFC 8224 §6.2.1, §6.2.3),
and the attestation they assert (RFC 8588 §4), for probe.stir.verify.

`iat` and the Date header field must be within the freshness window of the verifier's
clock and of each other; `orig` must be the caller the request names (P-Asserted-Identity
or From) and `dest` its callee (To or the Request-URI), numbers compared canonicalised
(RFC 8224 §8.3). Pure: `now` comes in.
"""

from __future__ import annotations

from probe.stir.header import excerpt
from probe.stir.model import STALE_DATE, Area, ClaimFacts, SipIdentities, StirProblem
from probe.stir.passport import ATTESTATION_LEVELS, problem
from probe.stir.tn import canonical_tn

Notes = list[tuple[Area, str]]

_ATTESTATION_MEANING = {
    "A": "full attestation: the provider knows the caller and that it may use the number",
    "B": "partial attestation: the provider knows the caller, not that it may use the number",
    "C": "gateway attestation: the provider only vouches for where the call entered its network",
}


def judge_time(
    claims: ClaimFacts,
    sip: SipIdentities,
    window: int,
    now: float,
    notes: Notes,
) -> list[StirProblem]:
    """RFC 8224 §6.2.1: the Date and iat within the freshness window of now and of each
    other (ATIS-1000074 §5.3.1: iat within 60 s)."""
    problems: list[StirProblem] = []
    if sip.date is None:
        problems.append(
            problem(
                "claims",
                "date_missing",
                "the request has no Date header field, which an authentication service adds "
                "(RFC 8224 §5, step 3)",
                severity="warn",
            )
        )
    elif sip.date_epoch is None:
        problems.append(
            problem(
                "claims",
                "date_unreadable",
                f"the Date header field {sip.date!r} is not an RFC 1123 date (RFC 3261 §20.17)",
                severity="warn",
            )
        )
    elif abs(now - sip.date_epoch) > window:
        problems.append(
            problem(
                "claims",
                "date_stale",
                f"the Date header field is {_age(now - sip.date_epoch)} by the verifier's "
                f"clock, outside the {window} s window (RFC 8224 §6.2.1)",
                STALE_DATE,
            )
        )
    if claims.iat is None:
        return problems
    if abs(now - claims.iat) > window:
        problems.append(
            problem(
                "claims",
                "iat_stale",
                f"iat is {_age(now - claims.iat)} by the verifier's clock, outside the "
                f"{window} s window: a replayed or delayed PASSporT (RFC 8224 §6.2.1, "
                "ATIS-1000074 §5.3.1)",
                STALE_DATE,
            )
        )
    elif sip.date_epoch is not None and abs(sip.date_epoch - claims.iat) > window:
        problems.append(
            problem(
                "claims",
                "iat_date_apart",
                f"iat and the Date header field are {_apart(sip.date_epoch - claims.iat)} apart, "
                f"more than the {window} s window (RFC 8224 §6.2.1)",
                STALE_DATE,
            )
        )
    else:
        notes.append(("claims", f"iat is {_age(now - claims.iat)}, within the {window} s window"))
    return problems


def _age(seconds: float) -> str:
    """`seconds` of a time before now (positive) or after it, in words."""
    size = abs(seconds)
    text = f"{size:.0f} s" if size < 3600 else f"{size / 3600:.1f} h"
    return f"{text} {'in the past' if seconds >= 0 else 'in the future'}"


def _apart(seconds: float) -> str:
    size = abs(seconds)
    return f"{size:.0f} s" if size < 3600 else f"{size / 3600:.1f} h"


def judge_parties(claims: ClaimFacts, sip: SipIdentities, notes: Notes) -> list[StirProblem]:
    """RFC 8224 §6.2.3: orig against P-Asserted-Identity or From, dest against To or the
    Request-URI, numbers compared canonicalised (§8.3)."""
    problems: list[StirProblem] = []
    if claims.orig_tn is not None:
        orig = canonical_tn(claims.orig_tn)
        if orig is None:
            problems.append(
                problem(
                    "claims",
                    "orig_not_a_number",
                    f"orig.tn {excerpt(claims.orig_tn, 40)!r} is not a telephone number "
                    "(RFC 8224 §8.3)",
                )
            )
        else:
            if orig != claims.orig_tn:
                problems.append(
                    problem(
                        "claims",
                        "orig_not_canonical",
                        f"orig.tn {claims.orig_tn!r} is not canonical (digits only, RFC 8225 "
                        "§5.2.1, RFC 8224 §8.3); compared as " + orig,
                        severity="warn",
                    )
                )
            problems += _orig_matches(orig, sip, notes)
    elif claims.orig_uri is not None:
        problems.append(
            problem(
                "claims",
                "orig_not_tn",
                "orig is a URI; SHAKEN asserts the caller's telephone number (orig.tn, "
                "RFC 8588 §4)",
            )
        )
    problems += _dest_matches(claims, sip, notes)
    return problems


def _orig_matches(orig: str, sip: SipIdentities, notes: Notes) -> list[StirProblem]:
    if orig in sip.pai_tns:
        notes.append(("claims", f"orig {orig} is the P-Asserted-Identity"))
        return []
    if orig == sip.from_tn:
        notes.append(("claims", f"orig {orig} is the From number"))
        return []
    named = [
        f"P-Asserted-Identity {', '.join(sip.pai_tns)}" if sip.pai_tns else None,
        f"From {sip.from_tn}" if sip.from_tn else None,
    ]
    shown = " and ".join(item for item in named if item) or "no telephone number in From"
    return [
        problem(
            "claims",
            "orig_mismatch",
            f"orig {orig} is not the caller the request names ({shown}): the PASSporT was "
            "signed for another call or another caller (RFC 8224 §6.2.3)",
        )
    ]


def _dest_matches(claims: ClaimFacts, sip: SipIdentities, notes: Notes) -> list[StirProblem]:
    if not claims.dest_tns and not claims.dest_uris:
        return []  # read_claims already failed dest
    dest = {canonical_tn(tn) for tn in claims.dest_tns} - {None}
    for number, where in ((sip.to_tn, "To"), (sip.request_uri_tn, "Request-URI")):
        if number is not None and number in dest:
            notes.append(("claims", f"dest names the {where} number {number}"))
            return []
    if sip.to_uri is not None and sip.to_uri in claims.dest_uris:
        notes.append(("claims", "dest names the To URI"))
        return []
    listed = ", ".join([*claims.dest_tns[:4], *claims.dest_uris[:2]])
    callee = sip.to_tn or sip.to_uri or "nothing"
    return [
        problem(
            "claims",
            "dest_mismatch",
            f"dest ({listed}) does not name the callee of the request (To: {callee}): a "
            "PASSporT cut from another call (RFC 8224 §6.2.3, RFC 8225 §11.1)",
        )
    ]


def judge_attestation(claims: ClaimFacts, floor: str | None, notes: Notes) -> list[StirProblem]:
    """RFC 8588 §4: the attest claim, A, B or C, against the policy's minimum `floor`."""
    attest = claims.attest
    if attest not in ATTESTATION_LEVELS:
        shown = "missing" if attest is None else f"{excerpt(attest, 20)!r}"
        return [
            problem(
                "attestation",
                "attest_missing" if attest is None else "attest_invalid",
                f"the SHAKEN claim attest is {shown}; it must be A, B or C (RFC 8588 §4)",
            )
        ]
    meaning = _ATTESTATION_MEANING[attest]
    if floor is not None and ATTESTATION_LEVELS.index(attest) > ATTESTATION_LEVELS.index(floor):
        return [
            problem(
                "attestation",
                "attest_below_minimum",
                f"attestation {attest} ({meaning}) is below the required {floor}",
                None,
            )
        ]
    if attest != "A":
        return [
            problem(
                "attestation",
                f"attest_{attest.lower()}",
                f"attestation {attest}: {meaning} (RFC 8588 §4)",
                severity="warn",
            )
        ]
    notes.append(("attestation", f"attestation A: {meaning}"))
    return []
