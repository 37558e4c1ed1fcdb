"""TLS over TCP in a capture: each connection's handshake, as far as it is in the clear.

A TCP direction is TLS when its first bytes are a TLS record (RFC 8446 §5.1, RFC 5246
§6.2) that begins a handshake: a ClientHello from the client, a ServerHello (or an alert)
from the server. When the start of the connection was not captured, a direction is TLS
when its bytes are a run of well-formed record headers. Each direction's records are read
(probe.pcap.tls_records) until nothing more is in the clear: the ChangeCipherSpec of
TLS 1.2 and below (RFC 5246 §7.1), the ServerHello of TLS 1.3 (RFC 8446 §2), a fatal
alert, application data. What is taken from them: the ClientHello's server name,
versions and suites; the ServerHello's version and suite; for TLS 1.2 and below the
server's Certificate (RFC 5246 §7.4.2); the first alert.

Bytes held (a record, a handshake message being reassembled) are bounded per message
(`MAX_HANDSHAKE_MESSAGE`) and across every TLS stream (`AuditLimits.max_pending_bytes`);
a handshake that would need more is reported as not read through, never guessed at. The
sessions listed are bounded by `AuditLimits.max_listed`, and the distinct chains they
keep by `MAX_KEPT_CHAIN_BYTES`.
"""

from __future__ import annotations

import struct
from typing import Literal

from probe.evidence.capture import TlsAlertSeen, TlsCapture, TlsSessionSeen
from probe.pcap.analysis import UNDECIDED, AuditLimits, Datagram, Undecided
from probe.pcap.flows import Flow
from probe.pcap.tls_records import (
    ALERT,
    CERTIFICATE,
    CHANGE_CIPHER_SPEC,
    CLIENT_HELLO,
    HANDSHAKE,
    RECORD_HEADER,
    SERVER_HELLO,
    SERVER_HELLO_DONE,
    TlsWireError,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
    record_header,
)
from probe.tls.wire import TLS13

__all__ = [
    "MAX_HANDSHAKE_MESSAGE",
    "MAX_KEPT_CHAIN_BYTES",
    "TlsAnalysis",
    "TlsDirection",
    "starts_tls",
]

NAME = "tls"
MAX_HANDSHAKE_MESSAGE = 256 * 1024
"""The longest handshake message read (a Certificate with a long chain is some tens of
kilobytes; the format allows 16 MiB, RFC 8446 §4)."""
MAX_KEPT_CHAIN_BYTES = 16 * 1024 * 1024
"""Bytes of distinct certificate chains the evidence keeps across every session."""
_HANDSHAKE_HEADER = 4
_FATAL = 2
_RECORDS_TO_BELIEVE = 2
"""Record headers in a row that make a stream whose start was not captured TLS."""


def starts_tls(head: bytes, *, server_side: bool) -> bool | None:
    """Whether `head` begins a TLS connection's direction: a handshake record holding a
    ClientHello (a ServerHello, or an alert, on the server's side). None: too few bytes
    to tell yet."""
    if len(head) < RECORD_HEADER:
        if head and head[0] not in (HANDSHAKE, ALERT):
            return False
        if len(head) >= 2 and head[1] != 3:
            return False
        return None
    header = record_header(head)
    if header is None or header.length == 0:
        return False
    if header.content_type == ALERT:
        return server_side and header.length == 2
    if header.content_type != HANDSHAKE:
        return False
    if len(head) == RECORD_HEADER:
        return None
    return head[RECORD_HEADER] == (SERVER_HELLO if server_side else CLIENT_HELLO) or (
        server_side and head[RECORD_HEADER] == CLIENT_HELLO
    )


def _records_in_a_row(head: bytes, *, final: bool, window: int) -> bool | None:
    """Whether `head`, from a stream whose start was not captured, is a run of TLS
    records from its first byte; None: too few bytes to tell. A first record longer
    than the `window` the audit shows is believed on its header alone."""
    at = 0
    seen = 0
    while at + RECORD_HEADER <= len(head):
        header = record_header(head, at)
        if header is None:
            return False
        seen += 1
        at += RECORD_HEADER + header.length
        if seen >= _RECORDS_TO_BELIEVE or at > window:
            return True
    if final:
        return seen >= 1 and at == len(head)
    return None


class _Session:
    """One connection's handshake while the flow is open: both directions write here."""

    __slots__ = (
        "alert",
        "certificate_frame",
        "chain",
        "cipher",
        "client_certificate",
        "client_direction",
        "client_hello_frame",
        "client_hellos",
        "client_session_id",
        "client_version",
        "first_frame",
        "first_time",
        "hello_done",
        "hello_retry",
        "mid_stream",
        "missing",
        "offered_ciphers",
        "offered_versions",
        "problem",
        "resumed",
        "server_hello_frame",
        "server_hello_time",
        "sni",
        "version",
    )

    def __init__(self, frame: int, time: float) -> None:
        self.first_frame = frame
        self.first_time = time
        self.mid_stream = False
        """A direction was taken for TLS by its records alone, no hello at its start."""
        self.client_direction: int | None = None
        self.client_hellos = 0
        self.client_hello_frame: int | None = None
        self.client_session_id = b""
        self.client_version: int | None = None
        self.sni: str | None = None
        self.offered_versions: tuple[int, ...] = ()
        self.offered_ciphers: tuple[int, ...] = ()
        self.version: int | None = None
        self.cipher: int | None = None
        self.server_hello_frame: int | None = None
        self.server_hello_time: float | None = None
        self.hello_retry = False
        self.hello_done = False
        self.resumed = False
        self.chain: tuple[bytes, ...] = ()
        self.certificate_frame: int | None = None
        self.client_certificate = False
        self.alert: TlsAlertSeen | None = None
        self.missing: str | None = None
        self.problem: str | None = None

    def seen(self, flow: Flow, ended: str) -> TlsSessionSeen:
        client_side = self.client_direction if self.client_direction is not None else 0
        client, server = flow.endpoints(client_side)
        return TlsSessionSeen(
            client=client,
            server=server,
            first_frame=self.first_frame,
            first_time=self.first_time,
            sni=self.sni,
            client_version=self.client_version,
            offered_versions=self.offered_versions,
            offered_ciphers=self.offered_ciphers,
            client_hello_frame=self.client_hello_frame,
            version=self.version,
            cipher=self.cipher,
            server_hello_frame=self.server_hello_frame,
            server_hello_time=self.server_hello_time,
            hello_retry=self.hello_retry,
            resumed=self.resumed,
            presented_chain=self.chain,
            certificate_frame=self.certificate_frame,
            client_certificate=self.client_certificate,
            alert=self.alert,
            # The handshake is not in the capture at all: the connection began before it.
            mid_stream=self.mid_stream and not self.client_hellos and self.version is None,
            missing=self.missing,
            problem=self.problem,
            ended=ended,
        )


class TlsAnalysis:
    """Reads the handshake of every TLS connection over TCP."""

    name = NAME

    def __init__(self, limits: AuditLimits) -> None:
        self.limits = limits
        self.sessions: list[TlsSessionSeen] = []
        self.sessions_total = 0
        self.sessions_omitted = 0
        self.streams = 0
        self.held = 0
        """Bytes every TLS stream holds between them: at most `limits.max_pending_bytes`."""
        self.chains: dict[tuple[bytes, ...], tuple[bytes, ...]] = {}
        self.chain_bytes = 0

    def datagram(self, datagram: Datagram) -> None:
        """TLS runs over TCP here; DTLS on a media port is the media analysis's."""

    def claim_stream(
        self, flow: Flow, direction: int, head: bytes, *, mid_stream: bool, final: bool
    ) -> TlsDirection | Undecided | None:
        other_side_is_tls = NAME in flow.labels
        starts = starts_tls(head, server_side=other_side_is_tls)
        if starts is None and not final:
            return UNDECIDED
        if starts:
            return self._claim(flow, direction, head, mid_stream=mid_stream)
        if not (mid_stream or other_side_is_tls):
            return None
        run = _records_in_a_row(head, final=final, window=self.limits.claim_window)
        if run is None:
            return UNDECIDED if len(head) < self.limits.claim_window else None
        return self._claim(flow, direction, head, mid_stream=True) if run else None

    def _claim(self, flow: Flow, direction: int, head: bytes, *, mid_stream: bool) -> TlsDirection:
        """`mid_stream`: claimed by its records alone, not by a hello."""
        session: _Session | None = flow.state.get(NAME)
        if session is None:
            session = flow.state[NAME] = _Session(flow.first_frame, flow.first_time)
            flow.labels.add(NAME)
        session.mid_stream = session.mid_stream or mid_stream
        self.streams += 1
        return TlsDirection(self, session, direction)

    def flow_closed(self, flow: Flow, why: str) -> None:
        session: _Session | None = flow.state.pop(NAME, None)
        if session is None:
            return
        self.sessions_total += 1
        if len(self.sessions) >= self.limits.max_listed:
            self.sessions_omitted += 1
            return
        if session.chain:
            self._keep_chain(session)
        self.sessions.append(session.seen(flow, why))

    def _keep_chain(self, session: _Session) -> None:
        """Sessions with one server share its chain (kept once); the chains kept between
        them stay within `MAX_KEPT_CHAIN_BYTES`, past which a session says its chain was
        not kept rather than holding it."""
        kept = self.chains.get(session.chain)
        if kept is not None:
            session.chain = kept
            return
        size = sum(map(len, session.chain))
        if self.chain_bytes + size > MAX_KEPT_CHAIN_BYTES:
            session.chain = ()
            if session.missing is None:
                session.missing = (
                    f"the server's certificates were not kept: the audit keeps at most "
                    f"{MAX_KEPT_CHAIN_BYTES} bytes of distinct chains"
                )
            return
        self.chains[session.chain] = session.chain
        self.chain_bytes += size

    def result(self) -> TlsCapture:
        return TlsCapture(
            sessions=tuple(self.sessions),
            sessions_total=self.sessions_total,
            sessions_omitted=self.sessions_omitted,
            streams=self.streams,
        )


class TlsDirection:
    """One direction of a TLS connection: its records read until nothing more is in the
    clear, then its bytes passed over."""

    __slots__ = (
        "_analysis",
        "_direction",
        "_frame",
        "_holding",
        "_left",
        "_message",
        "_records",
        "_session",
        "_time",
        "_type",
        "reading",
    )

    def __init__(self, analysis: TlsAnalysis, session: _Session, direction: int) -> None:
        self._analysis = analysis
        self._session = session
        self._direction = direction
        self._records = bytearray()  # bytes of a record not yet whole
        self._message = bytearray()  # handshake bytes of a message not yet whole
        self._type = 0  # the content type of the record being read
        self._left = 0  # bytes of its body still to come
        self._holding = 0
        self._frame = 0
        self._time = 0.0
        self.reading = True
        """Still in the clear: records are read. Off for good once they are not."""

    # -- the sink -----------------------------------------------------------------------

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        if not self.reading:
            return
        self._frame, self._time = frame, time
        self._records += chunk
        self._read_records()
        self._account()

    def gap(self, missing: int, frame: int, time: float) -> None:
        if not self.reading:
            return
        self._lost(f"{missing} bytes of the {self._role()}'s handshake are not in the capture")

    def end(self) -> None:
        if self.reading and (self._records or self._message or self._left):
            self._lost(f"the {self._role()}'s last TLS record is cut short in the capture")
        self._stop()

    # -- records --------------------------------------------------------------------------

    def _read_records(self) -> None:
        """Handshake records are read as their bytes come, so a message whole in the
        capture is read even when a later part of its record is not."""
        buffer = self._records
        at = 0
        while self.reading and at < len(buffer):
            if self._left == 0:
                header = record_header(buffer, at)
                if header is None:
                    if len(buffer) - at < RECORD_HEADER:
                        break
                    self._unreadable(
                        f"the {self._role()} sent bytes that are not a TLS record "
                        f"({bytes(buffer[at : at + RECORD_HEADER]).hex()})"
                    )
                    return
                at += RECORD_HEADER
                self._type, self._left = header.content_type, header.length
                readable = self._type == HANDSHAKE or (self._type == ALERT and self._left == 2)
                if not readable:
                    self._other_record(self._type)
                continue
            take = min(self._left, len(buffer) - at)
            if self._type == HANDSHAKE:
                self._message += buffer[at : at + take]
                at += take
                self._left -= take
                self._read_messages()
            elif self._type == ALERT:
                if take < self._left:
                    break
                self._alert(bytes(buffer[at : at + take]))
                at += take
                self._left = 0
            else:  # the body of a record that says all it has to in its header
                at += take
                self._left -= take
        if self.reading:
            del buffer[:at]

    def _other_record(self, content_type: int) -> None:
        """A record that is neither a handshake nor an alert in the clear."""
        session = self._session
        if content_type == CHANGE_CIPHER_SPEC:
            # RFC 8446 §D.4: in middlebox-compatibility mode a TLS 1.3 peer sends one
            # around a HelloRetryRequest, and the hellos after it are still in the clear.
            if session.hello_retry and session.version is None:
                return
            # The server's ChangeCipherSpec straight after its ServerHello, with no
            # certificate and no ServerHelloDone: an abbreviated handshake.
            if (
                self._is_server()
                and session.version is not None
                and session.version < TLS13
                and not session.chain
                and not session.hello_done
            ):
                session.resumed = True
        # Application data, an encrypted alert, a heartbeat, or the switch to the new
        # keys: nothing more in the clear.
        self._stop()

    def _alert(self, body: bytes) -> None:
        session = self._session
        if session.alert is None:
            role: Literal["client", "server"] = "server" if self._is_server() else "client"
            session.alert = TlsAlertSeen(role, body[0], body[1], self._frame)
        if body[0] == _FATAL:
            self._stop()

    def _read_messages(self) -> None:
        message = self._message
        at = 0
        while self.reading and len(message) - at >= _HANDSHAKE_HEADER:
            kind, high, low = struct.unpack_from("!BBH", message, at)
            length = high << 16 | low
            if length > MAX_HANDSHAKE_MESSAGE:
                self._lost(
                    f"the {self._role()} sent a handshake message of {length} bytes, more "
                    f"than the {MAX_HANDSHAKE_MESSAGE} this audit reads"
                )
                return
            end = at + _HANDSHAKE_HEADER + length
            if end > len(message):
                break
            body = bytes(message[at + _HANDSHAKE_HEADER : end])
            at = end
            try:
                self._handshake(kind, body)
            except TlsWireError as exc:
                self._unreadable(f"the {self._role()}'s handshake: {exc}")
                return
        if self.reading:
            del message[:at]

    def _handshake(self, kind: int, body: bytes) -> None:
        session = self._session
        if kind == CLIENT_HELLO:
            hello = parse_client_hello(body)
            session.client_hellos += 1
            if session.client_direction is None:
                session.client_direction = self._direction
                session.client_hello_frame = self._frame
                session.client_session_id = hello.session_id
                session.client_version = hello.legacy_version
                session.sni = hello.server_name
                session.offered_versions = hello.versions
                session.offered_ciphers = hello.ciphers[: self._analysis.limits.max_listed]
        elif kind == SERVER_HELLO:
            answer = parse_server_hello(body)
            if session.client_direction is None:
                session.client_direction = 1 - self._direction
            if answer.hello_retry:
                session.hello_retry = True
                return
            session.version = answer.version
            session.cipher = answer.cipher
            session.server_hello_frame = self._frame
            session.server_hello_time = self._time
            if answer.version >= TLS13:
                self._stop()  # RFC 8446 §2: everything after the ServerHello is encrypted
            elif answer.session_id and answer.session_id == session.client_session_id:
                session.resumed = True  # RFC 5246 §7.4.1.3: the session ID echoed back
        elif kind == CERTIFICATE:
            if self._is_server():
                if session.version is None or session.version < TLS13:
                    session.chain = parse_certificate_list(body)
                    session.certificate_frame = self._frame
            else:
                session.client_certificate = True
        elif kind == SERVER_HELLO_DONE and self._is_server():
            session.hello_done = True
            self._stop()  # the server's flight is over; nothing more of interest follows

    # -- bookkeeping ----------------------------------------------------------------------

    def _is_server(self) -> bool:
        client = self._session.client_direction
        return client is not None and client != self._direction

    def _role(self) -> str:
        if self._session.client_direction is None:
            return "client" if self._direction == 0 else "server"
        return "server" if self._is_server() else "client"

    def _account(self) -> None:
        holding = len(self._records) + len(self._message)
        analysis = self._analysis
        analysis.held += holding - self._holding
        self._holding = holding
        if analysis.held > analysis.limits.max_pending_bytes and holding:
            self._lost(
                f"the {self._role()}'s handshake was given up on at the audit's memory bound"
            )

    def _lost(self, why: str) -> None:
        """Part of the handshake is not in the capture (or not held): what follows is not
        read, and the session says why."""
        session = self._session
        if session.missing is None and session.problem is None:
            session.missing = why
        self._stop()

    def _unreadable(self, why: str) -> None:
        session = self._session
        if session.problem is None:
            session.problem = why
        self._stop()

    def _stop(self) -> None:
        self.reading = False
        self._records = bytearray()
        self._message = bytearray()
        self._analysis.held -= self._holding
        self._holding = 0
