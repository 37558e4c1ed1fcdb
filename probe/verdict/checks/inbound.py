"""Judging an answer run (`sipprobe answer`): the calls a trunk placed to us.

`judge_inbound` gives the run's `inbound.calls` finding (did the expected calls arrive
in time, and which connections failed before any INVITE) and one TargetResult per call,
its findings made by the inbound checks in report order (registry.INBOUND_CHECKS: the
TLS session, the client certificate, the INVITE, its Identity, the offer, the media, the
teardown). A call's verdict is PASS only when each check it owes concluded: the checks
declare what a call owes under the policy and what the run was asked to verify.

Pure: no socket, no clock, no ssl or asyncio; cryptography only when a client chain is
judged (probe.verdict.checks.inbound_session) or a refused one is named.
"""

from __future__ import annotations

from probe.evidence.inbound import InboundCall, InboundConnection, InboundEvidence, Listening
from probe.evidence.model import InboundTarget
from probe.verdict.checks.policy import InboundPolicy
from probe.verdict.checks.unit import CallJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, TargetResult

__all__ = [
    "TRUNK",
    "InboundTarget",
    "call_target",
    "check_calls",
    "judge_call",
    "judge_inbound",
]

TRUNK = "trunk"
"""What the run-wide finding is about, as a report names it."""


def _split_peer(peer: str) -> tuple[str, int]:
    """`address:port` (IPv6 in brackets) → (address, port); port 0 when there is none."""
    if peer.startswith("["):
        address, _, rest = peer[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        address, _, port_text = peer.rpartition(":") if peer.count(":") == 1 else (peer, "", "")
    return address, int(port_text) if port_text.isdigit() and len(port_text) <= 5 else 0


def call_target(call: InboundCall, request_uri: str | None) -> InboundTarget:
    """The target a call's findings are about: who called, from where, over what."""
    address, port = _split_peer(call.peer)
    return InboundTarget(
        uri=request_uri or "",
        host=address,
        port=port,
        transport=call.transport,
        address=address,
        sni=call.tls.sni if call.tls is not None else None,
        call=call.number,
    )


def judge_call(call: InboundCall, evidence: InboundEvidence, policy: InboundPolicy) -> TargetResult:
    """Every finding about one received call, and the checks it owed."""
    # Imported here: the registry module loads every outbound check too, which a report
    # that only names this module's InboundTarget never needs.
    from probe.verdict.checks.registry import inbound_checks

    judging = CallJudging(call, evidence.expectation, policy, label="")
    request = judging.invite.request
    target = call_target(call, None if request is None else _uri_text(request.uri))
    judging.label = target.label
    findings: list[Finding] = []
    required: list[str] = []
    for check in inbound_checks():
        findings.extend(found for found in check.judge(judging) if found is not None)
        required.extend(check.owes(judging))
    return TargetResult(target, tuple(findings), tuple(dict.fromkeys(required)))


def _uri_text(uri: object) -> str:
    from probe.sip.uri import redact_uri_text

    return redact_uri_text(str(uri))


def judge_inbound(
    evidence: InboundEvidence, policy: InboundPolicy
) -> tuple[tuple[Finding, ...], tuple[TargetResult, ...]]:
    """The run-wide `inbound.calls` finding, and one result per received call in order of
    arrival. `policy.now` is the instant client certificates are judged at: the caller
    sets it (the run's start, or `sipprobe judge --now`)."""
    results = tuple(judge_call(call, evidence, policy) for call in evidence.calls)
    return (check_calls(evidence),), results


# --- inbound.calls ---------------------------------------------------------------------


def _where(listening: tuple[Listening, ...]) -> str:
    shown = [
        f"[{item.address}]:{item.port}/{item.transport}"
        if ":" in item.address
        else f"{item.address}:{item.port}/{item.transport}"
        for item in listening
    ]
    return ", ".join(shown) or "no socket"


def _connection(item: InboundConnection) -> dict[str, JsonValue]:
    from probe.sdp import redact  # an error may quote what the caller sent

    tls = item.tls
    return {
        "peer": item.peer,
        "transport": item.transport,
        "at_ms": round(item.at_ms, 3),
        "error": redact(item.error) if item.error else None,
        "tls_error": tls.error if tls is not None else None,
        "tls_version": tls.version if tls is not None else None,
        "client_cert_requested": tls.client_cert_requested if tls is not None else None,
        "client_certificates": len(tls.client_chain) if tls is not None else 0,
        "client_chain": _presented(tls.client_chain) if tls is not None else [],
        "sni": tls.sni if tls is not None else None,
        "requests": list(item.requests),
        "websocket_error": item.websocket.error if item.websocket is not None else None,
    }


def _presented(chain: tuple[bytes, ...]) -> list[JsonValue]:
    """Subject and issuer of each certificate a caller presented, leaf first: which
    certificate a refused handshake carried is what the provider has to be told."""
    # Imported here: only a connection that presented a chain needs cryptography.
    from probe.tls.certinfo import format_name
    from probe.verdict.checks.certificate import load_presented

    certificates, error = load_presented(chain, "client")
    shown: list[JsonValue] = [
        {"subject": format_name(cert.subject), "issuer": format_name(cert.issuer)}
        for cert in certificates
    ]
    if error is not None:
        shown.append({"error": error})
    return shown


def _failed_handshake(item: InboundConnection) -> str:
    tls = item.tls
    assert tls is not None
    asked = " after we asked for a client certificate" if tls.client_cert_requested else ""
    presented = ""
    if tls.client_chain:
        from probe.tls.certinfo import format_name
        from probe.verdict.checks.certificate import load_presented, short_name

        certificates, _error = load_presented(tls.client_chain[:1], "client")
        if certificates:
            leaf = certificates[0]
            presented = f"; it presented {short_name(leaf)} (issuer {format_name(leaf.issuer)})"
    return f"{item.peer}: the TLS handshake failed{asked}{presented}: {tls.error}"


def _failed_upgrade(item: InboundConnection) -> bool:
    return item.websocket is not None and not item.websocket.ok


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def check_calls(evidence: InboundEvidence) -> Finding:
    """`inbound.calls`: the expected calls arrived within the time given; connections
    that failed their TLS handshake or WebSocket upgrade (or carried no call) are named,
    since a provider whose handshake fails never gets as far as an INVITE."""
    expectation = evidence.expectation
    expected, arrived = expectation.calls, len(evidence.calls)
    handshakes = [c for c in evidence.connections if c.tls is not None and c.tls.error]
    upgrades = [c for c in evidence.connections if c not in handshakes and _failed_upgrade(c)]
    idle = [c for c in evidence.connections if c not in handshakes and c not in upgrades]
    details: dict[str, JsonValue] = {
        "expected": expected,
        "within_s": expectation.within_s,
        "arrived": arrived,
        "waited_ms": round(evidence.waited_ms, 3),
        "stopped": evidence.stopped,
        "listening": [_where((item,)) for item in evidence.listening],
        "calls": [call.label for call in evidence.calls],
        "failed_handshakes": len(handshakes),
        "failed_upgrades": len(upgrades),
        "connections": [_connection(item) for item in evidence.connections],
        "verify_media": expectation.verify_media,
        "verify_identity": expectation.verify_identity,
    }
    counted = f"{arrived} of {expected} expected call{'' if expected == 1 else 's'} arrived"
    causes = []
    if handshakes:
        causes.append(
            f"{_plural(len(handshakes), 'connection')} failed the TLS handshake "
            f"({_failed_handshake(handshakes[0])})"
        )
    if upgrades:
        first = upgrades[0]
        error = first.websocket.error if first.websocket is not None else None
        causes.append(
            f"{_plural(len(upgrades), 'connection')} failed the WebSocket upgrade "
            f"({first.peer}: {error})"
        )
    if idle:
        sent = sorted({method for item in idle for method in item.requests})
        what = f" (sent {', '.join(sent)})" if sent else ""
        causes.append(f"{_plural(len(idle), 'connection')} carried no call{what}")
    tail = f"; {'; '.join(causes)}" if causes else ""

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_CALLS, status, TRUNK, summary, details)

    if evidence.stopped is not None:
        why = "interrupted" if evidence.stopped == "interrupted" else "stopped by its --max-time"
        seconds = evidence.waited_ms / 1000
        return finding(
            Status.INCOMPLETE, f"the run was {why} after {seconds:.1f} s: {counted}{tail}"
        )
    if arrived < expected:
        if not arrived and not evidence.connections:
            return finding(
                Status.FAIL,
                f"no call arrived within {expectation.within_s:g} s and nothing connected to "
                f"{_where(evidence.listening)}: check that the trunk routes its test calls here "
                "(address, port, transport) and that no firewall drops them",
            )
        return finding(Status.FAIL, f"only {counted} within {expectation.within_s:g} s{tail}")
    if handshakes or upgrades:
        return finding(Status.WARN, f"{counted}, but {tail.removeprefix('; ')}")
    # When the last call arrived, not when the run ended (that waits for calls to end).
    last = max((call.at_ms for call in evidence.calls), default=evidence.waited_ms) / 1000
    when = f" after {last:.1f} s" if arrived <= 1 else f", the last after {last:.1f} s"
    return finding(Status.PASS, f"{counted}{when}{tail}")
