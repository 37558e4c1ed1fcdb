"""The order of the checks: the order the phases of a probe happened, which is the order
a report lists their findings in. Each check is declared in its own module
(probe.verdict.checks.unit.Check); adding one adds its line here."""

from __future__ import annotations

from probe.verdict.checks import (
    auth,
    call,
    capture_media,
    capture_recording,
    capture_sip,
    capture_tls,
    connection,
    keepalive,
    options,
    tls_session,
    websocket,
)
from probe.verdict.checks.unit import CaptureCheck, Check

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

CAPTURE_CHECKS: tuple[CaptureCheck, ...] = (
    capture_recording.RECORDED,
    capture_sip.CLEARTEXT,
    capture_sip.SDES_EXPOSED,
    capture_tls.TLS,
    capture_media.MEDIA,
)
"""The checks of a capture audit (`sipprobe pcap`), in report order."""
