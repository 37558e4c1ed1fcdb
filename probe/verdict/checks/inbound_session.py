"""Checks on the TLS session a caller opened to us (`sipprobe answer`): `inbound.tls` (TLS
at all, its version and its suite) and `inbound.client_cert` (the caller's certificate).
SIP over secure WebSocket (wss, RFC 7118 §5.2.1) is SIP over TLS for both; plain ws is
not, and `inbound.tls` shows the caller's WebSocket upgrade either way.

The session is judged as an outbound one is: the version against the policy's minimum
and the suite graded (probe.verdict.checks.tls_session, probe.tls.suites). The client
chain goes through the very code that judges a server's chain (chain to the trust
anchors, validity, key, signature, EKU: probe.verdict.checks.certificate), for the client
role, and its identity through RFC 5922 §7.1/§7.2 against each expected peer name (SAN
`URI:sip:` first, then dNSName, the CN only without any SAN). Pure; cryptography is
loaded only when a chain is judged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from probe.evidence.inbound import InboundTls
from probe.evidence.model import TLS_TRANSPORTS, WebSocketUpgrade
from probe.tls.suites import Grade, grade_negotiated_suite
from probe.verdict.checks.tls_session import at_least, version_number
from probe.verdict.checks.unit import CallJudging, InboundCheck
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["CLIENT_CERT", "TLS", "check_client_cert", "check_tls"]

_Make = Callable[[Status, str], Finding]
_SEVERITY = {Status.FAIL: 3, Status.ERROR: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}


def check_tls(judging: CallJudging) -> Finding | None:
    """`inbound.tls`: the call came over TLS (when the policy requires it), at or above the
    minimum version, with a suite that is not weak."""
    call, policy = judging.call, judging.policy
    tls = call.tls
    details: dict[str, JsonValue] = {
        "transport": call.transport,
        "required": policy.require_tls,
        "minimum": policy.tls.min_version,
    }
    if call.websocket is not None:
        details["websocket"] = _upgrade(call.websocket)

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_TLS, status, judging.label, summary, details)

    if call.transport not in TLS_TRANSPORTS:
        hop = call.transport.upper()
        secure = "wss" if call.transport == "ws" else "sips: or ;transport=tls (port 5061)"
        if policy.require_tls:
            return finding(
                Status.FAIL,
                f"the call came over {hop}, not TLS: its signalling (and any SDES keys in its "
                f"SDP) crossed the network in cleartext; have the trunk call {secure}",
            )
        return finding(Status.SKIP, f"the call came over {hop} (TLS not required)")
    if tls is None:
        return finding(Status.ERROR, "the call came over TLS but no TLS session was recorded")
    details |= _session(tls)
    if tls.error is not None or tls.version is None:
        return finding(Status.FAIL, f"the TLS session failed: {tls.error or 'no version agreed'}")
    negotiated = version_number(tls.version)
    if negotiated is None or not at_least(negotiated, policy.tls.min_version):
        return finding(
            Status.FAIL,
            f"the caller negotiated {tls.version}, below the {policy.tls.min_version} minimum "
            "(RFC 8996 deprecates TLS 1.0 and 1.1)",
        )
    summary = f"{tls.version} with {tls.cipher or 'an unnamed suite'}"
    if call.transport == "wss":
        summary += ", SIP over WebSocket"
    if tls.cipher is None:
        return finding(Status.PASS, summary)
    grade = grade_negotiated_suite(tls.cipher)
    details |= {"grade": grade.grade.value, "why": grade.why}
    if grade.grade is Grade.INSECURE:
        return finding(Status.FAIL, f"{summary}: insecure ({grade.why})")
    if grade.grade is Grade.WEAK:
        return finding(Status.WARN, f"{summary}: weak ({grade.why})")
    return finding(Status.PASS, f"{summary} (minimum {policy.tls.min_version})")


def _session(tls: InboundTls) -> dict[str, JsonValue]:
    return {
        "version": tls.version,
        "cipher": tls.cipher,
        "sni": tls.sni,
        "client_cert_requested": tls.client_cert_requested,
        "client_certificates": len(tls.client_chain),
        "error": tls.error,
        "elapsed_ms": None if tls.elapsed_ms is None else round(tls.elapsed_ms, 3),
    }


def _upgrade(upgrade: WebSocketUpgrade) -> dict[str, JsonValue]:
    """The caller's WebSocket upgrade as a report shows it: the resource it asked for, the
    subprotocol we agreed to, and who it says it is (Origin, User-Agent; RFC 6455 §4.1)."""
    from probe.verdict.checks.websocket import read_head

    head = read_head(upgrade.request)

    def first(name: str) -> str | None:
        values = head.values(name) if head is not None else []
        return values[0] if values else None

    start = head.start_line.split(" ") if head is not None else []
    return {
        "resource": start[1] if len(start) == 3 else None,
        "subprotocol": upgrade.subprotocol,
        "host": first("host"),
        "origin": first("origin"),
        "user_agent": first("user-agent"),
        "accepted": upgrade.ok,
    }


def check_client_cert(judging: CallJudging) -> Finding | None:
    """`inbound.client_cert`: the certificate the caller presented, judged as a server's
    chain is (for the client role), and against the expected peer names."""
    call, policy = judging.call, judging.policy
    names = policy.expect_peer
    owed = policy.require_client_cert or bool(names)
    details: dict[str, JsonValue] = {
        "required": policy.require_client_cert,
        "expected_peers": list(names),
    }

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_CLIENT_CERT, status, judging.label, summary, details)

    tls = call.tls
    if call.transport not in TLS_TRANSPORTS or tls is None:
        if not owed:
            return None
        return finding(
            Status.FAIL,
            f"the call came over {call.transport.upper()}: no client certificate can prove "
            f"the caller{_names(names)}",
        )
    details["requested"] = tls.client_cert_requested
    if tls.error is not None and tls.client_cert_requested:
        return finding(
            Status.FAIL,
            f"the TLS handshake failed after we asked for a client certificate: {tls.error}",
        )
    if not tls.client_chain:
        return _no_certificate(judging, tls, finding)
    if policy.now is None:
        raise ValueError("InboundPolicy.now must be set before judging client certificates")
    return _judge_chain(judging, tls, policy.now, details)


def _names(names: Sequence[str]) -> str:
    return f" as {' or '.join(names)}" if names else ""


def _no_certificate(judging: CallJudging, tls: InboundTls, finding: _Make) -> Finding | None:
    policy = judging.policy
    asked = (
        ""
        if tls.client_cert_requested
        else " (and the listener did not ask for one: check its mutual-TLS setting)"
    )
    if policy.require_client_cert:
        return finding(
            Status.FAIL,
            f"the caller presented no client certificate, and mutual TLS is required{asked}",
        )
    if policy.expect_peer:
        return finding(
            Status.WARN,
            "the caller presented no client certificate, so nothing proves it is "
            f"{' or '.join(policy.expect_peer)}: its Via and Contact names are only claims{asked}",
        )
    if not tls.client_cert_requested:
        return finding(Status.SKIP, "no client certificate asked for")
    return finding(Status.SKIP, "the caller presented no client certificate (not required)")


def _judge_chain(
    judging: CallJudging, tls: InboundTls, now: dt.datetime, details: dict[str, JsonValue]
) -> Finding:
    # Imported here: only a presented client chain needs cryptography.
    from probe.verdict.checks.certificate import judge_presented_chain
    from probe.verdict.checks.memo import CertificateInputs

    policy = judging.policy
    # Without expected names the identity is not asked about; its finding is dropped.
    names = policy.expect_peer or ("",)

    def judged(name: str) -> list[Finding]:
        inputs = CertificateInputs(tls.client_chain, name, tls.sni)
        return judge_presented_chain(
            inputs, judging.label, policy.anchors, policy.tls, now=now, purpose="client"
        )

    first = judged(names[0])
    parts = {part.check: part for part in first}
    identities = [parts.get(CheckId.TLS_IDENTITY)] if policy.expect_peer else []
    if policy.expect_peer and _SEVERITY[_status(identities[0])] >= _SEVERITY[Status.WARN]:
        # Another expected name may be the one this certificate proves.
        for name in names[1:]:
            other = next((f for f in judged(name) if f.check == CheckId.TLS_IDENTITY), None)
            identities.append(other)
            if _status(other) is Status.PASS:
                break
    parts.pop(CheckId.TLS_IDENTITY, None)
    identity = min(
        (found for found in identities if found is not None),
        key=lambda found: _SEVERITY[found.status],
        default=None,
    )
    return _verdict(judging, parts, identity, details)


def _status(finding: Finding | None) -> Status:
    return Status.FAIL if finding is None else finding.status


def _verdict(
    judging: CallJudging,
    parts: dict[str, Finding],
    identity: Finding | None,
    details: dict[str, JsonValue],
) -> Finding:
    """One finding out of the certificate judgement's parts: the worst of them decides,
    and its sentence (the chain's, the identity's...) is the summary."""
    policy = judging.policy
    chain = parts.get(CheckId.TLS_CHAIN)
    judged = [*([identity] if identity is not None else []), *parts.values()]
    details["parts"] = {
        part.check.removeprefix("tls."): {"status": part.status.value, "summary": part.summary}
        for part in judged
    }
    if chain is not None:
        details["chain"] = chain.details.get("chain")
        details["leaf"] = chain.details.get("leaf")
    if identity is not None:
        details["identity"] = dict(identity.details)
    worst = max(judged, key=lambda part: _SEVERITY[part.status])

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_CLIENT_CERT, status, judging.label, summary, details)

    if worst.status in (Status.FAIL, Status.ERROR, Status.WARN):
        others = sum(1 for part in judged if part.status is worst.status) - 1
        more = f" (and {others} more)" if others else ""
        said = worst.summary
        if worst is identity and worst.status is Status.FAIL and len(policy.expect_peer) > 1:
            said = (
                f"it proves none of the expected peer names ({', '.join(policy.expect_peer)}): "
                f"{said}"
            )
        return finding(worst.status, f"client certificate: {said}{more}")
    if chain is not None and chain.status is Status.SKIP:
        # No anchors to verify against: what the certificate is cannot be known.
        status = (
            Status.INCOMPLETE
            if (policy.require_client_cert or policy.expect_peer)
            else (Status.SKIP)
        )
        return finding(status, f"client certificate not verified: {chain.summary}")
    proven = (
        identity.summary
        if identity is not None
        else ("its names were not checked: no expected peer name given (--expect-peer)")
    )
    verified = chain.summary if chain is not None else "chain not judged"
    return finding(Status.PASS, f"client certificate: {proven}; {verified}")


CLIENT_CERT_OWED = (CheckId.INBOUND_CLIENT_CERT,)


def _owes_tls(judging: CallJudging) -> tuple[str, ...]:
    if judging.call.transport in TLS_TRANSPORTS or judging.policy.require_tls:
        return (CheckId.INBOUND_TLS,)
    return ()


def _owes_client_cert(judging: CallJudging) -> tuple[str, ...]:
    policy = judging.policy
    return CLIENT_CERT_OWED if policy.require_client_cert or policy.expect_peer else ()


TLS = InboundCheck(
    ids=(CheckId.INBOUND_TLS,),
    reads=("tls",),
    judge=lambda judging: [check_tls(judging)],
    owes=_owes_tls,
)
CLIENT_CERT = InboundCheck(
    ids=(CheckId.INBOUND_CLIENT_CERT,),
    reads=("tls",),
    judge=lambda judging: [check_client_cert(judging)],
    owes=_owes_client_cert,
)
