"""`sip.keepalive`: whether the server answers a keep-alive ping on the probe's connection,
and how fast (`--keepalive`). Pure: judged from the bytes and times the evidence keeps.

Over TCP and TLS the ping is RFC 5626's double CRLF and the answer must be a single CRLF
(§3.5.1, §4.4.1); a client that gets no pong within 10 seconds takes the flow for failed
(§4.4.1), so a later pong is no better than none. Over WebSocket it is a WebSocket Ping,
answered by a Pong carrying the same data (RFC 6455 §5.5.2, §5.5.3; RFC 7118 §6).
"""

from __future__ import annotations

from collections.abc import Callable

from probe.evidence.model import KeepaliveEvidence, ProbeEvidence
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, rounded_ms

PONG_LIMIT_MS = 10_000.0
"""RFC 5626 §4.4.1: no pong within 10 seconds of the ping and the flow has failed."""
_CRLF = b"\r\n"
_SHOWN_BYTES = 200
"""How much of a message that came instead of the pong a finding quotes."""


def _details(keepalive: KeepaliveEvidence) -> dict[str, JsonValue]:
    details: dict[str, JsonValue] = {
        "mechanism": keepalive.mechanism,
        "outcome": keepalive.outcome,
        "ping": keepalive.ping.decode("latin-1"),
        "pong": keepalive.pong.decode("latin-1"),
        "pong_ms": rounded_ms(keepalive.pong_ms),
        "deadline_s": keepalive.deadline_s,
    }
    if keepalive.received:
        details["received"] = [
            item.data[:_SHOWN_BYTES].decode("latin-1") for item in keepalive.received
        ]
    if keepalive.other_pongs:
        details["other_pongs"] = [data.decode("latin-1") for data in keepalive.other_pongs]
    if keepalive.error:
        details["error"] = keepalive.error
    return details


def _failed_before(evidence: ProbeEvidence) -> bool:
    """The connection never got as far as the ping: an earlier finding fails it."""
    return (
        evidence.connect is None
        or not evidence.connect.ok
        or (evidence.tls is not None and not evidence.tls.ok)
        or (evidence.websocket is not None and not evidence.websocket.ok)
    )


def check_keepalive(evidence: ProbeEvidence) -> Finding | None:
    keepalive = evidence.keepalive
    if keepalive is None:
        return None
    label = evidence.target.label
    details = _details(keepalive)

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.SIP_KEEPALIVE, status, label, summary, details)

    websocket = keepalive.mechanism == "websocket"
    ping = "WebSocket Ping" if websocket else "CRLF CRLF keep-alive ping"
    outcome = keepalive.outcome
    if outcome == "pending":
        if _failed_before(evidence):
            return finding(Status.SKIP, "no keep-alive ping: the connection failed before it")
        return finding(Status.INCOMPLETE, "the probe ended before its keep-alive ping was sent")
    if outcome == "not_sent":
        return finding(Status.SKIP, keepalive.error or "no keep-alive ping was sent")
    if outcome == "pong":
        return _judge_pong(keepalive, finding, ping)
    if outcome == "timeout":
        if websocket:
            why = "the WebSocket is not alive at the far end (RFC 6455 §5.5.2: a Ping is answered)"
        else:
            why = (
                "the server does not answer RFC 5626 keep-alives (§3.5.1); a client that "
                "uses them would take the flow for failed (§4.4.1)"
            )
        return finding(Status.FAIL, f"{keepalive.error or 'no pong'}: {why}")
    if outcome == "send_failed":
        return finding(Status.FAIL, keepalive.error or f"the {ping} could not be sent")
    # closed, reset, tls_alert, malformed: the connection did not survive the ping.
    return finding(
        Status.FAIL,
        f"the {ping} was not answered: {keepalive.error or outcome}",
    )


def _judge_pong(
    keepalive: KeepaliveEvidence, finding: Callable[[Status, str], Finding], ping: str
) -> Finding:
    took = keepalive.pong_ms
    after = f" in {took:.1f} ms" if took is not None else ""
    if keepalive.mechanism == "websocket":
        return finding(
            Status.PASS,
            f"the WebSocket Ping was answered with its Pong{after} (RFC 6455 §5.5.3)",
        )
    if took is not None and took > PONG_LIMIT_MS:
        return finding(
            Status.FAIL,
            f"the CRLF pong came after {took / 1000:.1f} s: a client would already have taken "
            "the flow for failed (RFC 5626 §4.4.1: 10 s)",
        )
    crlfs = len(keepalive.pong) // len(_CRLF)
    if crlfs > 1:
        return finding(
            Status.WARN,
            f"the {ping} was answered{after} with {crlfs} CRLFs instead of one: "
            "RFC 5626 §4.4.1's pong is a single CRLF (a double one is a ping of its own)",
        )
    return finding(
        Status.PASS,
        f"keep-alive supported: the {ping} was answered with a CRLF pong{after} (RFC 5626 §4.4.1)",
    )


def _owes_keepalive(evidence: ProbeEvidence) -> tuple[str, ...]:
    keepalive = evidence.keepalive
    if keepalive is None or keepalive.mechanism == "none":
        return ()
    return (CheckId.SIP_KEEPALIVE,)


KEEPALIVE = Check(
    ids=(CheckId.SIP_KEEPALIVE,),
    reads=("target", "connect", "tls", "websocket", "keepalive"),
    applies=lambda evidence: evidence.keepalive is not None,
    judge=lambda judging: [check_keepalive(judging.evidence)],
    owes=_owes_keepalive,
)
