"""The verifier's SDP offers (RFC 3264 §5): SDES-SRTP, DTLS-SRTP, or plain RTP.

One audio stream, G.711 µ-law and A-law plus RFC 4733 telephone-events: every SIP trunk
accepts this, so a refusal or a downgrade in the answer is about security, not codecs.
Nothing here is random: SRTP keys come from the ``random_bytes`` the caller passes
(``secrets.token_bytes`` in production, a fixed function in tests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Literal

from .crypto import SUITE_KEY_BYTES, Crypto
from .dtls import Fingerprint
from .errors import SdpBuildError
from .model import MediaDescription, Origin, SessionDescription, Timing

__all__ = ["DEFAULT_SUITES", "OfferKind", "build_offer"]

OfferKind = Literal["sdes", "dtls", "rtp"]

# Twilio accepts both inbound and offers only _80 outbound; Teams requires _80
# (anchors.md §3).  _80 first: RFC 3264 §5 lists offers in order of preference.
DEFAULT_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
PROBE_USER = "sipprobe"
# RFC 3264 §5 transport profiles: RFC 3711 §12 (SAVP), RFC 5764 §8 (UDP/TLS/RTP/SAVP).
PROFILES: dict[str, str] = {"sdes": "RTP/SAVP", "dtls": "UDP/TLS/RTP/SAVP", "rtp": "RTP/AVP"}
# Static payload types 0 (PCMU) and 8 (PCMA) from RFC 3551 §6, and a dynamic one for
# RFC 4733 telephone-event with the DTMF events 0-16.
FORMATS = ("0", "8", "101")
_CODEC_ATTRIBUTES: tuple[tuple[str, str | None], ...] = (
    ("rtpmap", "0 PCMU/8000"),
    ("rtpmap", "8 PCMA/8000"),
    ("rtpmap", "101 telephone-event/8000"),
    ("fmtp", "101 0-16"),
    ("sendrecv", None),
)


def build_offer(
    kind: OfferKind,
    *,
    address: str,
    port: int,
    session_id: int,
    suites: Sequence[str] = DEFAULT_SUITES,
    random_bytes: Callable[[int], bytes],
    fingerprint: Fingerprint | None = None,
) -> SessionDescription:
    """An offer with one audio m-line at ``address``:``port``.

    ``sdes``: ``RTP/SAVP`` with one ``a=crypto`` per suite, tags 1, 2, ... and a fresh
    key||salt for each from ``random_bytes``, never shared between crypto lines.
    ``dtls``: ``UDP/TLS/RTP/SAVP`` with ``a=fingerprint`` and ``a=setup:actpass``
    (RFC 5763 §5: the offerer MUST use actpass).  ``rtp``: ``RTP/AVP`` without crypto,
    to see whether the far end accepts unencrypted media.
    """
    if kind not in PROFILES:
        raise SdpBuildError(f"offer kind {kind!r} is not one of sdes, dtls, rtp")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise SdpBuildError(f"offer address {address!r} is not an IP address") from None
    if ip.is_multicast or (isinstance(ip, ipaddress.IPv6Address) and ip.scope_id):
        raise SdpBuildError(f"offer address {address!r} must be a unicast address without scope")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SdpBuildError(f"offer port {port!r} is not in 1..65535")
    if isinstance(session_id, bool) or not isinstance(session_id, int) or session_id < 0:
        raise SdpBuildError(f"session_id {session_id!r} must be a non-negative int")
    if kind != "dtls" and fingerprint is not None:
        raise SdpBuildError("a fingerprint only belongs in a dtls offer")
    attributes = list(_CODEC_ATTRIBUTES)
    if kind == "sdes":
        attributes.extend(
            ("crypto", c.to_attribute_value(reveal=True)) for c in _cryptos(suites, random_bytes)
        )
    elif kind == "dtls":
        if fingerprint is None:
            raise SdpBuildError("a dtls offer needs the fingerprint of our DTLS certificate")
        attributes.append(("fingerprint", fingerprint.to_attribute_value()))
        attributes.append(("setup", "actpass"))
    text = str(ip)
    audio = MediaDescription(
        media="audio",
        port=port,
        proto=PROFILES[kind],
        formats=FORMATS,
        attributes=tuple(attributes),
    )
    return SessionDescription(
        origin=Origin(PROBE_USER, session_id, session_id, "IN", f"IP{ip.version}", text),
        session_name=PROBE_USER,
        connection=text,
        times=(Timing(0, 0),),
        media=(audio,),
    )


def _cryptos(suites: Sequence[str], random_bytes: Callable[[int], bytes]) -> list[Crypto]:
    if isinstance(suites, str) or not suites:
        raise SdpBuildError("an sdes offer needs a non-empty sequence of crypto-suites")
    if len(set(suites)) != len(suites):
        raise SdpBuildError(f"crypto-suites repeat in {list(suites)}")
    cryptos = []
    for tag, suite in enumerate(suites, 1):
        size = SUITE_KEY_BYTES.get(suite)
        if size is None:
            known = ", ".join(SUITE_KEY_BYTES)
            raise SdpBuildError(f"unknown crypto-suite {suite!r}; known: {known}")
        key = random_bytes(size)
        if not isinstance(key, bytes) or len(key) != size:
            raise SdpBuildError(f"random_bytes({size}) did not return {size} bytes")
        cryptos.append(Crypto(tag=tag, suite=suite, key_salt=key))
    return cryptos
