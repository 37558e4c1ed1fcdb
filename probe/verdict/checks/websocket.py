"""`ws.upgrade`: the HTTP upgrade that opens SIP over WebSocket, judged from the bytes
sent and received, so a saved run is judged again the same way.

RFC 6455 §4.1 says what a client must find in the answer before it may use the
connection: status 101, `Upgrade: websocket`, `Connection: Upgrade`, and a
`Sec-WebSocket-Accept` made from the request's key (§1.3); a subprotocol it did not
offer fails the connection. RFC 7118 §4.1 adds that the 101 must name the `sip`
subprotocol, which RFC 6455 alone would let a server leave out. Pure.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from probe.evidence.model import WEBSOCKET_TRANSPORTS, ProbeEvidence, WebSocketUpgrade
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, rounded_ms

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""RFC 6455 §1.3: appended to the client's key; the SHA-1 of both, in base64, is the
`Sec-WebSocket-Accept` that proves the server read the request."""
_SUBPROTOCOL = "sip"
_SHOWN_BYTES = 2048
"""How much of an upgrade answer a finding quotes."""


@dataclass(frozen=True, slots=True)
class HttpHead:
    """The start line and header fields of an HTTP/1.1 message, as recorded: enough to
    judge an upgrade, never a general HTTP parser (wsproto read the live one)."""

    start_line: str
    fields: tuple[tuple[str, str], ...]
    """(lowercased name, value) in order; a line without a colon is left out."""

    @property
    def status(self) -> int | None:
        """The status code of a response's start line (`HTTP/1.1 101 ...`), if any."""
        parts = self.start_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return None
        return int(parts[1]) if len(parts[1]) == 3 else None

    @property
    def reason(self) -> str:
        parts = self.start_line.split(" ", 2)
        return parts[2] if len(parts) == 3 else ""

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def tokens(self, name: str) -> list[str]:
        """The comma-separated tokens of every `name` field, lowercased (RFC 9110 §5.6.1)."""
        return [
            token.strip().lower()
            for value in self.values(name)
            for token in value.split(",")
            if token.strip()
        ]


def read_head(data: bytes) -> HttpHead | None:
    """The head of `data` (up to its blank line, or all of it); None when empty."""
    end = data.find(b"\r\n\r\n")
    text = (data if end < 0 else data[:end]).decode("latin-1")
    lines = text.split("\r\n")
    if not lines or not lines[0]:
        return None
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name and name == name.strip():
            fields.append((name.lower(), value.strip(" \t")))
    return HttpHead(lines[0], tuple(fields))


def expected_accept(key: str) -> str:
    """RFC 6455 §4.2.2 (step 5.4): base64 of the SHA-1 of the key and the GUID."""
    digest = hashlib.sha1(key.encode("ascii", "replace") + _ACCEPT_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _shown(data: bytes) -> str:
    text = data[:_SHOWN_BYTES].decode("latin-1")
    return text + ("…" if len(data) > _SHOWN_BYTES else "")


def _problems(upgrade: WebSocketUpgrade, answer: HttpHead) -> list[str]:
    """What RFC 6455 §4.1 and RFC 7118 §4.1 find wrong with a 101."""
    problems: list[str] = []
    if "websocket" not in answer.tokens("upgrade"):
        problems.append("no 'Upgrade: websocket' (RFC 6455 §4.1)")
    if "upgrade" not in answer.tokens("connection"):
        problems.append("no 'Connection: Upgrade' (RFC 6455 §4.1)")
    request = read_head(upgrade.request)
    keys = request.values("sec-websocket-key") if request is not None else []
    accepts = answer.values("sec-websocket-accept")
    if not accepts:
        problems.append("no Sec-WebSocket-Accept (RFC 6455 §4.1)")
    elif not keys or accepts[0] != expected_accept(keys[0]):
        problems.append(
            f"Sec-WebSocket-Accept {accepts[0]!r} is not the one the request's key makes "
            "(RFC 6455 §4.1): the answer does not prove the server read the request"
        )
    chosen = answer.tokens("sec-websocket-protocol")
    if not chosen:
        problems.append(
            "no Sec-WebSocket-Protocol: the server did not agree to the 'sip' subprotocol, "
            "which its 101 must name (RFC 7118 §4.1)"
        )
    elif chosen != [_SUBPROTOCOL]:
        problems.append(
            f"Sec-WebSocket-Protocol {', '.join(chosen)!r} instead of 'sip', the only one "
            "offered (RFC 6455 §4.1: the client must fail the connection; RFC 7118 §4.1)"
        )
    return problems


def check_upgrade(evidence: ProbeEvidence) -> Finding | None:
    upgrade = evidence.websocket
    if upgrade is None:
        return None
    label = evidence.target.label
    details: dict[str, JsonValue] = {
        "elapsed_ms": rounded_ms(upgrade.elapsed_ms),
        "subprotocol": upgrade.subprotocol,
        "error_kind": upgrade.error_kind,
        "error": upgrade.error,
        "request": _shown(upgrade.request),
        "response": _shown(upgrade.response),
    }
    answer = read_head(upgrade.response)
    if answer is None:
        return Finding(
            CheckId.WS_UPGRADE,
            Status.FAIL,
            label,
            f"no answer to the WebSocket upgrade: {upgrade.error or 'nothing received'}",
            details,
        )
    status = answer.status
    details |= {"status_code": status, "reason": answer.reason}
    if status is None:
        return Finding(
            CheckId.WS_UPGRADE,
            Status.FAIL,
            label,
            f"the answer to the WebSocket upgrade is not an HTTP response: {answer.start_line!r}",
            details,
        )
    if status != 101:
        hint = " (no WebSocket service at this resource)" if status == 404 else ""
        return Finding(
            CheckId.WS_UPGRADE,
            Status.FAIL,
            label,
            f"the server answered the WebSocket upgrade with {status} {answer.reason}"
            f"{hint}, not 101 Switching Protocols (RFC 6455 §4.1)",
            details,
        )
    problems = _problems(upgrade, answer)
    if not problems and not upgrade.ok:
        # Something the client's WebSocket library refused that this reading does not
        # cover (an extension not asked for, a broken header block): its words.
        problems.append(upgrade.error or "the client could not open the WebSocket")
    if problems:
        details["problems"] = problems
        return Finding(
            CheckId.WS_UPGRADE,
            Status.FAIL,
            label,
            f"the server's 101 answer cannot open SIP over WebSocket: {'; '.join(problems)}",
            details,
        )
    elapsed = f" in {upgrade.elapsed_ms:.1f} ms" if upgrade.elapsed_ms is not None else ""
    return Finding(
        CheckId.WS_UPGRADE,
        Status.PASS,
        label,
        f"101 Switching Protocols{elapsed}: subprotocol sip, Sec-WebSocket-Accept valid",
        details,
    )


def _owes_upgrade(evidence: ProbeEvidence) -> tuple[str, ...]:
    return (CheckId.WS_UPGRADE,) if evidence.target.transport in WEBSOCKET_TRANSPORTS else ()


UPGRADE = Check(
    ids=(CheckId.WS_UPGRADE,),
    reads=("target", "websocket"),
    applies=lambda evidence: evidence.websocket is not None,
    judge=lambda judging: [check_upgrade(judging.evidence)],
    owes=_owes_upgrade,
)
