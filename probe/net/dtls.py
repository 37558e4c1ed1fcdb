"""DTLS-SRTP on the media port (RFC 5763, RFC 5764): the handshake that keys SRTP when the
SDP carried no key, only the certificate fingerprint of each side.

The offer carries the fingerprint of a throw-away certificate (`DtlsIdentity`) and
`a=setup:actpass`; the answer names who starts the handshake (`a=setup:active`: the far
end is the DTLS client, we the server; `passive`: the reverse, RFC 5763 §5). The
handshake runs on the media socket itself, told apart from RTP by its first byte (RFC
7983 §7). It offers the `use_srtp` extension with the SRTP protection profiles that
libsrtp (pylibsrtp) can then apply (RFC 5764 §4.1.1), checks the certificate the far end
presented against the answer's `a=fingerprint` (RFC 5763 §5, RFC 8122 §5), and derives
both sides' SRTP master keys and salts from the exported keying material (RFC 5764 §4.2).

pyOpenSSL (the `srtp` extra) does the DTLS itself, through memory BIOs: this module only
carries datagrams between them and the socket, each wait under the handshake's deadline,
and retransmits when OpenSSL's DTLS timer says so (RFC 6347 §4.2.4). Keys never leave
the `Crypto` objects that carry them to libsrtp.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from probe.sdp import Crypto, Fingerprint

if TYPE_CHECKING:
    from OpenSSL import SSL

    from probe.tls.pki import Issued

__all__ = [
    "DTLS_PROFILES",
    "DtlsIdentity",
    "DtlsOutcome",
    "SrtpProfile",
    "dtls_handshake",
    "match_fingerprint",
    "new_dtls_identity",
    "split_keying_material",
]

DtlsRole = Literal["client", "server"]


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    """A DTLS-SRTP protection profile: the SDES suite with the same transform (its name
    in reports, and the key libsrtp is given), and its master key and salt sizes."""

    suite: str
    key_bytes: int
    salt_bytes: int


DTLS_PROFILES: Mapping[str, SrtpProfile] = MappingProxyType(
    {
        # OpenSSL's names, in our order of preference (strongest first). RFC 7714 §14.2:
        # AES-GCM with a 128- or 256-bit key and a 96-bit salt.
        "SRTP_AEAD_AES_256_GCM": SrtpProfile("AEAD_AES_256_GCM", 32, 12),
        "SRTP_AEAD_AES_128_GCM": SrtpProfile("AEAD_AES_128_GCM", 16, 12),
        # RFC 5764 §4.1.2: AES-128 counter mode, a 112-bit salt, an 80- or 32-bit tag.
        "SRTP_AES128_CM_SHA1_80": SrtpProfile("AES_CM_128_HMAC_SHA1_80", 16, 14),
        "SRTP_AES128_CM_SHA1_32": SrtpProfile("AES_CM_128_HMAC_SHA1_32", 16, 14),
    }
)
"""The profiles offered in `use_srtp`: exactly those pylibsrtp can protect and check."""

EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"  # RFC 5764 §4.2
HANDSHAKE_SECONDS = 5.0
"""How long the whole handshake may take: OpenSSL's first retransmission comes after one
second and doubles (RFC 6347 §4.2.4.1), so a lost flight is sent again twice within it."""
MTU = 1200
"""Ciphertext bytes per datagram: handshake messages are fragmented to fit (RFC 6347
§4.1.1.1), well under any path's MTU."""
EARLY_PACKETS_KEPT = 64
"""SRTP that arrives while the handshake finishes is kept (up to this many) for the media
check, rather than dropped."""
# Hash functions by preference, strongest first (RFC 8122 §5: verify with the most
# preferred of those the answer offers).
_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = MappingProxyType(
    {
        "sha-512": hashes.SHA512,
        "sha-384": hashes.SHA384,
        "sha-256": hashes.SHA256,
        "sha-224": hashes.SHA224,
        "sha-1": hashes.SHA1,
    }
)


@dataclass(frozen=True, slots=True, repr=False)
class DtlsIdentity:
    """Our DTLS certificate and key for one run, and the fingerprint the offer carries."""

    issued: Issued
    fingerprint: Fingerprint

    def __repr__(self) -> str:
        return f"DtlsIdentity(fingerprint={self.fingerprint.to_attribute_value()!r})"


def new_dtls_identity() -> DtlsIdentity:
    """A fresh self-signed ECDSA P-256 certificate: RFC 5763 §5 authenticates it by its
    fingerprint in the signalling, so no CA is involved; SHA-256, as RFC 8122 §5 asks."""
    from probe.tls.pki import make_leaf

    issued = make_leaf(None, common_name="sipprobe", key_type="ec")
    return DtlsIdentity(issued, Fingerprint.of("sha-256", issued.cert.fingerprint(hashes.SHA256())))


def split_keying_material(material: bytes, profile: SrtpProfile) -> tuple[bytes, bytes]:
    """(client key||salt, server key||salt) from the exporter's output, laid out as
    client_write_SRTP_master_key, server_write_SRTP_master_key, client salt, server salt
    (RFC 5764 §4.2)."""
    key, salt = profile.key_bytes, profile.salt_bytes
    if len(material) != 2 * (key + salt):
        raise ValueError(f"{len(material)} bytes of keying material, expected {2 * (key + salt)}")
    client_key, server_key = material[:key], material[key : 2 * key]
    client_salt = material[2 * key : 2 * key + salt]
    server_salt = material[2 * key + salt :]
    return client_key + client_salt, server_key + server_salt


def match_fingerprint(
    certificate: bytes, fingerprints: Sequence[Fingerprint]
) -> tuple[bool, Fingerprint | None]:
    """Whether the DER `certificate` matches the answer's fingerprints (RFC 8122 §5: with
    the most preferred hash among those offered, it must match one of that hash's), and
    the certificate's own fingerprint with that hash. (False, None) when no offered hash
    is one sipprobe trusts (MD5 and MD2 never are)."""
    offered = {f.hash_function for f in fingerprints}
    chosen = next((name for name in _HASHES if name in offered), None)
    if chosen is None:
        return False, None
    cert = x509.load_der_x509_certificate(certificate)
    actual = Fingerprint.of(chosen, cert.fingerprint(_HASHES[chosen]()))
    candidates = [f for f in fingerprints if f.hash_function == chosen]
    return any(f.digest == actual.digest for f in candidates), actual


def is_dtls(datagram: bytes) -> bool:
    """RFC 7983 §7: a first byte of 20 to 63 is DTLS (RFC 5764 §5.1.2)."""
    return bool(datagram) and 20 <= datagram[0] <= 63


def is_rtp(datagram: bytes) -> bool:
    """RFC 7983 §7: a first byte of 128 to 191 is RTP or RTCP (version 2)."""
    return bool(datagram) and 128 <= datagram[0] <= 191


@dataclass
class DtlsOutcome:
    """What the handshake did: who we were, with whom, what it agreed, what went wrong."""

    role: DtlsRole
    peer: tuple[str, int] | None = None
    profile: str | None = None
    version: str | None = None
    peer_fingerprint: Fingerprint | None = None
    fingerprint_match: bool | None = None
    error: str | None = None
    elapsed_ms: float | None = None
    ours: Crypto | None = field(default=None, repr=False)
    theirs: Crypto | None = field(default=None, repr=False)
    early: list[bytes] = field(default_factory=list, repr=False)
    """SRTP from the peer that arrived before the handshake had finished."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.theirs is not None


def _context(identity: DtlsIdentity) -> SSL.Context:
    from cryptography.hazmat.primitives.asymmetric import ec
    from OpenSSL import SSL

    key = identity.issued.key
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # new_dtls_identity makes EC keys
        raise TypeError("a DTLS identity has an EC key")
    context = SSL.Context(SSL.DTLS_METHOD)
    # RFC 5764 §4.1: DTLS 1.0 at least; OpenSSL's DTLS_METHOD negotiates 1.2 when it can.
    # pyOpenSSL takes cryptography's objects directly (24.3 and later).
    context.use_certificate(identity.issued.cert)
    context.use_privatekey(key)
    # RFC 5763 §5: the peer's certificate is self-signed and is checked against the
    # fingerprint after the handshake, so OpenSSL is told to ask for it and accept it;
    # a server that sends none fails here (RFC 5763 §5: both sides present one).
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_args: True)
    context.set_tlsext_use_srtp(b":".join(name.encode("ascii") for name in DTLS_PROFILES))
    return context


class _Handshake:
    """One DTLS connection over memory BIOs, and the socket its datagrams travel on."""

    def __init__(
        self,
        media_socket: socket.socket,
        identity: DtlsIdentity,
        role: DtlsRole,
        peer: tuple[str, int] | None,
    ) -> None:
        from OpenSSL import SSL

        self.socket = media_socket
        self.connection = SSL.Connection(_context(identity), None)
        self.connection.set_ciphertext_mtu(MTU)
        if role == "client":
            self.connection.set_connect_state()
        else:
            self.connection.set_accept_state()
        self.peer = peer

    def step(self) -> bool:
        """Advance the handshake with what the BIO holds; True once it has finished."""
        from OpenSSL import SSL

        try:
            self.connection.do_handshake()
        except SSL.WantReadError:
            return False
        return True

    async def flush(self) -> None:
        """Send every datagram OpenSSL has queued, to the peer."""
        from OpenSSL import SSL

        loop = asyncio.get_running_loop()
        while True:
            try:
                data = self.connection.bio_read(65536)
            except SSL.WantReadError:
                return
            if self.peer is not None and data:
                await loop.sock_sendto(self.socket, data, self.peer)

    def retransmit_in(self) -> float | None:
        timeout = self.connection.DTLSv1_get_timeout()
        return None if timeout is None else float(timeout)


async def dtls_handshake(
    media_socket: socket.socket,
    *,
    identity: DtlsIdentity,
    role: DtlsRole,
    fingerprints: Sequence[Fingerprint],
    remote: tuple[str, int] | None = None,
    seconds: float = HANDSHAKE_SECONDS,
) -> DtlsOutcome:
    """Run the handshake as `role`; never raises for what the far end does.

    As the client, the first flight goes to `remote` (the answer's media address). As
    the server, the peer is whoever sends the first DTLS datagram, and only that address
    is answered. Keys are derived only when the far end's certificate matches one of
    `fingerprints`: a mismatch is reported, never keyed.
    """
    from OpenSSL import SSL

    loop = asyncio.get_running_loop()
    media_socket.setblocking(False)
    outcome = DtlsOutcome(role=role, peer=remote if role == "client" else None)
    started = time.monotonic()
    deadline = loop.time() + seconds
    try:
        handshake = _Handshake(media_socket, identity, role, outcome.peer)
    except SSL.Error as exc:
        outcome.error = f"DTLS could not be set up here: {_ssl_text(exc)}"
        return outcome
    try:
        done = handshake.step() if role == "client" else False
        await handshake.flush()
        while not done:
            now = loop.time()
            if now >= deadline:
                heard = "no DTLS from the far end" if handshake.peer is None else "it stalled"
                outcome.error = f"the DTLS handshake did not finish within {seconds:g} s ({heard})"
                return outcome
            wait = deadline - now
            retransmit = handshake.retransmit_in()
            if retransmit is not None:
                wait = min(wait, max(retransmit, 0.01))
            try:
                async with asyncio.timeout(wait):
                    data, source = await loop.sock_recvfrom(media_socket, 65536)
            except TimeoutError:
                # OpenSSL's DTLS timer: send the last flight again (RFC 6347 §4.2.4).
                if handshake.connection.DTLSv1_handle_timeout():
                    await handshake.flush()
                continue
            address = (str(source[0]), int(source[1]))
            if handshake.peer is not None and address != handshake.peer:
                continue  # another source: not part of this session
            if is_rtp(data):
                if handshake.peer is not None and len(outcome.early) < EARLY_PACKETS_KEPT:
                    outcome.early.append(data)
                continue
            if not is_dtls(data):
                continue  # STUN and anything else (RFC 7983 §7)
            if handshake.peer is None:
                handshake.peer = outcome.peer = address
            handshake.connection.bio_write(data)
            done = handshake.step()
            await handshake.flush()
    except SSL.Error as exc:
        outcome.error = f"the DTLS handshake failed: {_ssl_text(exc)}"
        await _flush_quietly(handshake)  # the alert OpenSSL queued tells the peer why
        return outcome
    except OSError as exc:
        outcome.error = f"the DTLS handshake could not use the media socket: {exc}"
        return outcome
    finally:
        outcome.elapsed_ms = (time.monotonic() - started) * 1000
    return _keyed(handshake, outcome, fingerprints)


def _keyed(
    handshake: _Handshake, outcome: DtlsOutcome, fingerprints: Sequence[Fingerprint]
) -> DtlsOutcome:
    """The finished handshake checked against the answer's fingerprints, then keyed."""
    connection = handshake.connection
    outcome.version = connection.get_protocol_version_name()
    selected = connection.get_selected_srtp_profile()
    outcome.profile = selected.decode("ascii", "replace") if selected else None
    peer_certificate = connection.get_peer_certificate()
    if peer_certificate is None:
        outcome.error = "the far end presented no certificate (RFC 5763 §5 requires one)"
        return outcome
    der = peer_certificate.to_cryptography().public_bytes(Encoding.DER)
    outcome.fingerprint_match, outcome.peer_fingerprint = match_fingerprint(der, fingerprints)
    if outcome.peer_fingerprint is None:
        outcome.error = "the answer offers no fingerprint hash sipprobe can check (RFC 8122 §5)"
        return outcome
    if not outcome.fingerprint_match:
        outcome.error = (
            "the certificate the far end presented does not match the answer's a=fingerprint:"
            " whoever completed the handshake is not who signed the SDP (RFC 5763 §5)"
        )
        return outcome
    profile = DTLS_PROFILES.get(outcome.profile or "")
    if profile is None:
        outcome.error = (
            "the handshake agreed no SRTP protection profile (use_srtp, RFC 5764 §4.1.1)"
            if outcome.profile is None
            else f"the far end chose {outcome.profile}, which was not offered"
        )
        return outcome
    material = connection.export_keying_material(
        EXPORTER_LABEL, 2 * (profile.key_bytes + profile.salt_bytes)
    )
    client, server = split_keying_material(material, profile)
    ours, theirs = (client, server) if outcome.role == "client" else (server, client)
    outcome.ours = Crypto(tag=0, suite=profile.suite, key_salt=ours)
    outcome.theirs = Crypto(tag=0, suite=profile.suite, key_salt=theirs)
    return outcome


async def _flush_quietly(handshake: _Handshake) -> None:
    try:
        await handshake.flush()
    except Exception:  # the handshake already failed; its alert is best effort
        return


def _ssl_text(exc: Exception) -> str:
    """OpenSSL's reason strings (pyOpenSSL lists (library, function, reason) tuples)."""
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    reasons = [str(error[-1]) for error in errors if isinstance(error, tuple) and error]
    return "; ".join(reasons) if reasons else (str(exc) or type(exc).__name__)
