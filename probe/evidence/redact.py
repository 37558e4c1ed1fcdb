"""Taking secrets out of evidence before it is written, without changing its judgement.

Two secrets can sit in collected evidence: SDES master keys (RFC 4568 `inline:` key-params,
in our offer and in the far end's answer; in a received call, in the caller's offer and
in our answer) and digest credentials (`Authorization` and
`Proxy-Authorization` values, RFC 3261 §22.4).

Keys are not replaced by a marker such as `inline:<redacted>` (probe.sdp.redact, for
reports) but by a key of zeros of the same length: every base64 character becomes `A`,
padding and everything else stays. The SDP then still parses, its crypto lines keep their
tag, suite and key length, and the Content-Length of the SIP message around it still
holds, so the checks (which judge key lengths, never key values) conclude exactly what
they concluded from the real keys. A zero key protects nothing, so it reveals nothing.

Credentials are replaced by `<scheme> <redacted>`: no check reads them, and headers are
not counted by Content-Length.
"""

from __future__ import annotations

import re
from dataclasses import replace

from probe.evidence.inbound import InboundCall, InboundConnection, InboundEvidence
from probe.evidence.model import (
    AuthEvidence,
    CallEvidence,
    KeepaliveEvidence,
    MediaEvidence,
    ProbeEvidence,
    Received,
    SipExchange,
    WebSocketUpgrade,
    WireEvent,
)

__all__ = [
    "REDACTION_NOTE",
    "mask_credentials",
    "mask_keys",
    "mask_message",
    "mask_text",
    "redact_evidence",
    "redact_inbound",
]

REDACTION_NOTE = (
    "SDES keys (a=crypto inline:) replaced by all-zero keys of the same length; "
    "Authorization and Proxy-Authorization values replaced by '<scheme> <redacted>'"
)

# The key-info of an `inline:` key-param runs to "|" (lifetime, MKI), ";" (the next
# key-param), whitespace or a quote: the same span probe.sdp.redact treats as secret.
# A report marker (`inline:<redacted>`) is left alone.
_INLINE_BYTES = re.compile(rb"(inline:)(?!<redacted)([^|;\s'\"]+)", re.IGNORECASE)
_INLINE_TEXT = re.compile(r"(inline:)(?!<redacted)([^|;\s'\"]+)", re.IGNORECASE)
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ZERO_BYTES = bytes.maketrans(_BASE64, b"A" * len(_BASE64))
_ZERO_TEXT = str.maketrans(_BASE64.decode(), "A" * len(_BASE64))
_CREDENTIAL_HEADERS = (b"authorization", b"proxy-authorization")


def mask_keys(data: bytes) -> bytes:
    """`data` with every `inline:` key replaced by zeros of the same encoded length."""
    return _INLINE_BYTES.sub(lambda m: m.group(1) + m.group(2).translate(_ZERO_BYTES), data)


def mask_text(text: str | None) -> str | None:
    """The same for a text (an error message that might quote a crypto line)."""
    if text is None:
        return None
    return _INLINE_TEXT.sub(lambda m: m.group(1) + m.group(2).translate(_ZERO_TEXT), text)


def mask_credentials(data: bytes) -> bytes:
    """A SIP message with the values of its credential headers replaced.

    Only the header section is read (up to the first empty line); a folded value's
    continuation lines (RFC 3261 §7.3.1) go with it.
    """
    out: list[bytes] = []
    lines = data.splitlines(keepends=True)
    masking = False
    for number, line in enumerate(lines):
        content = line.rstrip(b"\r\n")
        if number and not content:  # the end of the headers: the body stays as it is
            out.extend(lines[number:])
            break
        if masking and content[:1] in (b" ", b"\t"):
            continue
        masking = False
        name, colon, value = content.partition(b":")
        if colon and name.strip().lower() in _CREDENTIAL_HEADERS:
            words = value.split(None, 1)
            scheme = words[0] if words and b"=" not in words[0] else b""
            ending = line[len(content) :]
            line = name + b": " + (scheme + b" " if scheme else b"") + b"<redacted>" + ending
            masking = True
        out.append(line)
    return b"".join(out)


def mask_message(data: bytes) -> bytes:
    return mask_credentials(mask_keys(data))


def _received(item: Received) -> Received:
    # The collector's parsed message holds what the mask hides: dropped with the bytes.
    return replace(item, data=mask_message(item.data), error=mask_text(item.error), message=None)


def _exchange(exchange: SipExchange) -> SipExchange:
    return replace(
        exchange,
        request=mask_message(exchange.request),
        received=tuple(_received(item) for item in exchange.received),
        error=mask_text(exchange.error),
    )


def _event(event: WireEvent) -> WireEvent:
    return replace(event, data=mask_message(event.data), note=mask_text(event.note))


def _media(media: MediaEvidence | None) -> MediaEvidence | None:
    if media is None:
        return None
    dtls = media.dtls
    return replace(
        media,
        first_error=mask_text(media.first_error),
        send_skipped=mask_text(media.send_skipped),
        dtls=None if dtls is None else replace(dtls, error=mask_text(dtls.error)),
    )


def _auth(auth: AuthEvidence | None) -> AuthEvidence | None:
    if auth is None or auth.challenged is None:
        return auth
    return replace(auth, challenged=_exchange(auth.challenged))


def _call(call: CallEvidence | None) -> CallEvidence | None:
    if call is None:
        return None
    return replace(
        call,
        offer=mask_keys(call.offer),
        answer=None if call.answer is None else mask_keys(call.answer),
        events=tuple(_event(event) for event in call.events),
        error=mask_text(call.error),
        teardown_detail=mask_text(call.teardown_detail),
        final_reason=mask_text(call.final_reason),
        answer_source=mask_text(call.answer_source),
        media_skipped=mask_text(call.media_skipped),
        media=_media(call.media),
        auth=_auth(call.auth),
    )


def _keepalive(keepalive: KeepaliveEvidence | None) -> KeepaliveEvidence | None:
    if keepalive is None or not keepalive.received:
        return keepalive
    return replace(keepalive, received=tuple(_received(item) for item in keepalive.received))


def redact_evidence(evidence: ProbeEvidence) -> ProbeEvidence:
    """`evidence` as it may be written: no SDES key, no credential."""
    return replace(
        evidence,
        exchanges=tuple(_exchange(exchange) for exchange in evidence.exchanges),
        call=_call(evidence.call),
        auth=_auth(evidence.auth),
        keepalive=_keepalive(evidence.keepalive),
    )


def _upgrade(upgrade: WebSocketUpgrade | None) -> WebSocketUpgrade | None:
    # A caller's upgrade request may carry HTTP credentials (RFC 9110 §11.6.2).
    return None if upgrade is None else replace(upgrade, request=mask_credentials(upgrade.request))


def _inbound_call(call: InboundCall) -> InboundCall:
    return replace(
        call,
        websocket=_upgrade(call.websocket),
        invite=mask_message(call.invite),
        answer=None if call.answer is None else mask_keys(call.answer),
        events=tuple(_event(event) for event in call.events),
        refusal=mask_text(call.refusal),
        teardown_detail=mask_text(call.teardown_detail),
        media_skipped=mask_text(call.media_skipped),
        media=_media(call.media),
        error=mask_text(call.error),
    )


def _connection(connection: InboundConnection) -> InboundConnection:
    return replace(
        connection, error=mask_text(connection.error), websocket=_upgrade(connection.websocket)
    )


def redact_inbound(evidence: InboundEvidence) -> InboundEvidence:
    """What an answer run received, as it may be written: the keys of each caller's offer
    and of our answers zeroed, credentials taken out (as `redact_evidence` does)."""
    return replace(
        evidence,
        calls=tuple(_inbound_call(call) for call in evidence.calls),
        connections=tuple(_connection(item) for item in evidence.connections),
    )
