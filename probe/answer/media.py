"""Media of an answered call: the caller's SRTP received on our answer's port and
authenticated with the caller's keys, ours sent with our answer's keys.

With SDES the offerer's `a=crypto` key protects what the offerer sends (RFC 4568 §6.1),
so the caller's packets are checked with the offered line we accepted and ours are
protected with the fresh key of our answer. With DTLS-SRTP the handshake on the media
port gives both (RFC 5764 §4.2), once the caller's certificate matched its offer's
fingerprint. The pieces are probe.net.media's, under its rules: SRTP and a DTLS
handshake we open go only to a loopback address.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

from probe.answer.sdp_answer import InboundPlan
from probe.evidence.model import MediaEvidence
from probe.net.media import (
    MEDIA_SUITES,
    DtlsMediaPlan,
    MediaExtraMissing,
    MediaPlan,
    require_extra,
    verify_dtls_media,
    verify_media,
)
from probe.sdp import Crypto

if TYPE_CHECKING:
    from probe.net.dtls import DtlsIdentity

__all__ = ["MEDIA_SUITES", "verify_inbound_media"]


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def verify_inbound_media(
    media_socket: socket.socket,
    plan: InboundPlan,
    ours: Crypto | None,
    dtls_identity: DtlsIdentity | None,
) -> MediaEvidence | str:
    """The media evidence of the call, or a sentence saying why media was not checked."""
    address, port = plan.remote
    if plan.keying == "rtp":
        return "the offer was plain RTP: there is no SRTP to authenticate"
    try:
        require_extra(dtls=plan.keying == "dtls")
    except MediaExtraMissing as exc:
        return str(exc)
    if plan.keying == "sdes":
        theirs = plan.offered
        if theirs is None or ours is None:
            return "the SDES exchange left no key to check media with"
        if theirs.suite not in MEDIA_SUITES:
            return (
                f"libsrtp cannot do {theirs.suite}, the only suite the caller offered that"
                f" sipprobe could key (it does {', '.join(MEDIA_SUITES)})"
            )
        return await verify_media(media_socket, MediaPlan(theirs, ours, address, port))
    if dtls_identity is None or plan.dtls_role is None:
        return "the DTLS-SRTP exchange left no role or certificate to run the handshake with"
    if plan.dtls_role == "client" and not _is_loopback(address):
        return (
            f"the caller took a=setup:passive, so sipprobe would open the DTLS handshake"
            f" towards {address or 'no address'}:{port}; media is only sent to a loopback"
            " address"
        )
    dtls_plan = DtlsMediaPlan(plan.dtls_role, plan.fingerprints, address, port)
    return await verify_dtls_media(media_socket, dtls_plan, dtls_identity)
