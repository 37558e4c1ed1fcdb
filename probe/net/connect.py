"""Opening a stream connection, TCP then TLS, each phase with its own deadline.

TCP connect and the TLS handshake are separate steps (StreamWriter.start_tls) so that
each is timed on its own and a failure names the phase it happened in.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import ssl
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from probe.errors import ProbeError
from probe.evidence.model import ConnectEvidence, TlsErrorKind, TlsEvidence, interned
from probe.sip import StreamFramer
from probe.tls.capture import presented_chain_der
from probe.tls.context import CaptureContexts, TlsClientConfig

if TYPE_CHECKING:
    from probe.net.framing import MessageFramer
    from probe.net.trace import WireTrace
    from probe.net.websocket import WebSocketLink

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}

# OpenSSL reasons that mean "the peer is not speaking TLS at all".
_NOT_TLS_REASONS = {
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "UNKNOWN_PROTOCOL",
    "RECORD_TOO_LARGE",
}
_PROTOCOL_REASONS = {"UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "NO_SHARED_CIPHER"}


class TlsAwareStreamProtocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, told before the handshake that TLS is coming.

    asyncio's own protocol learns that it runs over TLS only once `start_tls` has
    returned. A server whose last handshake record and close_notify arrive together (a
    TLS 1.2 server that closes at once) delivers the EOF before that, and the protocol's
    answer, keep the half-closed stream open, made asyncio log "returning true from
    eof_received() has no effect when using ssl" on stderr. TLS has no half-close
    (RFC 8446 §6.1): an EOF over TLS ends the stream.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self.tls = False

    def eof_received(self) -> bool:
        keep_open = bool(super().eof_received())
        return keep_open and not self.tls


KEPT_READ_BUFFER = 32 * 1024
"""Bytes of the read buffer of a TLS connection kept open between uses: two TLS records
(RFC 8446 §5.1: at most 2^14 bytes of plaintext each, plus their overhead)."""


@dataclass(slots=True)
class StreamConnection:
    """An open stream; `close()` must always be awaited."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    handshake_failed: bool = False
    """A failed or timed-out `start_tls` has already closed the socket underneath."""
    stream_protocol: TlsAwareStreamProtocol | None = None
    socket_transport: asyncio.WriteTransport = field(init=False)
    """The TCP transport, kept when `start_tls` puts a TLS transport in front of it."""
    websocket: WebSocketLink | None = None
    """Set by a WebSocket upgrade (probe.net.websocket): SIP messages then travel one per
    WebSocket message (RFC 7118 §5.1) instead of framed by Content-Length."""
    trace: WireTrace | None = None
    """`--trace`: every message written and read is shown (probe.net.trace)."""

    def __post_init__(self) -> None:
        self.socket_transport = self.writer.transport

    def framer(self) -> MessageFramer:
        """What reads SIP messages off this connection, as it is now."""
        if self.websocket is not None:
            return self.websocket.framer()
        return StreamFramer()

    def write_message(self, wire: bytes) -> None:
        """Queue one SIP message for sending (a drain must follow)."""
        self.writer.write(wire if self.websocket is None else self.websocket.encode(wire))
        if self.trace is not None:
            self.trace.sent(wire)

    def trim_read_buffer(self, size: int = KEPT_READ_BUFFER) -> bool:
        """Give a TLS connection that stays open a smaller read buffer; True when it did.

        asyncio's TLS protocol (3.11's sslproto) gives every connection a 256 KiB buffer
        for the socket's reads, its `max_size`, and reallocates it to that size whenever
        it is smaller: right for a bulk transfer, a quarter of a megabyte for each
        connection the exporter keeps between scrapes for one OPTIONS at a time. Any size
        reads the stream correctly (a TLS record longer than the buffer takes two reads),
        so the kept connection's protocol gets `size` as its own `max_size` and a buffer
        of that size. A private attribute of asyncio's: where it is not there (another
        Python), nothing is changed (tests/net/test_connect_buffer.py notices that).
        """
        protocol = getattr(self.writer.transport, "_ssl_protocol", None)
        buffer = getattr(protocol, "_ssl_buffer", None)
        if not isinstance(buffer, bytearray) or len(buffer) <= size:
            return False
        protocol.max_size = size  # type: ignore[union-attr]
        protocol._ssl_buffer = bytearray(size)  # type: ignore[union-attr]
        protocol._ssl_buffer_view = memoryview(protocol._ssl_buffer)  # type: ignore[union-attr]
        return True

    def expect_tls(self) -> None:
        """Called before `start_tls`: an EOF from then on is a TLS one."""
        if self.stream_protocol is not None:
            self.stream_protocol.tls = True

    def abort(self) -> None:
        """Drop the connection at once, without a TLS close_notify.

        The TCP transport is aborted rather than the TLS one: on CPython 3.11.1 to 3.11.3
        (Debian 12 ships 3.11.2) the TLS transport forgets its protocol when `close()` runs
        a second time, which asyncio itself does when the peer breaks TLS while we close,
        and its `abort()` then raises AttributeError (python/cpython gh-98539, fixed in
        3.11.4 by gh-104474). Losing the socket ends the TLS layer on every version.
        """
        self.socket_transport.abort()

    async def close(self, *, timeout: float = 1.0) -> bool:
        """Close politely (TLS close_notify), abort if the peer does not let go in time.

        Returns True when the close completed cleanly.
        """
        if self.handshake_failed:
            # asyncio closed the transport when the handshake failed, and its protocol no
            # longer reports to the stream: waiting for the close would only run out the
            # timeout against a peer that may never speak (e.g. one that ignores the
            # ClientHello).
            self.abort()
            return False
        websocket_closed = True
        if self.websocket is not None:
            # Half the time for the WebSocket's closing handshake, the rest for TLS/TCP.
            timeout /= 2
            websocket_closed = await self._close_websocket(self.websocket, timeout)
        self.writer.close()
        try:
            async with asyncio.timeout(timeout):
                await self.writer.wait_closed()
        except TimeoutError:
            self.abort()
            return False
        except (OSError, ssl.SSLError):
            # The peer reset or broke TLS while we were closing: closed all the same.
            self.abort()
            return False
        return websocket_closed

    async def _close_websocket(self, link: WebSocketLink, timeout: float) -> bool:
        """RFC 6455 §5.5.1: a Close frame, then the server's Close before the TCP
        connection is closed: a TLS close_notify sent first would make the server's Close
        data after close_notify, a broken close. The server's Close is awaited `timeout`
        seconds at most; True when the closing handshake completed."""
        frame = link.close_frame()
        if not frame:
            return link.closed  # the server started the closing handshake
        try:
            self.writer.write(frame)
            async with asyncio.timeout(timeout):
                while not link.closed:
                    data = await self.reader.read(65536)
                    if not data:
                        return False  # the stream ended without the server's Close
                    link.closing(data)
        except (TimeoutError, OSError):  # ssl.SSLError is an OSError
            return False
        return True


class SourceBindError(ProbeError, OSError):
    """The socket could not be bound to `--source`: this machine's problem, not the
    target's, said in those words."""


def source_text(source: tuple[str, int]) -> str:
    address, port = source
    where = f"[{address}]" if ":" in address else address
    return f"{where}:{port}" if port else where


def parse_source(text: str) -> tuple[str, int]:
    """`ADDRESS[:PORT]` (`192.0.2.1`, `192.0.2.1:5070`, `2001:db8::1`, `[2001:db8::1]:5070`)
    → (address, port; 0 when none); a ValueError says what is wrong. An IP literal only:
    a name would need a lookup, and the source must not depend on one."""
    address, port_text = text, ""
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"{text!r}: no port after the colon")
    elif text.count(":") == 1:
        address, _colon, port_text = text.partition(":")
        if not port_text:
            raise ValueError(f"{text!r}: no port after the colon")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"{text!r}: {address!r} is not an IP address") from None
    port = 0
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
        port = int(port_text)
    return str(parsed), port


def bound_socket(source: tuple[str, int], kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket of `kind` bound to `source` (address, port; port 0: any)."""
    family = socket.AF_INET6 if ":" in source[0] else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setblocking(False)
        if source[1]:
            # A fixed source port: taken again at once by the next connection of the run,
            # whose predecessor may still be in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(source)
    except OSError as exc:
        sock.close()
        raise SourceBindError(
            exc.errno, f"cannot bind the source address {source_text(source)}: {exc.strerror}"
        ) from None
    return sock


def classify_connect_error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, SourceBindError):
        return "error", str(exc.strerror)
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer to the TCP connection attempt"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused (nothing listens on that port)"
    if isinstance(exc, ConnectionResetError):
        return "reset", "connection reset while connecting"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return "unreachable", f"address unreachable ({exc.strerror})"
    return "error", f"{type(exc).__name__}: {exc}"


async def _connected_from(source: tuple[str, int], address: str, port: int) -> socket.socket:
    """A TCP socket bound to `source` and connected to `address`:`port`."""
    loop = asyncio.get_running_loop()
    sock = bound_socket(source, socket.SOCK_STREAM)
    try:
        await loop.sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_tcp(
    address: str, port: int, *, timeout: float, source: tuple[str, int] | None = None
) -> tuple[StreamConnection | None, ConnectEvidence]:
    """A TCP connection to `address`:`port` within `timeout`, from `source` when given."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout):
            # asyncio.open_connection, with the protocol start_tls needs (its docstring
            # invites copying it to customise the protocol).
            reader = asyncio.StreamReader()
            protocol = TlsAwareStreamProtocol(reader)
            if source is None:
                transport, _ = await loop.create_connection(lambda: protocol, address, port)
            else:
                sock = await _connected_from(source, address, port)
                try:
                    transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
                except BaseException:
                    sock.close()
                    raise
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    except (OSError, TimeoutError) as exc:
        kind, message = classify_connect_error(exc)
        if kind == "timeout":
            message = f"{message} within {timeout:g} s (connect deadline)"
        return None, ConnectEvidence(
            ok=False,
            elapsed_ms=(loop.time() - started) * 1000,
            error_kind=kind,  # type: ignore[arg-type]
            error=message,
        )
    elapsed = (loop.time() - started) * 1000
    sockname = writer.get_extra_info("sockname") or ("", None)
    return StreamConnection(reader, writer, stream_protocol=protocol), ConnectEvidence(
        ok=True,
        elapsed_ms=elapsed,
        local_address=sys.intern(str(sockname[0])),
        local_port=sockname[1],
    )


def alert_text(reason: str) -> str | None:
    """`TLSV1_ALERT_UNKNOWN_CA` → `unknown ca`; None when the reason is not an alert."""
    for marker in ("_ALERT_",):
        if marker in reason:
            return reason.split(marker, 1)[1].replace("_", " ").lower()
    return None


def classify_tls_error(exc: BaseException) -> tuple[TlsErrorKind, str, str | None]:
    """(kind, sentence, alert) for an exception raised by the handshake or a TLS read."""
    if isinstance(exc, TimeoutError):
        return "timeout", "the server accepted TCP but did not complete the TLS handshake", None
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        reason = exc.reason or ""
        alert = alert_text(reason)
        if alert is not None:
            return "alert", f"the server sent TLS alert '{alert}'", alert
        if reason in _NOT_TLS_REASONS:
            return "not_tls", f"the server did not answer with TLS ({reason})", None
        if reason in _PROTOCOL_REASONS:
            return "protocol", f"no TLS version or cipher in common ({reason})", None
        return "error", f"TLS error {reason or exc}", None
    if isinstance(exc, ConnectionResetError):
        return "reset", "the server reset the connection during the TLS handshake", None
    if isinstance(exc, ssl.SSLEOFError | ConnectionError | asyncio.IncompleteReadError | EOFError):
        return "closed", "the server closed the connection during the TLS handshake", None
    return "error", f"{type(exc).__name__}: {exc}", None


async def start_tls(
    connection: StreamConnection,
    config: TlsClientConfig | CaptureContexts,
    *,
    sni: str | None,
    timeout: float,
) -> TlsEvidence:
    """Upgrade `connection` to TLS in place and capture what the server presented.
    `config` is a client configuration, or the run's contexts for one to reuse."""
    loop = asyncio.get_running_loop()
    connection.expect_tls()
    contexts = config if isinstance(config, CaptureContexts) else CaptureContexts(config)
    with contexts.checkout() as (context, recorder):
        started = loop.time()
        try:
            async with asyncio.timeout(timeout):
                await connection.writer.start_tls(
                    context,
                    server_hostname=sni,
                    # asyncio's own handshake timer stays out of the way of ours.
                    ssl_handshake_timeout=timeout + 5,
                )
        except asyncio.CancelledError:
            # The handshake never finished: closing must not wait on its close_notify.
            connection.handshake_failed = True
            raise
        except (OSError, TimeoutError, EOFError) as exc:
            connection.handshake_failed = True
            kind, message, alert = classify_tls_error(exc)
            if kind == "timeout":
                message = f"{message} within {timeout:g} s (handshake deadline)"
            return TlsEvidence(
                ok=False,
                sni=sni,
                elapsed_ms=(loop.time() - started) * 1000,
                client_cert_requested=recorder.client_cert_requested or None,
                client_cert_sent=contexts.config.cert_file is not None,
                error_kind=kind,
                error=message,
                alert=alert,
            )
        client_cert_requested = recorder.client_cert_requested
    elapsed = (loop.time() - started) * 1000
    ssl_object = connection.writer.get_extra_info("ssl_object")
    chain: tuple[bytes, ...] = ()
    version = cipher = None
    bits = None
    if ssl_object is not None:
        with contextlib.suppress(AttributeError, ValueError):
            chain = presented_chain_der(ssl_object)
        # Interned: every connection of a sweep names the same few versions and suites,
        # and the findings that quote them live until the report.
        version = interned(ssl_object.version())
        cipher_info = ssl_object.cipher()
        if cipher_info is not None:
            cipher, bits = interned(cipher_info[0]), cipher_info[2]
    return TlsEvidence(
        ok=True,
        sni=sni,
        elapsed_ms=elapsed,
        version=version,
        cipher=cipher,
        cipher_bits=bits,
        presented_chain=chain,
        client_cert_requested=client_cert_requested,
        client_cert_sent=contexts.config.cert_file is not None,
    )
