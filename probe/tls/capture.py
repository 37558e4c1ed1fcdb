"""The capture adapter: the facts Python's public `ssl` API does not give on 3.11.

1. The chain the server *presented* (not the verified one): public as
   `SSLObject.get_unverified_chain()` from Python 3.13, private `_sslobj` method before.
2. Whether the server asked for a client certificate: seen through the private
   `SSLContext._msg_callback` hook, which receives every handshake message after
   decryption, so it works for TLS 1.3 where CertificateRequest is encrypted.
3. On our server side (`sipprobe answer`), the chain a *client* presented: `ssl` can
   only ask for a client certificate with verification on, and a chain that fails it
   fails the handshake before any public API shows it. The same hook hands over the
   client's Certificate message as received, which is read here (TLS 1.2 and 1.3
   layouts), so a refused chain is still evidence.

Both hooks live here and only here; `private_hooks_available()` lets a test fail loudly
if a Python release removes them.
"""

from __future__ import annotations

import _ssl
import ssl
from collections.abc import Callable
from typing import Any

# RFC 8446 §4: HandshakeType certificate(11), certificate_request(13); also TLS 1.2
# (RFC 5246 §7.4).
_CERTIFICATE = 11
_CERTIFICATE_REQUEST = 13
_HANDSHAKE_HEADER = 4  # msg_type(1) and a 24-bit length (RFC 8446 §4)
_CLIENT_HELLO = 1  # HandshakeType client_hello(1)
_HANDSHAKE = 22  # ContentType handshake(22), RFC 8446 §5.1


class HandshakeRecorder:
    """Receives the message callbacks of a capture context for one handshake: whether
    the server asked our connection for a client certificate."""

    __slots__ = ("_owner", "client_cert_requested")

    def __init__(self) -> None:
        self.client_cert_requested = False
        self._owner: object | None = None

    @property
    def user_function(self) -> HandshakeRecorder:
        """What reading `SSLContext._msg_callback` returns: the property expects its own
        wrapper there, which keeps the user's callback under this name."""
        return self

    def __call__(
        self,
        conn: object,
        direction: str,
        version: object,
        content_type: object,
        msg_type: object,
        data: bytes,
    ) -> None:
        # The C-level slot passes plain integers, numbered as in RFC 8446 §4 and §5.1.
        if content_type != _HANDSHAKE:
            return
        # A reused context still carries earlier connections (their session tickets, a
        # TLS 1.2 renegotiation): the recorder belongs to the connection that sends the
        # next ClientHello, and hears no other.
        if self._owner is None:
            if direction == "write" and msg_type == _CLIENT_HELLO:
                self._owner = conn
            return
        if conn is not self._owner or direction != "read":
            return
        if msg_type == _CERTIFICATE_REQUEST:
            self.client_cert_requested = True


class ClientCertificateRecorder:
    """Receives the message callbacks of one server connection's context (a context per
    connection keeps the facts apart): the Certificate message the client sent, as
    received, with the protocol version it came under."""

    __slots__ = ("message", "version")

    def __init__(self) -> None:
        self.message: bytes | None = None
        self.version: int | None = None

    @property
    def user_function(self) -> ClientCertificateRecorder:
        """What reading `SSLContext._msg_callback` returns (see HandshakeRecorder)."""
        return self

    def __call__(
        self,
        conn: object,
        direction: str,
        version: object,
        content_type: object,
        msg_type: object,
        data: bytes,
    ) -> None:
        # The server reads one Certificate from the client (RFC 8446 §4.4.2, RFC 5246
        # §7.4.6); the one it writes is its own. The first is kept: a renegotiation's
        # would be a second handshake.
        if content_type != _HANDSHAKE or direction != "read" or msg_type != _CERTIFICATE:
            return
        if self.message is None:
            self.message = bytes(data)
            self.version = int(version) if isinstance(version, int) else None

    def client_chain(self) -> tuple[bytes, ...]:
        """The certificates the client presented, leaf first, as DER; () when it sent
        no Certificate message or an empty one. Raises TlsWireError when the message
        does not parse."""
        if self.message is None:
            return ()
        return client_chain_from_message(self.message, self.version)


def client_chain_from_message(message: bytes, version: int | None) -> tuple[bytes, ...]:
    """The DER chain of a whole Certificate handshake message (its 4-byte header
    included), read with the layout of `version`: TLS 1.3's (RFC 8446 §4.4.2) for
    0x0304, TLS 1.2's (RFC 5246 §7.4.2) otherwise. Raises TlsWireError when the bytes
    are not such a message."""
    # Imported here: only a listener that asked for a client certificate reads one, and
    # a probe's start-up does not pay for the TLS record readers.
    from probe.pcap.tls_records import TlsWireError, parse_certificate_list
    from probe.tls.wire import TLS13

    if len(message) < _HANDSHAKE_HEADER or message[0] != _CERTIFICATE:
        raise TlsWireError("not a Certificate handshake message")
    length = int.from_bytes(message[1:_HANDSHAKE_HEADER], "big")
    if length != len(message) - _HANDSHAKE_HEADER:
        raise TlsWireError(
            f"the Certificate message says {length} bytes and carries "
            f"{len(message) - _HANDSHAKE_HEADER}"
        )
    return parse_certificate_list(message[_HANDSHAKE_HEADER:], tls13=version == TLS13)


def install_client_certificate_recorder(context: ssl.SSLContext) -> ClientCertificateRecorder:
    """Attach a recorder of the client's Certificate message to a server context."""
    recorder = ClientCertificateRecorder()
    _set_message_callback(context, recorder)
    return recorder


def install_recorder(context: ssl.SSLContext) -> HandshakeRecorder:
    """Attach a fresh recorder; one context per handshake keeps the facts apart."""
    recorder = HandshakeRecorder()
    _set_message_callback(context, recorder)
    return recorder


def remove_recorder(context: ssl.SSLContext) -> None:
    """Stop the callbacks once the handshake is over: the connection goes on sending and
    receiving records (the request, the answer, session tickets, close_notify) that
    would each reach Python for nothing."""
    _set_message_callback(context, None)


_MessageCallback = Callable[[object, str, object, object, object, bytes], None]


def _set_message_callback(context: ssl.SSLContext, callback: _MessageCallback | None) -> None:
    """Set the C-level slot under `ssl.SSLContext._msg_callback`'s Python wrapper: that
    wrapper turns three integers into enums for every record and message of the
    handshake (dozens per connection), work the recorder, which compares plain
    integers, has no use for."""
    slot = getattr(_ssl._SSLContext, "_msg_callback", None)
    if slot is not None:
        slot.__set__(context, callback)
    else:  # pragma: no cover - a Python without the C slot: the wrapped property
        context._msg_callback = callback  # type: ignore[attr-defined]


def presented_chain_der(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    """The certificates the server sent, leaf first, as DER."""
    public = getattr(ssl_object, "get_unverified_chain", None)
    if public is not None:  # Python >= 3.13 returns DER bytes already
        return tuple(bytes(cert) for cert in public())
    private: Any = ssl_object._sslobj  # type: ignore[attr-defined]
    chain = private.get_unverified_chain() or []
    return tuple(cert.public_bytes(_ssl.ENCODING_DER) for cert in chain)


def private_hooks_available() -> bool:
    """True when this Python still has both hooks the adapter relies on."""
    has_chain = hasattr(ssl.SSLObject, "get_unverified_chain") or hasattr(
        _ssl._SSLSocket,  # type: ignore[attr-defined]
        "get_unverified_chain",
    )
    has_callback = hasattr(ssl.SSLContext, "_msg_callback")
    return has_chain and has_callback
