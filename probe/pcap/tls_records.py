"""TLS records and the handshake messages sent in the clear, read from captured bytes.

A TLS connection's bytes are records (RFC 8446 §5.1, RFC 5246 §6.2): a content type, a
version and a length, then that many bytes. Handshake records carry handshake messages
(§4), which may span records or share one. What is in the clear: the ClientHello and
ServerHello of every version; for TLS 1.2 and below the server's Certificate and the rest
of both first flights, up to ChangeCipherSpec (RFC 5246 §7.3). TLS 1.3 encrypts
everything after the ServerHello (RFC 8446 §2).

Everything here reads bytes from a capture, so from anyone: every length is checked
against what holds it, and a message that does not parse raises :class:`TlsWireError`
with what was wrong, never an IndexError. Pure: no scapy, no ssl, no socket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.tls.wire import is_grease

__all__ = [
    "ALERT",
    "APPLICATION_DATA",
    "CERTIFICATE",
    "CHANGE_CIPHER_SPEC",
    "CLIENT_HELLO",
    "HANDSHAKE",
    "HELLO_RETRY_RANDOM",
    "MAX_RECORD",
    "RECORD_HEADER",
    "SERVER_HELLO",
    "SERVER_HELLO_DONE",
    "ClientHello",
    "RecordHeader",
    "ServerHello",
    "TlsWireError",
    "alert_name",
    "parse_certificate_list",
    "parse_client_hello",
    "parse_server_hello",
    "record_header",
]

# RFC 8446 §5.1 ContentType (24, heartbeat: RFC 6520).
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT = 20, 21, 22, 23, 24
# RFC 8446 §4 HandshakeType; RFC 5246 §7.4 for those TLS 1.3 dropped.
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE = 1, 2, 11, 14

RECORD_HEADER = 5
MAX_RECORD = 2**14 + 2048
"""RFC 5246 §6.2.3: the longest TLSCiphertext fragment (TLS 1.3 allows less, §5.2)."""
HELLO_RETRY_RANDOM = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
)
"""RFC 8446 §4.1.3: a ServerHello with this Random is a HelloRetryRequest."""

_EXT_SERVER_NAME = 0  # RFC 6066 §3
_EXT_SUPPORTED_VERSIONS = 43  # RFC 8446 §4.2.1
_HOST_NAME = 0  # RFC 6066 §3 NameType
_MAX_HOST_NAME = 255  # RFC 1035 §2.3.4: a name's length

# RFC 8446 §6, RFC 5246 §7.2: AlertDescription.
_ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def alert_name(description: int) -> str:
    return _ALERTS.get(description, f"alert {description}")


class TlsWireError(ProbeError, ValueError):
    """Bytes that are not the TLS message they claim to be; the message says how."""


@dataclass(frozen=True, slots=True)
class RecordHeader:
    content_type: int
    version: int
    length: int


def record_header(data: bytes | bytearray, at: int = 0) -> RecordHeader | None:
    """The record header at `at`, or None when those bytes cannot begin a TLS record: a
    content type from 20 to 24, a version 3.x (SSL 3.0 to TLS 1.3; §5.1 keeps 0x0301
    or 0x0303 in TLS 1.3's records), a length up to `MAX_RECORD`."""
    if len(data) - at < RECORD_HEADER:
        return None
    content_type, major, minor, length = struct.unpack_from("!BBBH", data, at)
    if not CHANGE_CIPHER_SPEC <= content_type <= HEARTBEAT or major != 3 or minor > 4:
        return None
    if length > MAX_RECORD:
        return None
    return RecordHeader(content_type, major << 8 | minor, length)


class _Cursor:
    """Reads a message front to back; any read past its end is a TlsWireError."""

    __slots__ = ("_at", "_data", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._at = 0
        self._what = what

    @property
    def left(self) -> int:
        return len(self._data) - self._at

    def take(self, count: int) -> bytes:
        if count > self.left:
            raise TlsWireError(
                f"the {self._what} ends after {len(self._data)} bytes, inside a field that "
                f"needs {count - self.left} more"
            )
        piece = self._data[self._at : self._at + count]
        self._at += count
        return piece

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        """A variable-length vector (RFC 8446 §3.4): its length, then its bytes."""
        return self.take(self.number(length_size))

    def part(self, length_size: int, what: str) -> _Cursor:
        return _Cursor(self.vector(length_size), what)


def _code_points(data: bytes, what: str) -> tuple[int, ...]:
    """A list of 16-bit values (suites, versions), GREASE values left out (RFC 8701)."""
    if len(data) % 2:
        raise TlsWireError(f"the {what} list has an odd length ({len(data)} bytes)")
    values = struct.unpack(f"!{len(data) // 2}H", data)
    return tuple(value for value in values if not is_grease(value))


def _extensions(cursor: _Cursor) -> dict[int, bytes]:
    """The extensions at the end of a hello (optional before TLS 1.3, RFC 5246 §7.4.1.2)."""
    found: dict[int, bytes] = {}
    if not cursor.left:
        return found
    block = cursor.part(2, "extensions")
    while block.left:
        kind = block.number(2)
        body = block.vector(2)
        found.setdefault(kind, body)
    if cursor.left:
        raise TlsWireError(f"{cursor.left} bytes follow the extensions")
    return found


def _server_name(body: bytes) -> str | None:
    """RFC 6066 §3: the first host_name of the server_name extension."""
    names = _Cursor(body, "server_name extension").part(2, "server name list")
    while names.left:
        kind = names.number(1)
        name = names.vector(2)
        if kind == _HOST_NAME:
            # An ASCII name without a trailing dot (§3); anything else is kept readable.
            return name[:_MAX_HOST_NAME].decode("ascii", "replace")
    return None


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    session_id: bytes
    ciphers: tuple[int, ...]
    """The suites offered, in the client's order, GREASE left out."""
    versions: tuple[int, ...]
    """supported_versions (RFC 8446 §4.2.1), when sent: every version offered. Without
    it, `legacy_version` is the highest the client supports and the lowest is not said
    (RFC 5246 §E.1)."""
    server_name: str | None


def parse_client_hello(body: bytes) -> ClientHello:
    """RFC 8446 §4.1.2 (the same layout as RFC 5246 §7.4.1.2)."""
    cursor = _Cursor(body, "ClientHello")
    legacy_version = cursor.number(2)
    cursor.take(32)  # random
    session_id = cursor.vector(1)
    ciphers = _code_points(cursor.vector(2), "cipher suite")
    cursor.vector(1)  # compression methods
    extensions = _extensions(cursor)
    versions: tuple[int, ...] = ()
    if _EXT_SUPPORTED_VERSIONS in extensions:
        listed = _Cursor(extensions[_EXT_SUPPORTED_VERSIONS], "supported_versions")
        versions = _code_points(listed.vector(1), "supported_versions")
    server_name = None
    if extensions.get(_EXT_SERVER_NAME):
        server_name = _server_name(extensions[_EXT_SERVER_NAME])
    return ClientHello(legacy_version, session_id, ciphers, versions, server_name)


@dataclass(frozen=True, slots=True)
class ServerHello:
    legacy_version: int
    session_id: bytes
    cipher: int
    version: int
    """The version chosen: supported_versions' when present (TLS 1.3), else legacy."""
    hello_retry: bool


def parse_server_hello(body: bytes) -> ServerHello:
    """RFC 8446 §4.1.3; a HelloRetryRequest is a ServerHello with a fixed Random."""
    cursor = _Cursor(body, "ServerHello")
    legacy_version = cursor.number(2)
    random = cursor.take(32)
    session_id = cursor.vector(1)
    cipher = cursor.number(2)
    cursor.take(1)  # compression method
    extensions = _extensions(cursor)
    version = legacy_version
    selected = extensions.get(_EXT_SUPPORTED_VERSIONS)
    if selected is not None:
        if len(selected) != 2:
            raise TlsWireError(
                f"the ServerHello's supported_versions holds {len(selected)} bytes, not 2"
            )
        version = int.from_bytes(selected, "big")
    return ServerHello(
        legacy_version, session_id, cipher, version, hello_retry=random == HELLO_RETRY_RANDOM
    )


def parse_certificate_list(
    body: bytes, *, max_certificates: int = 16, tls13: bool = False
) -> tuple[bytes, ...]:
    """The DER certificates of a Certificate message's body, sender's first (the leaf).
    At most `max_certificates` are kept; a chain is not that long.

    RFC 5246 §7.4.2 (TLS 1.2 and below): a list of certificates. RFC 8446 §4.4.2 (TLS
    1.3, `tls13`): a certificate_request_context first, then a list of entries, each a
    certificate followed by its extensions (OCSP status, SCTs), which are skipped."""
    cursor = _Cursor(body, "Certificate message")
    if tls13:
        cursor.vector(1)  # certificate_request_context<0..2^8-1>
    listed = cursor.part(3, "certificate list")
    if cursor.left:
        raise TlsWireError(f"{cursor.left} bytes follow the certificate list")
    chain: list[bytes] = []
    while listed.left:
        certificate = listed.vector(3)
        if not certificate:
            raise TlsWireError("an empty certificate in the certificate list")
        if tls13:
            listed.vector(2)  # CertificateEntry.extensions<0..2^16-1>
        if len(chain) < max_certificates:
            chain.append(certificate)
    return tuple(chain)
