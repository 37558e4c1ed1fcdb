"""Evidence: what the collect layer saw, as plain frozen data.

Nothing here holds a socket or a clock. Checks judge evidence; reports render findings.
Times are milliseconds relative to the start of the probe of one target, measured with the
event loop's monotonic clock by the collect layer.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field, replace
from typing import Literal

from probe.sip.message import Message

Transport = Literal["tls", "tcp", "udp", "ws", "wss"]

DEFAULT_PORTS: dict[str, int] = {"tls": 5061, "tcp": 5060, "udp": 5060, "ws": 80, "wss": 443}
"""RFC 3261 §19.1.2: 5060 for sip over UDP/TCP, 5061 for TLS. RFC 7118 names no SIP port
for WebSocket; its connections are WebSocket ones, so RFC 6455 §3's ports: 80 for ws,
443 for wss."""

TLS_TRANSPORTS: frozenset[str] = frozenset({"tls", "wss"})
"""The transports that run over TLS: SIP over TLS (RFC 3261 §26.2) and secure WebSocket
(RFC 7118 §5.2.1, WSS)."""

LENGTH_FRAMED_TRANSPORTS: frozenset[str] = frozenset({"tcp", "tls"})
"""The transports whose messages Content-Length frames (RFC 3261 §18.3): a byte stream.
A datagram is one message, and so is a WebSocket message (RFC 7118 §5.1)."""

WEBSOCKET_TRANSPORTS: frozenset[str] = frozenset({"ws", "wss"})
"""SIP over WebSocket (RFC 7118): an HTTP upgrade first, then one SIP message per
WebSocket message."""


def interned(text: str | None) -> str | None:
    """`text` interned: one copy of a string that thousands of targets' evidence and
    findings repeat (a TLS version, a cipher suite, a Server header)."""
    return None if text is None else sys.intern(text)


def is_ip_literal(host: str) -> bool:
    # An IPv4 literal is digits and dots, an IPv6 one has colons: any other host is a
    # name, known without ipaddress raising (the costly part) for every target's label.
    if ":" not in host and not host.replace(".", "").isdigit():
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Target:
    """Where one probe goes.

    `host` is the host of the dialled URI: the identity the certificate must prove
    (RFC 5922 §7.2), never the address or an SRV target. `address` is the IP actually dialled.
    """

    uri: str
    host: str
    port: int
    transport: Transport
    address: str | None = None
    sni: str | None = None
    srv_target: str | None = None
    """The SRV target that led to `address` (RFC 2782), when SRV did: kept for the
    opt-in `--accept-srv-target-identity`, never the identity RFC 5922 asks for."""

    @property
    def name(self) -> str | None:
        """The host name, or None when the URI names an IP literal."""
        return None if is_ip_literal(self.host) else self.host

    @property
    def endpoint(self) -> str:
        """`address:port/transport`, with IPv6 in brackets; the host when unresolved."""
        return _endpoint(self.address or self.host, self.port, self.transport)

    @property
    def label(self) -> str:
        """How reports name the target: `name (address:port/transport)`."""
        return _label(self.host, self.address, self.port, self.transport)


@dataclass(frozen=True, slots=True)
class InboundTarget(Target):
    """A received call as a report's target: the caller's address, port and transport,
    the INVITE's Request-URI, and the call's number, which its label carries so that two
    calls over one connection read apart."""

    call: int = 0
    """Order of arrival (probe.evidence.inbound.InboundCall.number)."""

    @property
    def label(self) -> str:
        """`inbound call 1 from 192.0.2.7:5061/tls`, as InboundCall.label."""
        return f"inbound call {self.call} from {self.endpoint}"


def _endpoint(where: str, port: int, transport: str) -> str:
    return f"[{where}]:{port}/{transport}" if ":" in where else f"{where}:{port}/{transport}"


def _label(host: str, address: str | None, port: int, transport: str) -> str:
    # Interned: every finding about the target carries it, and a sweep of thousands of
    # targets should hold each label once.
    endpoint = _endpoint(address or host, port, transport)
    return sys.intern(endpoint if is_ip_literal(host) else f"{host} ({endpoint})")


ConnectErrorKind = Literal["refused", "timeout", "unreachable", "reset", "error"]


@dataclass(frozen=True, slots=True)
class ConnectEvidence:
    ok: bool
    elapsed_ms: float | None = None
    local_address: str | None = None
    local_port: int | None = None
    error_kind: ConnectErrorKind | None = None
    error: str | None = None


TlsErrorKind = Literal["timeout", "alert", "closed", "reset", "not_tls", "protocol", "error"]


@dataclass(frozen=True, slots=True)
class TlsEvidence:
    """The TLS handshake as the client saw it, verification deliberately off.

    Capturing with verification off means a broken chain never hides the evidence; the
    chain is judged afterwards (probe.tls.verify).
    """

    ok: bool
    sni: str | None
    elapsed_ms: float | None = None
    version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    presented_chain: tuple[bytes, ...] = ()
    """DER certificates in the order the server sent them, leaf first."""
    client_cert_requested: bool | None = None
    client_cert_sent: bool = False
    error_kind: TlsErrorKind | None = None
    error: str | None = None
    alert: str | None = None
    """The TLS alert the server sent, in OpenSSL's words (e.g. `handshake failure`)."""


WebSocketErrorKind = Literal[
    "timeout", "closed", "reset", "rejected", "protocol", "tls_alert", "error"
]
"""How an upgrade failed; `tls_alert`: a TLS alert instead of an answer (TLS 1.3 sends a
refused client certificate's alert after the handshake, with the first read)."""


@dataclass(frozen=True, slots=True)
class WebSocketUpgrade:
    """The HTTP/1.1 upgrade that opens a SIP WebSocket connection (RFC 6455 §4.1, RFC 7118
    §4.1), as sent and as answered: the bytes, so a saved run is judged again from them.

    `ok` says the client's WebSocket library took the answer for an open connection; what
    RFC 7118 asks of it beyond RFC 6455 (the `sip` subprotocol) is the check's to judge.
    An answer run records a caller's upgrade from the other side (probe.evidence.inbound):
    `request` as received, `response` as we answered it, `ok` when we accepted it.
    """

    ok: bool
    request: bytes
    """The GET as sent."""
    response: bytes = b""
    """The answer as received: its head, and of a refusal the start of its body."""
    elapsed_ms: float | None = None
    subprotocol: str | None = None
    """The subprotocol the answer chose (`Sec-WebSocket-Protocol`), if the answer was read."""
    error_kind: WebSocketErrorKind | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HandshakeAttempt:
    """One `--enumerate` handshake: a single version, or one TLS 1.2 suite."""

    label: str
    version: str
    negotiated_cipher: str | None
    accepted: bool
    local_refusal: bool = False
    """Our own OpenSSL would not offer it, so the server was never asked."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TlsEnumeration:
    versions: tuple[HandshakeAttempt, ...] = ()
    tls12_suites: tuple[HandshakeAttempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Received:
    """One thing read from the peer: a framed message, or bytes that could not be framed."""

    at_ms: float
    data: bytes
    error: str | None = None
    message: Message | None = field(
        default=None, compare=False, repr=False, metadata={"evidence": False}
    )
    """What the collector parsed `data` into (RFC 3261 grammar, the default limits), handed
    on to the checks so they do not parse the same bytes again. Not evidence: never
    written, never read back; a loaded run's checks parse `data`."""


ExchangeOutcome = Literal[
    "answered",  # a matching final response arrived
    "timeout",  # the deadline passed without a final response
    "closed",  # the peer closed the connection (FIN or TLS close_notify)
    "reset",  # the peer reset the connection
    "refused",  # ICMP port unreachable (UDP)
    "malformed",  # the peer sent bytes that are not a SIP message
    "tls_alert",  # a TLS alert after the handshake (e.g. TLS 1.3 certificate_required)
    "send_failed",  # the request could not be written
]


@dataclass(frozen=True, slots=True)
class SipExchange:
    """One request and everything received while waiting for its final response."""

    method: str
    request: bytes
    sent_at_ms: float
    outcome: ExchangeOutcome
    received: tuple[Received, ...] = ()
    final_at_ms: float | None = None
    retransmissions: int = 0
    pending_bytes: int = 0
    """Bytes of an incomplete message still buffered when the exchange ended."""
    error: str | None = None
    expired: str | None = None
    """With outcome `timeout`: the deadline that passed first (`first_byte`, `message` or
    `transaction`, probe.net.deadlines)."""
    final_status: int | None = None
    """With outcome `answered`: the status code of the final response."""

    @property
    def rtt_ms(self) -> float | None:
        if self.final_at_ms is None:
            return None
        return self.final_at_ms - self.sent_at_ms


KeepaliveMechanism = Literal["crlf", "websocket", "none"]
"""`crlf`: RFC 5626 §4.4.1's CRLF CRLF ping and CRLF pong (TCP, TLS); `websocket`: a
WebSocket Ping and its Pong (RFC 6455 §5.5.2, §5.5.3; RFC 7118 §6); `none`: the transport
has no keep-alive sipprobe sends (UDP's is STUN, RFC 5626 §4.4.2)."""

KeepaliveOutcome = Literal[
    "pong",  # the pong arrived within the deadline
    "timeout",  # no pong within the deadline
    "closed",  # the peer closed the connection (or the WebSocket) instead
    "reset",  # the peer reset the connection
    "tls_alert",  # a TLS alert instead of a pong
    "malformed",  # bytes that are neither a pong nor a SIP message
    "send_failed",  # the ping could not be written
    "not_sent",  # the collector did not send it, and `error` says why
    "pending",  # asked for and never reached: the probe ended (or was stopped) before it
]


@dataclass(frozen=True, slots=True)
class KeepaliveEvidence:
    """One keep-alive ping on the probe's connection after its OPTIONS, and what answered
    it within the `pong` deadline (`--keepalive`)."""

    mechanism: KeepaliveMechanism
    outcome: KeepaliveOutcome
    ping: bytes = b""
    """As sent: the CRLF CRLF, or the WebSocket Ping's application data."""
    sent_at_ms: float | None = None
    pong_at_ms: float | None = None
    pong: bytes = b""
    """What was taken for the pong: every CRLF read with it (one is a pong, RFC 5626
    §4.4.1), or the application data of the WebSocket Pong that echoed the Ping's."""
    deadline_s: float | None = None
    received: tuple[Received, ...] = ()
    """SIP messages (or bytes that could not be framed) read while waiting for the pong."""
    other_pongs: tuple[bytes, ...] = ()
    """WebSocket Pongs whose data is not the Ping's (RFC 6455 §5.5.3 lets a peer send
    unsolicited ones): not an answer."""
    error: str | None = None

    @property
    def pong_ms(self) -> float | None:
        if self.pong_at_ms is None or self.sent_at_ms is None:
            return None
        return self.pong_at_ms - self.sent_at_ms


@dataclass(frozen=True, slots=True)
class AuthEvidence:
    """A digest challenge met on the way (RFC 3261 §22: a 401 or a 407) and what came of
    it. A request counts as authenticated only when `answer_status` is set: credentials
    went out and the far end answered them."""

    status: int
    """401 (WWW-Authenticate, §22.2) or 407 (Proxy-Authenticate, §22.3)."""
    challenges: tuple[str, ...]
    """Every challenge header value of that response as received, in the server's order
    (RFC 8760 §2.3: most preferred first)."""
    credentials: bool = False
    """Whether there were credentials to answer with."""
    answered_with: str | None = None
    """The algorithm of the challenge answered (`SHA-256`, `MD5-sess`, ...); None when no
    request went out with credentials."""
    qop: str | None = None
    """The qop of that answer (`auth`, `auth-int`), None in RFC 2069 mode."""
    problem: str | None = None
    """Why no request went out with credentials although there were some."""
    answer_status: int | None = None
    """The final status answering the request sent with credentials; None when none came."""
    challenged: SipExchange | None = None
    """OPTIONS: the exchange that drew the challenge (the request with credentials is
    then among `exchanges`). A call keeps every message in its events instead."""


@dataclass(frozen=True, slots=True)
class ProbeEvidence:
    """Everything collected for one target, in the order it happened."""

    target: Target
    started_at: str
    """ISO 8601 UTC wall-clock time at which the probe started."""
    timeout_s: float
    method: str = "OPTIONS"
    """What the probe was to send once connected: OPTIONS, or INVITE for a test call."""
    connect: ConnectEvidence | None = None
    tls: TlsEvidence | None = None
    websocket: WebSocketUpgrade | None = None
    """SIP over WebSocket (`ws`, `wss`): the upgrade, after TLS and before any SIP."""
    exchanges: tuple[SipExchange, ...] = ()
    closed_cleanly: bool = True
    enumeration: TlsEnumeration | None = None
    call: CallEvidence | None = None
    ping: PingTally | None = None
    """`--count` above 1: the run in figures; `exchanges` may then hold only a sample."""
    auth: AuthEvidence | None = None
    """The first digest challenge to OPTIONS, and what came of it."""
    keepalive: KeepaliveEvidence | None = None
    """`--keepalive`: the ping sent after the OPTIONS, and its pong."""


PingEnd = Literal["completed", "connection_lost", "max_time", "interrupted"]
"""How a `--count` run ended: every probe sent, the connection died under it, or the run
was cut short by `--max-time` or a signal."""


@dataclass(frozen=True, slots=True)
class RttSpread:
    """Round-trip times in figures (Welford's running mean and sum of squared deviations),
    so a run of any length keeps five numbers rather than every time."""

    count: int = 0
    mean_ms: float = 0.0
    m2: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True, slots=True)
class PingTally:
    """A `--count` run in figures, however many of its exchanges the evidence keeps."""

    count: int
    """Probes asked for."""
    sent: int
    answered: int
    """Probes answered by a final response matching the request (RFC 3261 §17.1.3)."""
    codes: tuple[tuple[int, int], ...] = ()
    """(status code, answers with it), by code."""
    rtt: RttSpread = RttSpread()
    ended: PingEnd = "completed"
    ended_at: int | None = None
    """The probe (its CSeq number) at which the connection died, or the last one sent
    before the run was cut short."""
    ended_detail: str | None = None
    """What ended the connection (`reset: the server reset the connection`)."""
    exchanges_kept: int = 0
    """Exchanges the evidence holds: all of them, or the first, the last and the
    failures up to a bound (probe.evidence.ping)."""


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One SIP message on the wire during a call, as sent or received."""

    at_ms: float
    direction: Literal["sent", "received"]
    data: bytes
    note: str | None = None


CallTeardown = Literal[
    "bye",  # ACK then BYE after a 2xx
    "cancel",  # CANCEL before a final response, then the 487 ACKed
    "rejected",  # a final error response, ACKed
    "no_answer",  # nothing at all came back: no dialog to end
    "not_sent",  # the INVITE was never sent (e.g. SDES keys over a cleartext hop)
    "failed",  # the teardown itself could not complete (the finding says why)
]


@dataclass(frozen=True, slots=True)
class DtlsHandshake:
    """The DTLS-SRTP handshake on the media port (RFC 5763, RFC 5764), as our side saw it."""

    role: Literal["client", "server"]
    """Ours: `server` when the answer said `a=setup:active` (RFC 5763 §5)."""
    peer: str | None = None
    """`address:port` the handshake ran with (None: no DTLS ever arrived)."""
    version: str | None = None
    profile: str | None = None
    """The SRTP protection profile `use_srtp` agreed (RFC 5764 §4.1.2), OpenSSL's name."""
    expected_fingerprints: tuple[str, ...] = ()
    """The answer's `a=fingerprint` values (RFC 8122 §5)."""
    peer_fingerprint: str | None = None
    """The far end's certificate, with the hash its answer preferred."""
    fingerprint_match: bool | None = None
    error: str | None = None
    elapsed_ms: float | None = None


@dataclass(frozen=True, slots=True)
class MediaEvidence:
    """`--verify-media`: SRTP packets sent with our key, received and authenticated with
    the far end's key (from its `a=crypto`, or from a DTLS-SRTP handshake)."""

    suite: str
    sent: int
    received: int
    authenticated: int
    remote: str
    send_skipped: str | None = None
    first_error: str | None = None
    keying: Literal["sdes", "dtls"] = "sdes"
    dtls: DtlsHandshake | None = None


@dataclass(frozen=True, slots=True)
class CallEvidence:
    """A test call from INVITE to its end: every message, the offer, the answer, the end."""

    offer_kind: str
    offer: bytes
    """The SDP offer as sent, keys included: judged, never rendered as is."""
    events: tuple[WireEvent, ...] = ()
    final_status: int | None = None
    final_reason: str | None = None
    answer: bytes | None = None
    answer_source: str | None = None
    """Which response carried the answer judged (e.g. `200 OK`, `183 Session Progress`)."""
    provisional: tuple[int, ...] = ()
    authenticated: bool = False
    """An INVITE with credentials went out and was answered (see `auth`)."""
    cancelled: bool = False
    teardown: CallTeardown = "no_answer"
    teardown_detail: str | None = None
    dialogs_left_open: int = 0
    bye_status: int | None = None
    """The final status our BYE got, when one was sent."""
    keys_sent: bool = False
    error: str | None = None
    elapsed_ms: float | None = None
    media: MediaEvidence | None = None
    media_skipped: str | None = None
    expired: str | None = None
    """The deadline that cut the call short, if one did (`first_byte`, `message`,
    `transaction`, or `answer` for the ring time)."""
    faults: tuple[str, ...] = ()
    """What the far end got wrong without stopping the call (e.g. a 2xx without Contact,
    a stray response), one sentence each."""
    interrupted: bool = False
    """The run was stopped (a signal, `--max-time`) while the call was in progress: what is
    here is what was seen until then, and how the call was ended on the way out."""
    auth: AuthEvidence | None = None
    """The digest challenge to the INVITE, if any, and what came of it."""


def without_parsed(evidence: ProbeEvidence) -> ProbeEvidence:
    """`evidence` without the messages the collector handed on beside it: what a run
    keeps until its end (`--evidence-out`) holds the bytes only, as the file will."""
    exchanges = evidence.exchanges
    if not any(item.message is not None for exchange in exchanges for item in exchange.received):
        return evidence
    return replace(
        evidence,
        exchanges=tuple(
            replace(
                exchange, received=tuple(replace(item, message=None) for item in exchange.received)
            )
            for exchange in exchanges
        ),
    )
