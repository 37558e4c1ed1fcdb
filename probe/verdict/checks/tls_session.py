"""Checks on the TLS session itself: `tls.version`, `tls.versions`, `tls.ciphers`,
`tls.client_cert`.

RFC 8996 deprecates TLS 1.0 and 1.1; RFC 9325 §4.1 says TLS 1.2 is the floor. Whether a
server merely *accepts* the old versions (it will still pick 1.3 with a modern client) is
a warning by default: a downgrade path, not a broken trunk.
"""

from __future__ import annotations

from collections.abc import Callable

from probe.evidence.model import TLS_TRANSPORTS, ProbeEvidence
from probe.tls.suites import Grade, grade_suite
from probe.tls.versions import TLS_WIRE_VERSIONS
from probe.verdict.checks.unit import Check, TargetJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

_VERSION_NAMES = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}


def version_number(openssl_name: str | None) -> str | None:
    """`TLSv1.2` → `1.2`."""
    return None if openssl_name is None else _VERSION_NAMES.get(openssl_name)


def at_least(version: str, minimum: str) -> bool:
    """`version` ≥ `minimum`; a name this tool does not know (say, from a hand-edited
    evidence file) never counts as good enough, and never raises."""
    known, floor = TLS_WIRE_VERSIONS.get(version), TLS_WIRE_VERSIONS.get(minimum)
    return known is not None and floor is not None and known >= floor


def check_version(evidence: ProbeEvidence, min_version: str) -> Finding | None:
    tls = evidence.tls
    target = evidence.target
    if tls is None:
        return None
    details: dict[str, JsonValue] = {"negotiated": tls.version, "minimum": min_version}
    if tls.ok:
        negotiated = version_number(tls.version)
        if negotiated is None or not at_least(negotiated, min_version):
            return Finding(
                CheckId.TLS_VERSION,
                Status.FAIL,
                target.label,
                f"negotiated {tls.version}, below the {min_version} minimum",
                details,
            )
        return Finding(
            CheckId.TLS_VERSION,
            Status.PASS,
            target.label,
            f"{tls.version} (minimum {min_version})",
            details,
        )
    if tls.alert == "protocol version" or tls.error_kind == "protocol":
        return Finding(
            CheckId.TLS_VERSION,
            Status.FAIL,
            target.label,
            f"the server accepts no TLS version at or above {min_version} ({tls.error})"
            + ("" if evidence.enumeration else "; --enumerate shows which it does accept"),
            details,
        )
    return None  # the handshake failed for another reason: tls.handshake says which


def check_versions(evidence: ProbeEvidence, min_version: str) -> Finding | None:
    enumeration = evidence.enumeration
    target = evidence.target
    if enumeration is None or not enumeration.versions:
        return None
    accepted = [a.version for a in enumeration.versions if a.accepted]
    refused = [a.version for a in enumeration.versions if not a.accepted and not a.local_refusal]
    untested = [a.version for a in enumeration.versions if a.local_refusal]
    details: dict[str, JsonValue] = {
        "accepted": accepted,
        "refused": refused,
        "untested": untested,
        "attempts": [
            {
                "version": a.version,
                "accepted": a.accepted,
                "cipher": a.negotiated_cipher,
                "error": a.error,
            }
            for a in enumeration.versions
        ],
    }
    summary = f"accepts TLS {', '.join(accepted) or 'nothing'}"
    if refused:
        summary += f"; refuses {', '.join(refused)}"
    if untested:
        summary += f"; not tested (this client cannot offer): {', '.join(untested)}"
    legacy = [v for v in accepted if not at_least(v, "1.2")]
    below_policy = [v for v in accepted if not at_least(v, min_version)]
    if not accepted:
        status = Status.FAIL
    elif not any(at_least(v, min_version) for v in accepted):
        status = Status.FAIL
        summary += f": nothing at or above the {min_version} minimum"
    elif legacy or below_policy:
        status = Status.WARN
        summary += (
            f" — TLS {', '.join(sorted(set(legacy) | set(below_policy)))} still accepted "
            "(RFC 8996 deprecates 1.0 and 1.1): a downgrade path"
        )
    else:
        status = Status.PASS
    return Finding(CheckId.TLS_VERSIONS, status, target.label, summary, details)


def check_ciphers(evidence: ProbeEvidence) -> Finding | None:
    enumeration = evidence.enumeration
    target = evidence.target
    if enumeration is None or not enumeration.tls12_suites:
        return None
    rows: list[JsonValue] = []
    by_grade: dict[Grade, list[str]] = {grade: [] for grade in Grade}
    for attempt in enumeration.tls12_suites:
        grade = grade_suite(attempt.label)
        rows.append(
            {
                "suite": attempt.label,
                "accepted": attempt.accepted,
                "grade": grade.grade.value,
                "why": grade.why,
                "untested": attempt.local_refusal,
            }
        )
        if attempt.accepted:
            by_grade[grade.grade].append(attempt.label)
    accepted = sum(len(names) for names in by_grade.values())
    details: dict[str, JsonValue] = {
        "suites": rows,
        "accepted": {grade.value: names for grade, names in by_grade.items() if names},
    }
    summary = f"TLS 1.2: {accepted} of {len(rows)} suites tried accepted"
    if by_grade[Grade.INSECURE]:
        names = ", ".join(by_grade[Grade.INSECURE])
        return Finding(
            CheckId.TLS_CIPHERS,
            Status.FAIL,
            target.label,
            f"{summary}; insecure: {names} ({grade_suite(by_grade[Grade.INSECURE][0]).why})",
            details,
        )
    if by_grade[Grade.WEAK]:
        names = ", ".join(by_grade[Grade.WEAK])
        return Finding(
            CheckId.TLS_CIPHERS,
            Status.WARN,
            target.label,
            f"{summary}; weak: {names}",
            details,
        )
    if accepted == 0:
        return Finding(CheckId.TLS_CIPHERS, Status.WARN, target.label, f"{summary} (none)", details)
    return Finding(
        CheckId.TLS_CIPHERS,
        Status.PASS,
        target.label,
        f"{summary}, all forward secret (strong: {len(by_grade[Grade.STRONG])})",
        details,
    )


def check_client_cert(evidence: ProbeEvidence) -> Finding | None:
    """`tls.client_cert`: asked for? sent? and how it ended.

    With TLS 1.3 the server judges our certificate (or its absence) after the client
    considers the handshake done, so the verdict waits for the first response.
    """
    tls = evidence.tls
    target = evidence.target
    if tls is None:
        return None
    requested = bool(tls.client_cert_requested)
    sent = tls.client_cert_sent
    first = evidence.exchanges[0] if evidence.exchanges else None
    alert = tls.alert if not tls.ok else None
    if first is not None and first.outcome == "tls_alert":
        alert = (first.error or "").removeprefix("the server sent TLS alert ").strip("'")
    answered = first is not None and first.outcome not in ("tls_alert", "reset", "send_failed")
    upgrade = evidence.websocket
    if upgrade is not None:
        # Over WSS the first response is the answer to the upgrade (RFC 6455 §4.1).
        if upgrade.error_kind == "tls_alert":
            alert = (upgrade.error or "").removeprefix("the server sent TLS alert ").strip("'")
        answered = bool(upgrade.response)
    details: dict[str, JsonValue] = {
        "requested": requested,
        "sent": sent,
        "alert": alert,
        "answered": answered,
    }

    def finding(status: Status, summary: str, requirement: str) -> Finding:
        details["requirement"] = requirement
        return Finding(CheckId.TLS_CLIENT_CERT, status, target.label, summary, details)

    if not requested:
        if not tls.ok:
            return None  # the handshake failed for another reason: tls.handshake says which
        return finding(Status.PASS, "the server did not ask for a client certificate", "none")
    if alert is not None:
        if sent:
            return finding(
                Status.FAIL,
                f"the server rejected our client certificate (TLS alert '{alert}')",
                "required",
            )
        return finding(
            Status.FAIL,
            f"the server requires a client certificate and none was sent (TLS alert '{alert}')",
            "required",
        )
    if not tls.ok:
        return finding(
            Status.FAIL,
            f"the handshake failed after the server asked for a client certificate: {tls.error}",
            "required",
        )
    if not answered:
        return finding(
            Status.SKIP,
            "the server asked for a client certificate; no response arrived to show whether "
            "it was accepted",
            "unknown",
        )
    if sent:
        return finding(
            Status.PASS, "the server asked for a client certificate and accepted ours", "requested"
        )
    return finding(
        Status.PASS,
        "the server asked for a client certificate but carried on without one (optional)",
        "optional",
    )


def _spoke_tls(evidence: ProbeEvidence) -> bool:
    return evidence.tls is not None


def _owes_enumeration(check: str) -> Callable[[ProbeEvidence], tuple[str, ...]]:
    def owes(evidence: ProbeEvidence) -> tuple[str, ...]:
        return (check,) if evidence.enumeration is not None else ()

    return owes


VERSION = Check(
    ids=(CheckId.TLS_VERSION,),
    reads=("tls",),
    applies=_spoke_tls,
    judge=lambda j: [check_version(j.evidence, j.policy.tls.min_version)],
)
CLIENT_CERT = Check(
    ids=(CheckId.TLS_CLIENT_CERT,),
    reads=("tls", "exchanges", "websocket"),
    applies=_spoke_tls,
    judge=lambda j: [check_client_cert(j.evidence)],
)
VERSIONS = Check(
    ids=(CheckId.TLS_VERSIONS,),
    reads=("enumeration",),
    applies=_spoke_tls,
    judge=lambda j: [check_versions(j.evidence, j.policy.tls.min_version)],
    owes=_owes_enumeration(CheckId.TLS_VERSIONS),
)
CIPHERS = Check(
    ids=(CheckId.TLS_CIPHERS,),
    reads=("enumeration",),
    applies=_spoke_tls,
    judge=lambda j: [check_ciphers(j.evidence)],
    owes=_owes_enumeration(CheckId.TLS_CIPHERS),
)


def _judge_certificates(judging: TargetJudging) -> list[Finding]:
    # Imported here: only a completed TLS handshake needs cryptography, and an OPTIONS
    # run over TCP or UDP never loads it.
    from probe.verdict.checks.certificate import judge_certificates

    policy = judging.policy
    if policy.now is None:
        raise ValueError("OptionsPolicy.now must be set before judging certificates")
    return judge_certificates(
        judging.evidence, policy.anchors, policy.tls, now=policy.now, verdicts=judging.verdicts
    )


def _handshake_done(evidence: ProbeEvidence) -> bool:
    return evidence.tls is not None and evidence.tls.ok


def _owes_chain_and_identity(evidence: ProbeEvidence) -> tuple[str, ...]:
    # RFC 5922 §7: a TLS target is only verified once its chain and its identity are;
    # a WSS one too, its TLS being the same (RFC 7118 §5.2.1, judged alike).
    if evidence.target.transport not in TLS_TRANSPORTS:
        return ()
    return (CheckId.TLS_CHAIN, CheckId.TLS_IDENTITY)


# The presented chain, judged by probe.verdict.checks.certificate.
CERTIFICATES = Check(
    ids=(
        CheckId.TLS_CHAIN,
        CheckId.TLS_IDENTITY,
        CheckId.TLS_VALIDITY,
        CheckId.TLS_KEY,
        CheckId.TLS_SIGNATURE,
        CheckId.TLS_EKU,
    ),
    # What CertificateInputs holds: the presented chain and the name asked for.
    reads=("target", "chain"),
    applies=_handshake_done,
    judge=_judge_certificates,
    owes=_owes_chain_and_identity,
)
