"""The answer to a caller's SDP offer (RFC 3264 §6), as an answer run gives it.

Unlike the embedded responder, which plays one trunk policy, an answer run answers what
the caller offered so that the call completes and the offer can be judged:

- SDES (`RTP/SAVP`, `RTP/SAVPF` with `a=crypto`): one crypto line echoing the tag and
  suite of an offered one, with a fresh key of that suite (RFC 4568 §7.1.2); a suite
  the media check can run is preferred.
- DTLS-SRTP (`UDP/TLS/RTP/SAVP(F)` with `a=fingerprint`): our certificate's fingerprint
  and the role RFC 5763 §5 gives the answerer.
- plain RTP (`RTP/AVP`, `RTP/AVPF`): answered in the same profile; the inbound checks
  fail it where SRTP is required.
- nothing answerable: a 488 refusal with a Warning saying why.

Secure streams are preferred over plain ones when an offer carries both. Pure: the
port, the session id, the key material and our fingerprint come in as arguments.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from probe.sdp import (
    SUITE_KEY_BYTES,
    Crypto,
    Fingerprint,
    MediaDescription,
    SdpError,
    SessionDescription,
    parse_crypto,
)
from probe.serve.offer_answer import AnswerPlan, Refusal, answerable_codecs, build_answer

__all__ = ["InboundPlan", "Keying", "build_inbound_answer", "plan_inbound_answer"]

Keying = Literal["sdes", "dtls", "rtp"]
DtlsRole = Literal["client", "server"]

SDES_PROFILES = ("RTP/SAVP", "RTP/SAVPF")
DTLS_PROFILES = ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
PLAIN_PROFILES = ("RTP/AVP", "RTP/AVPF")
# RFC 3264 §6.1: the answer's direction mirrors the offer's.
_MIRRORED = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


@dataclass(frozen=True, slots=True, repr=False)
class InboundPlan:
    """The stream the answer accepts, how it is keyed, and what media needs of it."""

    keying: Keying
    answer: AnswerPlan
    remote: tuple[str, int]
    """The offer's address and port for the accepted stream: where the caller listens."""
    offered: Crypto | None = None
    """SDES: the offered line we accepted; its key protects what the caller sends (RFC
    4568 §6.1)."""
    fingerprints: tuple[Fingerprint, ...] = ()
    """DTLS-SRTP: the offer's fingerprints, which the caller's certificate must match."""
    dtls_role: DtlsRole | None = None
    """DTLS-SRTP: ours; `client` when we answer a=setup:active (RFC 5763 §5)."""

    def __repr__(self) -> str:  # the offered key stays out of logs and tracebacks
        return f"InboundPlan(keying={self.keying!r}, remote={self.remote!r})"


def _refuse(code: int, text: str) -> Refusal:
    # RFC 3261 §21.4.26: 488 refuses the session description, not the call.
    return Refusal(488, "Not Acceptable Here", code, text)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _offered_cryptos(media: MediaDescription) -> list[Crypto]:
    """Every offered crypto line that parses; one that does not is skipped, as RFC 4568
    §7.1.2 has the answerer skip lines it does not support."""
    found: list[Crypto] = []
    for value in media.attribute_values("crypto"):
        try:
            found.append(parse_crypto(value or ""))
        except SdpError:
            continue
    return found


def _choose_crypto(media: MediaDescription, preferred: Sequence[str]) -> Crypto | None:
    """The first offered line with a suite the media check can run, else the first we
    can key at all (RFC 4568 §7.1.2: the answerer picks one it supports)."""
    offered = [c for c in _offered_cryptos(media) if c.suite in SUITE_KEY_BYTES]
    return next((c for c in offered if c.suite in preferred), offered[0] if offered else None)


def _dtls_role(setup: str | None, remote: str) -> DtlsRole | Refusal:
    """Our DTLS role from the offer's a=setup (RFC 5763 §5, RFC 4145 §4.1). An offerer
    should say actpass: we then take active (the client) towards a loopback peer and
    passive elsewhere, since sipprobe opens DTLS only towards loopback (probe.net.media)."""
    if setup is None or setup == "active":
        # RFC 4145 §4: an absent a=setup means active; the offerer connects to us.
        return "server"
    if setup == "passive":
        return "client"
    if setup == "actpass":
        return "client" if _is_loopback(remote) else "server"
    return _refuse(306, f"a=setup:{setup} leaves no DTLS role to take (RFC 5763 §5)")


def plan_inbound_answer(
    offer: SessionDescription, *, preferred_suites: Sequence[str] = ()
) -> InboundPlan | Refusal:
    """Choose the offered stream to accept and how, or the 488 that refuses the offer.
    `preferred_suites`: the SDES suites the media check can run, preferred when offered."""
    audio = [
        (index, media)
        for index, media in enumerate(offer.media)
        if media.media == "audio" and media.port != 0
    ]
    if not audio:
        return _refuse(304, "the offer has no audio stream")
    refusal = _refuse(305, "no offered audio format is PCMU or PCMA")
    plain: InboundPlan | None = None
    for index, media in audio:
        formats, lines = answerable_codecs(media)
        if not formats:
            continue
        attributes = (*lines, (_MIRRORED.get(media.direction, "sendrecv"), None))
        remote = (offer.effective_connection(media) or "", media.port)
        proto = media.proto.upper()
        if proto in SDES_PROFILES:
            chosen = _choose_crypto(media, preferred_suites)
            if chosen is None:
                refusal = _refuse(306, "no offered a=crypto line has a suite sipprobe can key")
                continue
            answer = AnswerPlan(index, media.proto, formats, attributes, (chosen.tag, chosen.suite))
            return InboundPlan("sdes", answer, remote, offered=chosen)
        if proto in DTLS_PROFILES:
            try:
                fingerprints = offer.effective_fingerprints(media)
                setup = offer.effective_setup(media)
            except SdpError as exc:
                refusal = _refuse(306, f"the DTLS-SRTP offer cannot be used: {exc}")
                continue
            if not fingerprints:
                refusal = _refuse(306, "a DTLS-SRTP offer without a=fingerprint (RFC 5763 §5)")
                continue
            role = _dtls_role(setup, remote[0])
            if isinstance(role, Refusal):
                refusal = role
                continue
            # RFC 5763 §5: the answerer's a=setup says the role it takes.
            ours = "active" if role == "client" else "passive"
            answer = AnswerPlan(index, media.proto, formats, (*attributes, ("setup", ours)), None)
            return InboundPlan("dtls", answer, remote, fingerprints=fingerprints, dtls_role=role)
        if proto in PLAIN_PROFILES:
            if plain is None:
                answer = AnswerPlan(index, media.proto, formats, attributes, None)
                plain = InboundPlan("rtp", answer, remote)
            continue
        refusal = _refuse(302, f"{media.proto} is not a media transport sipprobe answers")
    return plain if plain is not None else refusal


def build_inbound_answer(
    offer: SessionDescription,
    plan: InboundPlan,
    *,
    address: str,
    port: int,
    session_id: int,
    random_bytes: Callable[[int], bytes],
    fingerprint: Fingerprint | None = None,
) -> tuple[SessionDescription, Crypto | None]:
    """The SDP answer (RFC 3264 §6), and for SDES our crypto line in it (our key: what
    protects what we send). `fingerprint` is our DTLS certificate's, for a DTLS plan."""
    answer_plan = plan.answer
    if plan.keying == "dtls":
        if fingerprint is None:
            raise ValueError("a DTLS-SRTP answer needs our certificate's fingerprint")
        attributes = (*answer_plan.attributes, ("fingerprint", fingerprint.to_attribute_value()))
        answer_plan = AnswerPlan(
            answer_plan.index, answer_plan.proto, answer_plan.formats, attributes, None
        )
    sdp = build_answer(
        offer,
        answer_plan,
        address=address,
        port=port,
        session_id=session_id,
        random_bytes=random_bytes,
    )
    ours = sdp.media[answer_plan.index].crypto[0] if plan.keying == "sdes" else None
    return sdp, ours
