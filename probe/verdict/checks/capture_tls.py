"""Checks of the TLS a capture holds: `pcap.tls` and `pcap.tls_chain`, per session.

Sessions whose handshakes read the same (server, name asked for, versions, suites,
certificates, outcome) are judged together, as one finding that counts them.

`pcap.tls` judges what the hellos show: the version chosen against the policy's minimum
(RFC 8996 deprecates 1.0 and 1.1; RFC 9325 §4.1), the suite chosen as a live probe grades
suites (probe.tls.wire), what else the client offered, and a handshake that failed.
`pcap.tls_chain` judges the certificates the server presented with the very checks of a
live probe (probe.verdict.checks.certificate: chain to the trust anchors, RFC 5922
identity for the name the client asked for, validity, key, signature, EKU), at the
moment of the handshake unless the policy says another. TLS 1.3 encrypts the server's
certificates (RFC 8446 §4.4.2): such a chain is skipped, never passed, and is not owed.

A handshake only partly in the capture is incomplete, with what is missing; a connection
that began before the capture shows no handshake at all, which is said and not owed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from probe.evidence.capture import CaptureEvidence, TlsSessionSeen
from probe.tls.suites import Grade
from probe.tls.versions import TLS_WIRE_VERSIONS
from probe.tls.wire import (
    SIGNALLING,
    TLS13,
    is_anonymous,
    suite_grade,
    suite_name,
    suite_openssl_name,
    version_name,
    version_number,
)
from probe.verdict.checks.policy import OptionsPolicy
from probe.verdict.checks.unit import CaptureCheck, CaptureJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["TLS"]

_SHOWN = 20
"""Clients and frames a finding lists (the evidence keeps every session it listed)."""

_Make = Callable[[Status, str], Finding]
"""A finding of one session group: (status, summary) → Finding."""


@dataclass(slots=True)
class _Group:
    """Sessions whose handshakes read the same: judged once."""

    first: TlsSessionSeen
    sessions: list[TlsSessionSeen] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sessions)


def _key(session: TlsSessionSeen) -> tuple[object, ...]:
    alert = session.alert
    return (
        session.server,
        session.sni,
        session.client_version,
        session.offered_versions,
        session.offered_ciphers,
        session.version,
        session.cipher,
        session.hello_retry,
        session.resumed,
        session.presented_chain,
        session.client_certificate,
        None if alert is None else (alert.sender, alert.level, alert.description),
        session.mid_stream,
        session.missing,
        session.problem,
        session.ended if session.version is None else None,
    )


def _groups(sessions: Sequence[TlsSessionSeen]) -> list[_Group]:
    groups: dict[tuple[object, ...], _Group] = {}
    for session in sorted(sessions, key=lambda s: s.first_frame):
        group = groups.setdefault(_key(session), _Group(session))
        group.sessions.append(session)
    return list(groups.values())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _where(group: _Group) -> str:
    """`TLS session 192.0.2.1:40000 → 192.0.2.2:5061 (SNI sip.example.com, frame 4)`, or
    for several, `3 TLS sessions to 192.0.2.2:5061 (SNI ..., first in frame 4)`."""
    first = group.first
    name = f"SNI {first.sni}" if first.sni else "no SNI"
    if group.count == 1:
        return f"TLS session {first.client} → {first.server} ({name}, frame {first.first_frame})"
    return (
        f"{group.count} TLS sessions to {first.server} ({name}, first in frame {first.first_frame})"
    )


def _alert_text(session: TlsSessionSeen) -> str:
    from probe.pcap.tls_records import alert_name

    alert = session.alert
    if alert is None:
        return ""
    level = "fatal alert" if alert.level == 2 else "alert"
    return (
        f"the {alert.sender} sent the {level} {alert_name(alert.description)} (frame {alert.frame})"
    )


def _offered(session: TlsSessionSeen) -> str:
    if session.offered_versions:
        return ", ".join(version_name(v) for v in session.offered_versions)
    if session.client_version is not None:
        return f"up to {version_name(session.client_version)}"
    return "not seen"


def _session_details(group: _Group) -> dict[str, JsonValue]:
    first = group.first
    return {
        "sessions": group.count,
        "server": first.server,
        "clients": sorted({s.client for s in group.sessions})[:_SHOWN],
        "frames": [s.first_frame for s in group.sessions[:_SHOWN]],
        "sni": first.sni,
        "offered_versions": [version_name(v) for v in first.offered_versions],
        "client_version": None
        if first.client_version is None
        else version_name(first.client_version),
        "offered_ciphers": [suite_name(c) for c in first.offered_ciphers],
        "version": None if first.version is None else version_name(first.version),
        "cipher": None if first.cipher is None else suite_name(first.cipher),
        "cipher_openssl": None if first.cipher is None else suite_openssl_name(first.cipher),
        "hello_retry": first.hello_retry,
        "resumed": first.resumed,
        "client_certificate": first.client_certificate,
        "alert": _alert_text(first) or None,
        "client_hello_frame": first.client_hello_frame,
        "server_hello_frame": first.server_hello_frame,
        "missing": first.missing,
        "problem": first.problem,
        "ended": first.ended,
    }


def _version_label(value: int) -> str:
    """`TLS 1.2`, `SSL 3.0`, `TLS 1.3 draft 28`, `TLS version 0x1234`."""
    name = version_name(value)
    if name.startswith("SSL"):
        return name
    return f"TLS {name}" if name[0].isdigit() else f"TLS version {name}"


def _minimum(policy: OptionsPolicy) -> tuple[str, int]:
    minimum = policy.tls.min_version
    return minimum, TLS_WIRE_VERSIONS.get(minimum, TLS_WIRE_VERSIONS["1.2"])


def _session_finding(group: _Group, label: str, policy: OptionsPolicy) -> Finding:
    first = group.first
    where = _where(group)
    details = _session_details(group)

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.PCAP_TLS, status, label, f"{where}: {summary}", details)

    if first.problem is not None:
        return finding(Status.INCOMPLETE, f"the handshake could not be read: {first.problem}")
    if first.mid_stream:
        return finding(
            Status.SKIP,
            "the connection began before the capture, so its handshake is not in it; only "
            "encrypted records were seen",
        )
    if first.version is None:
        return _unanswered(first, finding)
    minimum, floor = _minimum(policy)
    name = _version_label(first.version)
    cipher = suite_name(first.cipher) if first.cipher is not None else "no suite"
    failures: list[str] = []
    warnings: list[str] = []
    if version_number(first.version) is None and first.version > TLS13:
        failures.append(f"{name} is not a released TLS version")
    elif first.version < floor:
        failures.append(f"{name} is below the {minimum} minimum (RFC 8996, RFC 9325 §4.1)")
    grade = suite_grade(first.cipher) if first.cipher is not None else None
    if grade is None:
        warnings.append(f"the suite {cipher} is not one sipprobe knows, so it is not graded")
    elif grade.grade is Grade.INSECURE:
        failures.append(f"the suite is insecure: {grade.why}")
    elif grade.grade is Grade.WEAK:
        warnings.append(f"the suite is weak: {grade.why}")
    details["cipher_grade"] = None if grade is None else grade.grade.value
    legacy = [v for v in first.offered_versions if v < TLS_WIRE_VERSIONS["1.2"]]
    if legacy:
        warnings.append(
            f"the client also offered {', '.join(version_name(v) for v in legacy)} "
            "(RFC 8996 deprecates them): a downgrade path"
        )
    insecure = [
        suite_name(c)
        for c in first.offered_ciphers
        if c not in SIGNALLING and (g := suite_grade(c)) is not None and g.grade is Grade.INSECURE
    ]
    details["offered_insecure"] = insecure
    if insecure:
        shown = ", ".join(insecure[:3]) + (", …" if len(insecure) > 3 else "")
        warnings.append(f"the client offered insecure suites ({shown})")
    if first.alert is not None and first.alert.level == 2:
        warnings.append(f"the handshake failed: {_alert_text(first)}")
    summary = f"{name}, {cipher}"
    if failures or warnings:
        summary += "; " + "; ".join([*failures, *warnings])
    status = Status.FAIL if failures else Status.WARN if warnings else Status.PASS
    return finding(status, summary)


def _unanswered(first: TlsSessionSeen, finding: _Make) -> Finding:
    """A session whose ServerHello is not in the capture."""
    offered = f"the client offered {_offered(first)}"
    if first.missing is not None:
        return finding(
            Status.INCOMPLETE,
            f"the handshake is not whole in the capture ({first.missing}), so its version "
            f"and suite are unknown; {offered}",
        )
    if first.alert is not None:
        return finding(Status.WARN, f"the handshake failed: {_alert_text(first)}; {offered}")
    if first.ended in ("closed", "reset") and first.client_hello_frame is not None:
        how = "was reset" if first.ended == "reset" else "closed"
        return finding(
            Status.WARN,
            f"the handshake failed: the connection {how} before the server's ServerHello; "
            f"{offered}",
        )
    return finding(
        Status.INCOMPLETE,
        f"the capture ends before the server's ServerHello ({first.ended}); {offered}",
    )


def _address(endpoint: str) -> str:
    """`192.0.2.2:5061` → `192.0.2.2`; `[2001:db8::2]:5061` → `2001:db8::2`."""
    host = endpoint.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


def _chain_finding(group: _Group, label: str, policy: OptionsPolicy) -> Finding:
    first = group.first
    server = f"{first.server} ({f'SNI {first.sni}' if first.sni else 'no SNI'}"
    if group.count > 1:
        server += f", {group.count} sessions"
    where = f"chain presented by {server}, frame {first.certificate_frame or first.first_frame})"
    details: dict[str, JsonValue] = {
        "server": first.server,
        "sni": first.sni,
        "sessions": group.count,
        "version": None if first.version is None else version_name(first.version),
        "certificate_frame": first.certificate_frame,
        "presented_count": len(first.presented_chain),
    }

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.PCAP_TLS_CHAIN, status, label, f"{where}: {summary}", details)

    if first.presented_chain:
        return _judged_chain(first, label, policy, details, finding)
    if first.mid_stream:
        return finding(Status.SKIP, "the handshake is not in the capture")
    if first.version is not None and first.version >= TLS13:
        return finding(
            Status.SKIP,
            f"{_version_label(first.version)} encrypts the server's certificates (RFC 8446 "
            "§4.4.2): the chain cannot be judged from a capture; `sipprobe options` judges "
            "it live",
        )
    if first.resumed:
        return finding(
            Status.SKIP,
            "a resumed session (RFC 5246 §7.3): no certificate is sent; the session it "
            "resumed showed the chain",
        )
    if first.cipher is not None and is_anonymous(first.cipher):
        return finding(
            Status.SKIP, f"the suite {suite_name(first.cipher)} has the server send no certificate"
        )
    if first.problem is not None:
        return finding(Status.INCOMPLETE, f"the handshake could not be read: {first.problem}")
    if first.missing is not None:
        return finding(
            Status.INCOMPLETE, f"the server's certificates are not in the capture ({first.missing})"
        )
    if first.alert is not None and first.alert.level == 2:
        return finding(
            Status.SKIP, f"the handshake ended before any certificate: {_alert_text(first)}"
        )
    if first.version is None and first.ended in ("closed", "reset"):
        return finding(Status.SKIP, f"the handshake ended before any certificate ({first.ended})")
    return finding(
        Status.INCOMPLETE,
        f"no Certificate message from the server is in the capture (the connection: {first.ended})",
    )


def _judged_chain(
    first: TlsSessionSeen,
    label: str,
    policy: OptionsPolicy,
    details: dict[str, JsonValue],
    finding: _Make,
) -> Finding:
    """The certificate checks of a live probe, on the chain this handshake presented."""
    from probe.verdict.checks.certificate import judge_presented_chain
    from probe.verdict.checks.memo import CertificateInputs

    # RFC 5922 §7.2 matches the name the client dialled; a capture shows it as the SNI. A
    # client that sent none (an address dialled: RFC 6066 §3 allows no literal) is judged
    # for the address it connected to, as a live probe of that address would be.
    host = first.sni or _address(first.server)
    when = first.server_hello_time if first.server_hello_time is not None else first.first_time
    now = policy.now or dt.datetime.fromtimestamp(when, dt.UTC)
    findings = judge_presented_chain(
        CertificateInputs(first.presented_chain, host, first.sni),
        label,
        policy.anchors,
        policy.tls,
        now=now,
    )
    details |= {
        "judged_for": host,
        "judged_at": now.isoformat(timespec="seconds"),
        "judged_at_from": "the policy (--now)" if policy.now else "the handshake's capture time",
        "trust": None if policy.anchors is None else policy.anchors.source,
        "checks": [
            {
                "check": f.check,
                "status": f.status.value,
                "summary": f.summary,
                "details": dict(f.details),
            }
            for f in findings
        ],
    }
    statuses = {f.status for f in findings}
    bad = [f for f in findings if f.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    told = "; ".join(f"{f.check}: {f.summary}" for f in bad)
    if statuses & {Status.FAIL, Status.ERROR}:
        return finding(Status.FAIL, told)
    unjudged = [f for f in findings if f.status is Status.SKIP]
    if unjudged:
        reasons = "; ".join(f"{f.check}: {f.summary}" for f in unjudged)
        return finding(Status.SKIP, reasons + (f"; {told}" if told else ""))
    if bad:
        return finding(Status.WARN, told)
    passed = "; ".join(f.summary for f in findings if f.check in ("tls.chain", "tls.identity"))
    return finding(Status.PASS, f"{passed}; validity, key, signature and EKU pass")


def _chain_expected(session: TlsSessionSeen) -> bool:
    """Whether the server's certificates should be in the clear in this session."""
    if session.presented_chain:
        return True
    return (
        session.version is not None
        and session.version < TLS13
        and not session.resumed
        and not (session.cipher is not None and is_anonymous(session.cipher))
    )


def _applies(evidence: CaptureEvidence) -> bool:
    return evidence.tls is not None and evidence.tls.sessions_total > 0


def _owes(evidence: CaptureEvidence) -> tuple[str, ...]:
    tls = evidence.tls
    if tls is None:
        return ()
    owed: list[str] = []
    if tls.sessions_omitted or any(not s.mid_stream for s in tls.sessions):
        owed.append(CheckId.PCAP_TLS)
    if any(_chain_expected(s) for s in tls.sessions):
        owed.append(CheckId.PCAP_TLS_CHAIN)
    return tuple(owed)


def judge_tls(judging: CaptureJudging) -> Iterable[Finding]:
    evidence = judging.evidence
    tls = evidence.tls
    if tls is None:
        return
    policy = judging.policy or OptionsPolicy()
    label = evidence.label
    for group in _groups(tls.sessions):
        yield _session_finding(group, label, policy)
        yield _chain_finding(group, label, policy)
    if tls.sessions_omitted:
        yield Finding(
            CheckId.PCAP_TLS,
            Status.INCOMPLETE,
            label,
            f"{_plural(tls.sessions_omitted, 'more TLS session')} than the "
            f"{evidence.limits.max_listed} the audit keeps: not judged",
            {"sessions_total": tls.sessions_total, "sessions_omitted": tls.sessions_omitted},
        )


TLS = CaptureCheck(
    ids=(CheckId.PCAP_TLS, CheckId.PCAP_TLS_CHAIN),
    reads=("source", "tls"),
    judge=judge_tls,
    applies=_applies,
    owes=_owes,
)
