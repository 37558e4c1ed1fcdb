"""Inbound evidence: what `sipprobe answer` saw of the calls a trunk placed to it.

Plain frozen data, like the rest of the evidence: the listener (probe.answer) fills it in,
the inbound checks (probe.verdict.checks.inbound) and the STIR/SHAKEN checks judge it.
Times are milliseconds from the moment the listener was ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from probe.evidence.model import MediaEvidence, WebSocketUpgrade, WireEvent
from probe.stir.model import StirEvidence

InboundTransport = Literal["tls", "tcp", "udp", "ws", "wss"]
"""`ws` and `wss`: SIP over WebSocket (RFC 7118), plain and over TLS; wss, like tls,
carries its `InboundTls`."""

InboundTeardown = Literal[
    "caller_bye",  # the caller ended the answered call with BYE (RFC 3261 §15.1.2)
    "our_bye",  # we ended it with BYE after holding it (--hold)
    "caller_cancel",  # the caller cancelled before our final response (§9.2)
    "refused",  # we answered with a final error (its reason in `final_status`)
    "no_ack",  # our 2xx was never acknowledged (§13.3.1.4): we let go after 64*T1
    "connection_lost",  # the connection carrying the call closed under it
    "interrupted",  # the run was stopped with the call up: we sent BYE on the way out
    "failed",  # the teardown itself could not complete (`teardown_detail` says why)
]


@dataclass(frozen=True, slots=True)
class Listening:
    """One socket the answer run listened on."""

    transport: InboundTransport
    address: str
    port: int


@dataclass(frozen=True, slots=True)
class InboundTls:
    """The TLS session a caller opened to us, as our server side saw it."""

    version: str | None = None
    """`TLSv1.3`, `TLSv1.2`...; None when the handshake did not complete."""
    cipher: str | None = None
    client_cert_requested: bool = False
    """Whether we asked for a client certificate (mutual TLS)."""
    client_chain: tuple[bytes, ...] = ()
    """The certificates the caller presented, leaf first, as DER, read from its
    Certificate message whatever our verification of them concluded."""
    sni: str | None = None
    """The server name the caller asked for (RFC 6066 §3), if any."""
    error: str | None = None
    """Why the handshake failed, when it did."""
    elapsed_ms: float | None = None


@dataclass(frozen=True, slots=True)
class InboundConnection:
    """A connection that carried no call: its TLS handshake failed, or it closed (or
    sent something that is not SIP) before any INVITE."""

    transport: InboundTransport
    peer: str
    """`address:port` of the caller, IPv6 in brackets."""
    at_ms: float
    tls: InboundTls | None = None
    error: str | None = None
    requests: tuple[str, ...] = ()
    """Methods of the requests it sent (an OPTIONS ping from the provider, say)."""
    websocket: WebSocketUpgrade | None = None
    """Over ws and wss: the caller's HTTP upgrade as received and our answer to it, also
    when we refused it or it never finished."""


@dataclass(frozen=True, slots=True)
class InboundCall:
    """One INVITE a caller sent us, from its arrival to the call's end."""

    number: int
    """Order of arrival, from 1."""
    transport: InboundTransport
    peer: str
    """`address:port` the INVITE came from, IPv6 in brackets."""
    local: str
    """`address:port` it arrived at."""
    at_ms: float
    invite: bytes
    """The INVITE as received, SDP offer included (its keys: judged, never rendered)."""
    tls: InboundTls | None = None
    """The session the INVITE arrived on (tls, wss); None over TCP, UDP and WS."""
    websocket: WebSocketUpgrade | None = None
    """Over ws and wss: the upgrade that opened the WebSocket the INVITE came on."""
    events: tuple[WireEvent, ...] = ()
    """Every SIP message of the call, received and sent, in order."""
    answer: bytes | None = None
    """Our SDP answer as sent, our keys included: judged, never rendered."""
    final_status: int | None = None
    """The final response we sent to the INVITE (200, 488...)."""
    refusal: str | None = None
    """Why we refused the INVITE, when we did (the Warning we sent)."""
    acked: bool = False
    """Our 2xx was acknowledged (RFC 3261 §13.3.1.4)."""
    teardown: InboundTeardown = "failed"
    teardown_detail: str | None = None
    bye_status: int | None = None
    """The final status our own BYE got, when we sent one."""
    dialogs_left_open: int = 0
    """Dialogs of this call still open when the run ended: the target is zero."""
    media: MediaEvidence | None = None
    """SRTP received from the caller and authenticated with the keys the offer (or the
    DTLS-SRTP handshake) gave, and ours sent with our answer's keys."""
    media_skipped: str | None = None
    """Why media was not verified, when it was asked for and was not."""
    stir: StirEvidence | None = None
    """The STIR/SHAKEN verification of the INVITE's Identity, when it was asked for."""
    interrupted: bool = False
    """The run was stopped while this call was in progress."""
    error: str | None = None
    elapsed_ms: float | None = None

    @property
    def label(self) -> str:
        """How reports name the call: `inbound call 1 from 192.0.2.7:5061/tls`."""
        return f"inbound call {self.number} from {self.peer}/{self.transport}"


@dataclass(frozen=True, slots=True)
class InboundExpectation:
    """What the answer run was asked to wait for, recorded with what it saw."""

    calls: int = 1
    """`--expect N`: how many calls must arrive."""
    within_s: float = 60.0
    """`--within`: how long the run waited for them."""
    verify_media: bool = False
    """Media had to be received and authenticated on every answered call."""
    verify_identity: bool = False
    """Every INVITE's Identity had to be verified (STIR/SHAKEN)."""
    hold_s: float = 2.0
    """How long we keep an answered call up before sending BYE ourselves."""


@dataclass(frozen=True, slots=True)
class InboundEvidence:
    """An answer run: where it listened, what it waited for, what arrived."""

    listening: tuple[Listening, ...]
    expectation: InboundExpectation
    calls: tuple[InboundCall, ...] = ()
    connections: tuple[InboundConnection, ...] = ()
    """Connections that carried no call (failed handshakes above all)."""
    waited_ms: float = 0.0
    stopped: Literal["interrupted", "max_time"] | None = None
    """Set when the run was cut short before the expected calls had all ended."""
