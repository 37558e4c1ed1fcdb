"""The order of the checks: the order the phases of a probe happened, which is the order
a report lists their findings in. Each check is declared in its own module
(probe.verdict.checks.unit.Check); adding one adds its line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.verdict.checks import (
    auth,
    call,
    connection,
    keepalive,
    options,
    tls_session,
    websocket,
)
from probe.verdict.checks.unit import Check

if TYPE_CHECKING:
    from probe.verdict.checks.unit import CaptureCheck, InboundCheck

CHECKS: tuple[Check, ...] = (
    connection.CONNECT,
    connection.HANDSHAKE,
    tls_session.VERSION,
    tls_session.CERTIFICATES,
    tls_session.CLIENT_CERT,
    tls_session.VERSIONS,
    tls_session.CIPHERS,
    websocket.UPGRADE,
    auth.AUTH,
    call.CALL,
    options.OPTIONS,
    options.RESPONSE,
    options.ANSWER_SDP,
    options.NOT_SENT,
    keepalive.KEEPALIVE,
)


def __getattr__(name: str) -> tuple[CaptureCheck, ...]:
    """CAPTURE_CHECKS, the checks of a capture audit (`sipprobe pcap`) in report order,
    made when a capture is judged: a probe's run never loads the capture models."""
    if name != "CAPTURE_CHECKS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from probe.verdict.checks import capture_media, capture_recording, capture_sip, capture_tls

    return (
        capture_recording.RECORDED,
        capture_sip.CLEARTEXT,
        capture_sip.SDES_EXPOSED,
        capture_tls.TLS,
        capture_media.MEDIA,
    )


def inbound_checks() -> tuple[InboundCheck, ...]:
    """The checks of a received call (`sipprobe answer`) in report order, made when an
    answer run is judged: a probe's run never loads them (nor the SIP and SDP readers
    they use). Adding one adds its line here."""
    from probe.verdict.checks import inbound_call, inbound_request, inbound_session

    return (
        inbound_session.TLS,
        inbound_session.CLIENT_CERT,
        inbound_request.INVITE,
        inbound_call.STIR,
        inbound_request.OFFER,
        inbound_call.MEDIA,
        inbound_call.TEARDOWN,
    )
