"""The responder's side of the offer/answer model (RFC 3264 §6): read the offer in an
INVITE, decide whether it can be answered, and build the answer.

Pure: the UDP port for the media, the session id and the key material come in as
arguments (the caller binds the socket and passes ``secrets.token_bytes``), so every path
is testable without a socket.

What the answer says depends on the responder's ``media`` mode:

- ``srtp``: an SDES offer (``RTP/SAVP`` or ``RTP/SAVPF``) is answered in the same
  profile with exactly one ``a=crypto`` that echoes the tag and suite of the first
  offered line the responder can key, with a fresh key||salt of that suite's length
  (RFC 4568 §7.1.2).  Plain RTP and DTLS-SRTP offers are refused with 488, as a trunk
  that requires SDES-SRTP refuses them.
- ``rtp``: whatever was offered is answered ``RTP/AVP`` without crypto, which is what a
  misconfigured trunk does (and what the verifier must catch).
- ``reject``: every offer is refused with 488.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from probe.sdp import (
    SUITE_KEY_BYTES,
    Crypto,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
    parse_sdp,
)
from probe.sip import Request

__all__ = [
    "AnswerPlan",
    "MediaMode",
    "Refusal",
    "answerable_codecs",
    "build_answer",
    "plan_answer",
    "read_offer",
]

MediaMode = Literal["srtp", "rtp", "reject"]

SDES_PROFILES = ("RTP/SAVP", "RTP/SAVPF")
PLAIN_PROFILE = "RTP/AVP"
ANSWER_USER = "sipprobe-responder"
WARN_AGENT = "sipprobe-responder"
"""The warn-agent of our Warning header fields (RFC 3261 §20.43: a pseudonym is allowed)."""
# RFC 3551 §6: static payload types whose meaning needs no rtpmap.
_STATIC_AUDIO = {"0": "PCMU/8000", "8": "PCMA/8000"}
_TELEPHONE_EVENT = "telephone-event/8000"
# RFC 3264 §6.1: the answer's direction mirrors the offer's.
_MIRRORED = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A final response that refuses the INVITE, with a Warning saying why (§20.43)."""

    status: int
    reason: str
    warning_code: int
    text: str

    def warning(self) -> str:
        # §25.1 quoted-string: backslash and DQUOTE escaped, no control characters.
        text = "".join(c if c >= " " else " " for c in self.text)
        text = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.warning_code} {WARN_AGENT} "{text}"'


def _refuse_media(code: int, text: str) -> Refusal:
    # RFC 3261 §21.4.26: 488 refuses the session description, not the call.
    return Refusal(488, "Not Acceptable Here", code, text)


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """What the answer will accept: one audio stream of the offer, in one profile."""

    index: int
    """Which offered m-line is accepted (RFC 3264 §6: every other one gets port 0)."""
    proto: str
    formats: tuple[str, ...]
    attributes: tuple[tuple[str, str | None], ...]
    """rtpmap/fmtp for the kept formats and the mirrored direction."""
    crypto: tuple[int, str] | None
    """(tag, suite) to echo with a fresh key (RFC 4568 §7.1.2); None for plain RTP."""


def read_offer(request: Request) -> SessionDescription | Refusal:
    """The SDP offer of an INVITE (RFC 3261 §13.3.1), or why it cannot be read."""
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if not request.body:
        # §13.2.1 allows an offerless INVITE (the offer then comes in our 2xx and the
        # answer in the ACK); this responder only answers offers.
        return _refuse_media(399, "an INVITE without an SDP offer is not supported here")
    if content_type != "application/sdp":
        # §21.4.13: the body's type is not one we accept (Accept says which is).
        return Refusal(415, "Unsupported Media Type", 399, "only application/sdp is accepted")
    try:
        return parse_sdp(request.body)
    except SdpError as exc:
        # §21.4.1: a malformed body is a malformed request.  The parser's messages never
        # quote key material (probe.sdp guarantees it).
        return Refusal(400, "Bad Request", 399, f"the SDP offer does not parse: {exc}")


def answerable_codecs(
    media: MediaDescription,
) -> tuple[tuple[str, ...], list[tuple[str, str | None]]]:
    """The offered formats we can take (PCMU, PCMA, telephone-event) with their rtpmap
    and fmtp lines, in the offer's order of preference (RFC 3264 §6.1)."""
    rtpmaps: dict[str, str] = {}
    fmtps: dict[str, str] = {}
    for value in media.attribute_values("rtpmap"):
        payload, _, encoding = (value or "").partition(" ")
        rtpmaps[payload] = encoding.strip()
    for value in media.attribute_values("fmtp"):
        payload, _, parameters = (value or "").partition(" ")
        fmtps[payload] = parameters.strip()
    kept: list[str] = []
    lines: list[tuple[str, str | None]] = []
    for payload in media.formats:
        encoding = rtpmaps.get(payload, _STATIC_AUDIO.get(payload, ""))
        if payload in _STATIC_AUDIO and encoding.upper() == _STATIC_AUDIO[payload].upper():
            kept.append(payload)
            lines.append(("rtpmap", f"{payload} {_STATIC_AUDIO[payload]}"))
        elif encoding.lower() == _TELEPHONE_EVENT:
            kept.append(payload)
            lines.append(("rtpmap", f"{payload} {_TELEPHONE_EVENT}"))
            lines.append(("fmtp", f"{payload} {fmtps.get(payload) or '0-16'}"))
    # A stream of telephone-events alone carries no voice: not an acceptable audio stream.
    if not any(payload in _STATIC_AUDIO for payload in kept):
        return (), []
    return tuple(kept), lines


def _echoable(media: MediaDescription) -> Crypto | None:
    """The first offered crypto line whose suite we can key (RFC 4568 §7.1.2: the
    answerer picks one of the offered lines it supports).  Normally the first line."""
    return next((c for c in media.crypto if c.suite in SUITE_KEY_BYTES), None)


def plan_answer(offer: SessionDescription, mode: MediaMode) -> AnswerPlan | Refusal:
    """Choose the stream to accept, or the 488 that refuses the offer."""
    if mode == "reject":
        return _refuse_media(399, "this responder refuses every offer (media=reject)")
    audio = [
        (index, media)
        for index, media in enumerate(offer.media)
        if media.media == "audio" and media.port != 0
    ]
    if not audio:
        # RFC 3264 §5.1 + §21.4.26: nothing we could accept.
        return _refuse_media(304, "the offer has no audio stream")
    refusal = _refuse_media(305, "no offered audio format is PCMU or PCMA")
    for index, media in audio:
        formats, lines = answerable_codecs(media)
        if not formats:
            continue
        direction = _MIRRORED.get(media.direction, "sendrecv")
        attributes = (*lines, (direction, None))
        if mode == "rtp":
            return AnswerPlan(index, PLAIN_PROFILE, formats, attributes, None)
        if media.proto.upper() not in SDES_PROFILES:
            # RFC 3264 §6 keeps the offered transport; we require SDES-SRTP.
            refusal = _refuse_media(
                302, f"{media.proto} is refused: this trunk requires SDES-SRTP (RTP/SAVP)"
            )
            continue
        chosen = _echoable(media)
        if chosen is None:
            refusal = _refuse_media(
                306, "no offered a=crypto line has a crypto-suite this responder can key"
            )
            continue
        return AnswerPlan(index, media.proto, formats, attributes, (chosen.tag, chosen.suite))
    return refusal


def build_answer(
    offer: SessionDescription,
    plan: AnswerPlan,
    *,
    address: str,
    port: int,
    session_id: int,
    random_bytes: Callable[[int], bytes],
) -> SessionDescription:
    """The SDP answer (RFC 3264 §6): one m-line per offered m-line, in order; the planned
    one accepted at ``address``:``port``, every other one rejected with port 0."""
    media: list[MediaDescription] = []
    for index, offered in enumerate(offer.media):
        if index != plan.index:
            # §6: a rejected stream keeps its media type, transport and a format.
            media.append(MediaDescription(offered.media, 0, offered.proto, offered.formats[:1]))
            continue
        attributes = list(plan.attributes)
        if plan.crypto is not None:
            tag, suite = plan.crypto
            # RFC 4568 §7.1.2: our own key, never the offerer's; the offered tag and suite.
            key = Crypto(tag=tag, suite=suite, key_salt=random_bytes(SUITE_KEY_BYTES[suite]))
            attributes.append(("crypto", key.to_attribute_value(reveal=True)))
        media.append(
            MediaDescription("audio", port, plan.proto, plan.formats, attributes=tuple(attributes))
        )
    family = "IP6" if ":" in address else "IP4"
    return SessionDescription(
        origin=Origin(ANSWER_USER, session_id, session_id, "IN", family, address),
        session_name=ANSWER_USER,
        connection=address,
        times=(Timing(0, 0),),
        media=tuple(media),
    )
