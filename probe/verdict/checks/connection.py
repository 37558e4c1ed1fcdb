"""Checks on reaching the target: TCP connect (or the UDP socket), TLS handshake.

How the address was found is `dns.resolve`, judged from the locate evidence
(probe.verdict.checks.location)."""

from __future__ import annotations

from probe.evidence.model import TLS_TRANSPORTS, ProbeEvidence
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, Status, rounded_ms


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} ms"


def check_connect(evidence: ProbeEvidence) -> Finding | None:
    connect = evidence.connect
    target = evidence.target
    if connect is None:
        return None
    details = {
        "address": target.address,
        "port": target.port,
        "transport": target.transport,
        "elapsed_ms": rounded_ms(connect.elapsed_ms),
        "local_address": connect.local_address,
        "local_port": connect.local_port,
    }
    if not connect.ok:
        details |= {"error_kind": connect.error_kind, "error": connect.error}
        return Finding(
            CheckId.NET_CONNECT,
            Status.FAIL,
            target.label,
            f"cannot connect to {target.endpoint}: {connect.error}",
            details,
        )
    if target.transport == "udp":
        summary = (
            f"UDP socket ready towards {target.endpoint} (connectionless: "
            "reachability is judged by the OPTIONS answer)"
        )
    else:
        summary = f"TCP connected to {target.endpoint} in {_ms(connect.elapsed_ms)}"
    return Finding(CheckId.NET_CONNECT, Status.PASS, target.label, summary, details)


def check_handshake(evidence: ProbeEvidence) -> Finding | None:
    tls = evidence.tls
    target = evidence.target
    if tls is None:
        return None
    details = {
        "sni": tls.sni,
        "elapsed_ms": rounded_ms(tls.elapsed_ms),
        "version": tls.version,
        "cipher": tls.cipher,
        "cipher_bits": tls.cipher_bits,
        "client_cert_requested": tls.client_cert_requested,
        "client_cert_sent": tls.client_cert_sent,
        "presented_count": len(tls.presented_chain),
    }
    if not tls.ok:
        details |= {"error_kind": tls.error_kind, "error": tls.error, "alert": tls.alert}
        hint = ""
        if tls.alert in ("certificate required", "handshake failure") and not tls.client_cert_sent:
            hint = " (the server may require a client certificate: --cert/--key)"
        elif tls.alert == "protocol version" or tls.error_kind == "protocol":
            hint = " (no TLS version in common with --min-tls)"
        return Finding(
            CheckId.TLS_HANDSHAKE,
            Status.FAIL,
            target.label,
            f"TLS handshake failed: {tls.error}{hint}",
            details,
        )
    sni = f"SNI {tls.sni}" if tls.sni else "no SNI (IP literal)"
    summary = f"{tls.version} {tls.cipher} in {_ms(tls.elapsed_ms)}, {sni}"
    if tls.client_cert_requested:
        sent = "one was sent" if tls.client_cert_sent else "none was sent"
        summary += f"; the server asked for a client certificate ({sent})"
    return Finding(CheckId.TLS_HANDSHAKE, Status.PASS, target.label, summary, details)


def _always(_evidence: ProbeEvidence) -> bool:
    return True


def _owes_handshake(evidence: ProbeEvidence) -> tuple[str, ...]:
    return (CheckId.TLS_HANDSHAKE,) if evidence.target.transport in TLS_TRANSPORTS else ()


CONNECT = Check(
    ids=(CheckId.NET_CONNECT,),
    reads=("target", "connect"),
    applies=_always,
    judge=lambda judging: [check_connect(judging.evidence)],
    owes=lambda _evidence: (CheckId.NET_CONNECT,),
)
HANDSHAKE = Check(
    ids=(CheckId.TLS_HANDSHAKE,),
    reads=("target", "tls"),
    applies=_always,
    judge=lambda judging: [check_handshake(judging.evidence)],
    owes=_owes_handshake,
)
