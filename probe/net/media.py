"""`--verify-media`: proof that SRTP really flows, with the keys the SDP exchanged.

Needs the `srtp` extra (pylibsrtp), imported only here. Packets from the far end arrive
at the port our offer named; each is authenticated with the key from the far end's
`a=crypto` (RFC 4568 §6.1: the answerer's key protects what the answerer sends). Our own
packets are sent only to a loopback media address: sipprobe never sprays RTP at an
address the user did not choose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.evidence.model import MediaEvidence
from probe.sdp import Crypto, SdpError, SessionDescription

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
    """pylibsrtp is not installed."""


def require_extra() -> None:
    try:
        import pylibsrtp  # noqa: F401
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


async def verify_media(media_socket: socket.socket, plan: MediaPlan) -> MediaEvidence:
    """Send our packets (loopback only) and authenticate theirs for LISTEN_SECONDS."""
    loop = asyncio.get_running_loop()
    media_socket.setblocking(False)
    sent = 0
    skipped: str | None = None
    try:
        loopback = ipaddress.ip_address(plan.address).is_loopback
    except ValueError:
        loopback = False
    if loopback and plan.port:
        outbound = _session(plan.ours, inbound=False)
        ssrc = int.from_bytes(os.urandom(4), "big")
        for number in range(PACKETS_TO_SEND):
            packet = outbound.protect(_rtp_packet(number, number * 160, ssrc))  # type: ignore[attr-defined]
            await loop.sock_sendto(media_socket, packet, (plan.address, plan.port))
            sent += 1
    else:
        skipped = (
            f"not sending to {plan.address or 'no address'}:{plan.port}: media is only sent to "
            "a loopback address"
        )
    inbound = _session(plan.theirs, inbound=True)
    received = authenticated = 0
    first_error: str | None = None
    deadline = loop.time() + LISTEN_SECONDS
    while loop.time() < deadline and authenticated < PACKETS_TO_SEND:
        try:
            async with asyncio.timeout(deadline - loop.time()):
                data = await loop.sock_recv(media_socket, 2048)
        except TimeoutError:
            break
        received += 1
        try:
            inbound.unprotect(data)  # type: ignore[attr-defined]
        except Exception as exc:  # pylibsrtp raises its own Error type
            first_error = first_error or str(exc)
            continue
        authenticated += 1
    return MediaEvidence(
        suite=plan.theirs.suite,
        sent=sent,
        received=received,
        authenticated=authenticated,
        send_skipped=skipped,
        first_error=first_error,
        remote=f"{plan.address}:{plan.port}",
    )
