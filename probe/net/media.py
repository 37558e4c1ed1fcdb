"""`--verify-media`: proof that SRTP really flows, with the keys the SDP exchanged.

Needs the `srtp` extra (pylibsrtp; pyOpenSSL for DTLS-SRTP), imported only here. Packets
from the far end arrive at the port our offer named; each is authenticated with the far
end's key: from its `a=crypto` with SDES (RFC 4568 §6.1: the answerer's key protects
what the answerer sends), or, with DTLS-SRTP, from the handshake run on that same port
once its certificate matched the answer's fingerprint (probe.net.dtls). Only RTP-range
datagrams count as media (RFC 7983 §7). Our own packets are sent only to a loopback
media address: sipprobe never sprays RTP at an address the user did not choose; the
DTLS handshake follows the same rule, answering only a peer that spoke first unless that
peer is on loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from probe.errors import ProbeError
from probe.evidence.model import DtlsHandshake, MediaEvidence
from probe.sdp import Crypto, Fingerprint, SdpError, SessionDescription

if TYPE_CHECKING:
    from probe.net.dtls import DtlsIdentity

# The SDES suites pylibsrtp's Policy has a profile for (1.0: these four). It has none for
# AES_192_CM_* and AES_256_CM_* (RFC 6188), F8_128_HMAC_SHA1_80 or a NULL suite, whose
# media is therefore reported as not checked rather than guessed at.
_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}
MEDIA_SUITES = tuple(_PROFILES)
"""The SDES suites `--verify-media` can send and authenticate."""
PACKETS_TO_SEND = 10
LISTEN_SECONDS = 2.0


class MediaExtraMissing(ProbeError):
    """pylibsrtp (or, for DTLS-SRTP, pyOpenSSL) is not installed."""


def require_extra(*, dtls: bool = False) -> None:
    try:
        import pylibsrtp  # noqa: F401

        if dtls:
            from OpenSSL import SSL  # noqa: F401
    except ImportError as exc:
        raise MediaExtraMissing(
            "--verify-media needs the srtp extra: pip install 'sipprobe[srtp]'"
        ) from exc


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """What the SDP exchange agreed: their key and address, our key."""

    theirs: Crypto
    ours: Crypto
    address: str
    port: int


def _rtp_packet(sequence: int, timestamp: int, ssrc: int) -> bytes:
    # RFC 3550 §5.1: V=2, PT=0 (PCMU), 20 ms of silence (160 bytes of 0xFF in µ-law).
    header = struct.pack("!BBHII", 0x80, 0, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    return header + b"\xff" * 160


def _session(crypto: Crypto, inbound: bool) -> object:
    import pylibsrtp

    profile = getattr(pylibsrtp.Policy, _PROFILES[crypto.suite])
    ssrc_type = pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound else pylibsrtp.Policy.SSRC_ANY_OUTBOUND
    policy = pylibsrtp.Policy(key=crypto.key_salt, ssrc_type=ssrc_type, srtp_profile=profile)
    return pylibsrtp.Session(policy=policy)


def plan_media(offer: SessionDescription, answer: SessionDescription) -> MediaPlan | str:
    """The agreed keys and address, or a sentence saying why media cannot be checked."""
    if not answer.media or not offer.media:
        return "no audio stream in the exchange"
    media = answer.media[0]
    try:
        answered = media.crypto
    except SdpError as exc:
        return f"the answer's crypto line cannot be used: {exc}"
    if len(answered) != 1:
        return "the answer does not carry exactly one crypto line"
    theirs = answered[0]
    ours = next((c for c in offer.media[0].crypto if c.tag == theirs.tag), None)
    # RFC 4568 §7.1.2: the answer echoes one offered tag with its suite. Otherwise the two
    # sides did not agree on a suite (sdp.srtp fails it), and there is nothing to check.
    if ours is None:
        return f"the answer's a=crypto tag {theirs.tag} was not offered: no agreed SRTP suite"
    if ours.suite != theirs.suite:
        return (
            f"tag {theirs.tag} was offered as {ours.suite} but answered as {theirs.suite}:"
            " no agreed SRTP suite"
        )
    if theirs.suite not in _PROFILES:
        return (
            f"libsrtp cannot do {theirs.suite}, the suite the far end chose"
            f" (it does {', '.join(MEDIA_SUITES)})"
        )
    address = answer.effective_connection(media) or ""
    return MediaPlan(theirs, ours, address, media.port)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def verify_media(media_socket: socket.socket, plan: MediaPlan) -> MediaEvidence:
    """Send our packets (loopback only) and authenticate theirs for LISTEN_SECONDS."""
    return await _exchange(media_socket, plan.ours, plan.theirs, (plan.address, plan.port))


@dataclass(frozen=True, slots=True)
class DtlsMediaPlan:
    """What a DTLS-SRTP answer agreed: who starts the handshake, whose certificate to
    expect, where the far end's media is."""

    role: Literal["client", "server"]
    """Ours: `a=setup:active` in the answer makes us the server (RFC 5763 §5)."""
    fingerprints: tuple[Fingerprint, ...]
    address: str
    port: int


def plan_dtls_media(answer: SessionDescription) -> DtlsMediaPlan | str:
    """The handshake the answer asks for, or a sentence saying why it cannot be run."""
    if not answer.media:
        return "no audio stream in the answer"
    media = answer.media[0]
    try:
        fingerprints = tuple(answer.effective_fingerprints(media))
        setup = answer.effective_setup(media)
    except SdpError as exc:
        return f"the answer's DTLS attributes cannot be used: {exc}"
    if not fingerprints:
        return "the answer has no a=fingerprint to check the DTLS peer against"
    address = answer.effective_connection(media) or ""
    if setup == "active":
        return DtlsMediaPlan("server", fingerprints, address, media.port)
    if setup != "passive":
        return f"the answer says a=setup:{setup}, not active or passive: no DTLS role to take"
    if not _is_loopback(address) or not media.port:
        return (
            f"the far end took a=setup:passive, so sipprobe would open the DTLS handshake"
            f" towards {address or 'no address'}:{media.port}; media is only sent to a"
            " loopback address"
        )
    return DtlsMediaPlan("client", fingerprints, address, media.port)


async def verify_dtls_media(
    media_socket: socket.socket, plan: DtlsMediaPlan, identity: DtlsIdentity
) -> MediaEvidence:
    """Run the DTLS-SRTP handshake, then exchange SRTP under the keys it exported."""
    from probe.net.dtls import dtls_handshake

    outcome = await dtls_handshake(
        media_socket,
        identity=identity,
        role=plan.role,
        fingerprints=plan.fingerprints,
        remote=(plan.address, plan.port) if plan.role == "client" else None,
    )
    peer = _where(*outcome.peer) if outcome.peer else None
    record = DtlsHandshake(
        role=outcome.role,
        peer=peer,
        version=outcome.version,
        profile=outcome.profile,
        expected_fingerprints=tuple(f.to_attribute_value() for f in plan.fingerprints),
        peer_fingerprint=(
            outcome.peer_fingerprint.to_attribute_value() if outcome.peer_fingerprint else None
        ),
        fingerprint_match=outcome.fingerprint_match,
        error=outcome.error,
        elapsed_ms=outcome.elapsed_ms,
    )
    if not outcome.ok or outcome.ours is None or outcome.theirs is None or outcome.peer is None:
        return MediaEvidence(
            suite=outcome.theirs.suite if outcome.theirs else "",
            sent=0,
            received=0,
            authenticated=0,
            remote=peer or _where(plan.address, plan.port),
            keying="dtls",
            dtls=record,
        )
    # Media goes where the handshake did: the address that proved the fingerprint.
    evidence = await _exchange(
        media_socket,
        outcome.ours,
        outcome.theirs,
        outcome.peer,
        only_from=outcome.peer,
        early=outcome.early,
    )
    return replace(evidence, keying="dtls", dtls=record)


def _where(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def _exchange(
    media_socket: socket.socket,
    ours: Crypto,
    theirs: Crypto,
    destination: tuple[str, int],
    *,
    only_from: tuple[str, int] | None = None,
    early: Sequence[bytes] = (),
) -> MediaEvidence:
    """Send our packets (loopback only) and authenticate theirs for LISTEN_SECONDS;
    `early` are packets that arrived before the keys were known."""
    loop = asyncio.get_running_loop()
    media_socket.setblocking(False)
    sent = 0
    skipped: str | None = None
    address, port = destination
    if _is_loopback(address) and port:
        outbound = _session(ours, inbound=False)
        ssrc = int.from_bytes(os.urandom(4), "big")
        for number in range(PACKETS_TO_SEND):
            packet = outbound.protect(_rtp_packet(number, number * 160, ssrc))  # type: ignore[attr-defined]
            await loop.sock_sendto(media_socket, packet, destination)
            sent += 1
    else:
        skipped = (
            f"not sending to {address or 'no address'}:{port}: media is only sent to "
            "a loopback address"
        )
    inbound = _session(theirs, inbound=True)
    received = authenticated = 0
    first_error: str | None = None
    pending = list(early)
    deadline = loop.time() + LISTEN_SECONDS
    while authenticated < PACKETS_TO_SEND:
        if pending:
            data = pending.pop(0)
        else:
            if loop.time() >= deadline:
                break
            try:
                async with asyncio.timeout(deadline - loop.time()):
                    data, source = await loop.sock_recvfrom(media_socket, 2048)
            except TimeoutError:
                break
            if only_from is not None and (str(source[0]), int(source[1])) != only_from:
                continue
        if not data or not 128 <= data[0] <= 191:
            continue  # not RTP (RFC 7983 §7): a DTLS retransmission, STUN, noise
        received += 1
        try:
            inbound.unprotect(data)  # type: ignore[attr-defined]
        except Exception as exc:  # pylibsrtp raises its own Error type
            first_error = first_error or str(exc)
            continue
        authenticated += 1
    return MediaEvidence(
        suite=theirs.suite,
        sent=sent,
        received=received,
        authenticated=authenticated,
        send_skipped=skipped,
        first_error=first_error,
        remote=_where(address, port),
    )
