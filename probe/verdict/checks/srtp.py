"""SRTP judgement: did the answer to our offer really set up encrypted media?

`sdp.srtp` reads the SDP answer (from the 2xx, or a reliable/early 183) against the offer
the verifier sent.  With SDES (RFC 4568) the answer must keep the SRTP profile and pick
exactly one of the offered crypto lines, echoing its tag and suite with a key of the
suite's length (§7.1.2); with DTLS-SRTP (RFC 5763) it must carry a fingerprint and take
the active or passive role.  A plain RTP/AVP answer means SRTP was not negotiated at all.
A plain `rtp` offer probes the other way round: a secure trunk should refuse it.
A suite that names itself weak (probe.sdp.suite_weakness) is judged for what it is: a
NULL suite fails (the media is readable or forgeable), AES f8-mode warns (it protects the
media, but is an optional transform few implement).

`sdp.sdes_transport` judges the hop the keys travelled on (RFC 4568 §8.3), and
`check_options_sdp` summarises SDP found in a 200 to OPTIONS (RFC 3261 §11.2) without
ever failing.

Pure: no sockets, no clock.  Keys never enter a finding: details name the suite, tag
and key length only.
"""

from __future__ import annotations

from probe.sdp import (
    Crypto,
    MediaDescription,
    SdpError,
    SessionDescription,
    parse_sdp,
    suite_weakness,
)
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["check_options_sdp", "check_sdes_transport", "check_srtp"]

# Final responses that refuse the offer itself rather than the call: RFC 3261 §21.4.26
# (488 Not Acceptable Here), §21.4.13 (415 Unsupported Media Type) and §21.6.4 (606 Not
# Acceptable).  For an `rtp` probe, 488 and 606 are the refusal we hope for; 415 refuses
# the body's type, which says nothing about plain RTP.
REFUSAL_CODES = frozenset({488, 415, 606})
RTP_REFUSAL_CODES = frozenset({488, 606})
SDES_PROFILES = ("RTP/SAVP", "RTP/SAVPF")
DTLS_PROFILES = ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
# RFC 4568 §6.3.2-§6.3.4: session parameters that switch protection off.
_FAILING_PARAMS = ("UNENCRYPTED_SRTP", "UNAUTHENTICATED_SRTP")
_OFFER_KINDS = ("sdes", "dtls", "rtp")
_SECURE_TRANSPORTS = ("tls", "wss")


_Judgement = tuple[Status, str]


def check_srtp(
    *,
    label: str,
    offer: SessionDescription,
    offer_kind: str,
    answer: bytes | None,
    answer_source: str | None,
    final_status: int | None,
    final_reason: str | None,
) -> Finding:
    """`sdp.srtp`: judge the answer (or the refusal) to one offer."""
    details: dict[str, JsonValue] = {
        "offer_kind": offer_kind,
        "answer_source": answer_source,
        "final_status": final_status,
        "final_reason": final_reason,
    }
    status, summary = _judge(
        offer, offer_kind, answer, answer_source, final_status, final_reason, details
    )
    return Finding(CheckId.SDP_SRTP, status, label, summary, details)


def _judge(
    offer: SessionDescription,
    kind: str,
    answer: bytes | None,
    source: str | None,
    final_status: int | None,
    final_reason: str | None,
    details: dict[str, JsonValue],
) -> _Judgement:
    if kind not in _OFFER_KINDS:
        return Status.ERROR, f"unknown offer kind {kind!r} (expected sdes, dtls or rtp)"
    offered = offer.first_media("audio")
    if offered is None:
        return Status.ERROR, "the offer has no audio m-line to judge the answer against"
    details["offer_profile"] = offered.proto
    try:
        offered_crypto = {c.tag: c for c in offered.crypto}
    except SdpError as exc:
        return Status.ERROR, f"the offer's own a=crypto is invalid: {exc}"
    details["offered_suites"] = [c.suite for c in offered_crypto.values()]
    final = _status_text(final_status, final_reason)
    if answer is None or not answer.strip():
        return _no_answer(kind, final_status, final)
    where = source or "answer"
    try:
        sdp = parse_sdp(answer)
    except SdpError as exc:
        return Status.FAIL, (f"the SDP answer in the {where} is malformed: {exc}")
    # RFC 3264 §6: the answer has exactly as many m-lines as the offer, in its order.
    if len(sdp.media) != len(offer.media):
        return Status.FAIL, (
            f"the answer in the {where} has {len(sdp.media)} m-line(s) for the offer's"
            f" {len(offer.media)} (RFC 3264 §6)"
        )
    media = sdp.media[offer.media.index(offered)]
    details |= {
        "proto": media.proto,
        "media_address": sdp.effective_connection(media),
        "media_port": media.port,
    }
    if media.media != "audio":
        return Status.FAIL, (
            f"the answer replaced the audio m-line with {media.media} (RFC 3264 §6)"
        )
    if media.port == 0:
        if kind == "rtp":
            return Status.PASS, f"rejected the plain RTP stream (port 0 in the {where})"
        return Status.FAIL, (
            f"the endpoint rejected the audio stream (port 0 in the {where}, RFC 3264 §6)"
        )
    try:
        if kind == "sdes":
            return _judge_sdes(media, offered_crypto, where, details)
        if kind == "dtls":
            return _judge_dtls(sdp, media, where, details)
    except SdpError as exc:  # the parser validated these attributes; defensive only
        return Status.FAIL, (f"the SDP answer in the {where} is malformed: {exc}")
    return _judge_rtp(media, where)


def _status_text(code: int | None, reason: str | None) -> str | None:
    if code is None:
        return None
    return f"{code} {reason}".strip() if reason else str(code)


def _no_answer(kind: str, code: int | None, final: str | None) -> _Judgement:
    if code is not None and code in REFUSAL_CODES:
        if kind == "rtp" and code in RTP_REFUSAL_CODES:
            return Status.PASS, f"refused plain RTP ({final})"
        if kind != "rtp":
            return Status.FAIL, f"the endpoint refused the offer: {final}"
    if code is None or code < 200:
        return Status.FAIL, "no SDP in any response, and no final response"
    if code < 300:
        # RFC 3261 §13.2.1 / RFC 3264 §5: an offer in the INVITE is answered in the 2xx
        # (or an earlier reliable provisional).
        return Status.FAIL, f"no SDP in any response: the {final} carried no answer"
    return Status.FAIL, f"no SDP in any response: the call failed with {final}"


def _plain(media: MediaDescription, where: str) -> _Judgement:
    return Status.FAIL, f"the answer is plain {media.proto}: media would be unencrypted ({where})"


def _judge_sdes(
    media: MediaDescription,
    offered: dict[int, Crypto],
    where: str,
    details: dict[str, JsonValue],
) -> _Judgement:
    if not media.is_secure_profile:
        return _plain(media, where)
    if media.proto.upper() not in SDES_PROFILES:
        return Status.FAIL, (
            f"the answer changed the profile to {media.proto}; an SDES offer is answered"
            " with RTP/SAVP or RTP/SAVPF (RFC 3264 §6)"
        )
    answered = media.crypto
    details["crypto_lines"] = len(answered)
    if not answered:
        return Status.FAIL, (
            f"the {media.proto} answer has no a=crypto line: no SRTP key (RFC 4568 §7.1.2)"
        )
    if len(answered) > 1:
        return Status.FAIL, (
            f"the answer has {len(answered)} a=crypto lines for one m-line; it must pick"
            " exactly one (RFC 4568 §7.1.2)"
        )
    chosen = answered[0]
    weakness = suite_weakness(chosen.suite)
    details |= {
        "negotiated_suite": chosen.suite,
        "tag": chosen.tag,
        "key_bytes": len(chosen.key_salt),
        "lifetime": chosen.lifetime,
        "mki": list(chosen.mki) if chosen.mki else None,
        "session_params": list(chosen.session_params),
        "weak_suite": weakness.kind if weakness else None,
    }
    if weakness is not None and weakness.kind == "null":
        # Said first, offered or not: whatever else is wrong, this media is unprotected.
        return Status.FAIL, f"the answer picks a NULL suite: {weakness.reason}"
    ours = offered.get(chosen.tag)
    if ours is None:
        tags = ", ".join(str(tag) for tag in offered)
        return Status.FAIL, (
            f"the answer's a=crypto tag {chosen.tag} was not offered (offered: {tags};"
            " RFC 4568 §7.1.2)"
        )
    if chosen.suite != ours.suite:
        return Status.FAIL, (
            f"tag {chosen.tag} was offered as {ours.suite} but answered as {chosen.suite}"
            " (RFC 4568 §7.1.2)"
        )
    if chosen.mki is not None and ours.mki is None:
        value, length = chosen.mki
        return Status.FAIL, (
            f"the answer uses an MKI ({value}:{length}) though the offer had none; trunks"
            " such as Twilio do not support MKI (RFC 4568 §6.1)"
        )
    weakened = [p for p in chosen.session_params if p in _FAILING_PARAMS]
    if weakened:
        return Status.FAIL, (
            f"the answer switches SRTP protection off with {', '.join(weakened)} (RFC 4568 §6.3)"
        )
    summary = f"SRTP negotiated: {chosen.suite} (tag {chosen.tag}) in the {where}"
    cautions = []
    if weakness is not None:
        cautions.append(weakness.reason)
    if "UNENCRYPTED_SRTCP" in chosen.session_params:
        cautions.append("RTCP stays unencrypted (UNENCRYPTED_SRTCP)")
    if cautions:
        return Status.WARN, f"{summary}, but {'; '.join(cautions)}"
    return Status.PASS, summary


def _judge_dtls(
    sdp: SessionDescription, media: MediaDescription, where: str, details: dict[str, JsonValue]
) -> _Judgement:
    if not media.is_secure_profile:
        return _plain(media, where)
    if media.proto.upper() not in DTLS_PROFILES:
        return Status.FAIL, (
            f"the answer changed the profile to {media.proto}; a DTLS-SRTP offer is"
            " answered with UDP/TLS/RTP/SAVP or UDP/TLS/RTP/SAVPF (RFC 3264 §6, RFC 5764 §8)"
        )
    fingerprints = sdp.effective_fingerprints(media)
    setup = sdp.effective_setup(media)
    details |= {
        "fingerprint_hashes": [f.hash_function for f in fingerprints],
        "setup": setup,
    }
    if not fingerprints:
        return Status.FAIL, (
            "the answer has no a=fingerprint: the DTLS peer cannot be authenticated (RFC 5763 §5)"
        )
    usable = [f for f in fingerprints if f.known_hash and not f.weak_hash]
    if not usable:
        names = ", ".join(f.hash_function for f in fingerprints)
        return Status.FAIL, (
            f"the answer's fingerprint hash ({names}) is weak or unknown (RFC 8122 §5)"
        )
    if setup is None:
        return Status.FAIL, (
            "the answer has no a=setup; the answerer must choose active or passive (RFC 5763 §5)"
        )
    if setup not in ("active", "passive"):
        return Status.FAIL, (
            f"the answer says a=setup:{setup}; an answerer must say active or passive"
            " (RFC 5763 §5, RFC 4145 §4)"
        )
    return Status.PASS, (
        f"DTLS-SRTP negotiated: {media.proto}, {usable[0].hash_function} fingerprint,"
        f" setup:{setup} in the {where}"
    )


def _judge_rtp(media: MediaDescription, where: str) -> _Judgement:
    if not media.is_secure_profile:
        return Status.FAIL, (
            f"the endpoint accepted unencrypted media: {media.proto} answer in the {where};"
            " a secure trunk should refuse plain RTP with 488"
        )
    return Status.FAIL, (
        f"the answer changed the profile of a plain RTP offer to {media.proto}"
        " (RFC 3264 §6 keeps the offer's transport)"
    )


def check_sdes_transport(
    *, label: str, transport: str, offer_kind: str, keys_sent: bool
) -> Finding | None:
    """`sdp.sdes_transport`: SDES keys are only as secret as the hop that carried them
    (RFC 4568 §8.3: the signalling MUST be protected).  None for DTLS and RTP offers."""
    if offer_kind != "sdes":
        return None
    hop = transport.lower()
    details: dict[str, JsonValue] = {"transport": hop, "keys_sent": keys_sent}
    secure = hop in _SECURE_TRANSPORTS
    if not keys_sent:
        why = "" if secure else f": its keys would have travelled in cleartext over {hop.upper()}"
        return Finding(
            CheckId.SDP_SDES_TRANSPORT,
            Status.SKIP,
            label,
            f"the SDES offer was not sent{why} (RFC 4568 §8.3)",
            details,
        )
    if secure:
        return Finding(
            CheckId.SDP_SDES_TRANSPORT,
            Status.PASS,
            label,
            "SDES keys travelled over TLS (first hop; RFC 4568 §8.3)",
            details,
        )
    return Finding(
        CheckId.SDP_SDES_TRANSPORT,
        Status.FAIL,
        label,
        f"SDES keys were sent in cleartext over {hop.upper()}: anyone on the path can"
        " decrypt the media (RFC 4568 §8.3)",
        details,
    )


def _is_sdp(body: bytes, content_type: str | None) -> bool:
    if content_type is None:
        return body.lstrip().startswith(b"v=")
    return content_type.split(";", 1)[0].strip().lower() == "application/sdp"


def check_options_sdp(*, label: str, body: bytes, content_type: str | None) -> Finding | None:
    """SDP in a 200 to OPTIONS (RFC 3261 §11.2) describes capabilities: summarise the
    profiles and crypto-suites it advertises, as a SKIP finding that never fails."""
    if not body.strip() or not _is_sdp(body, content_type):
        return None
    try:
        sdp = parse_sdp(body)
    except SdpError as exc:
        return Finding(
            CheckId.SDP_SRTP,
            Status.SKIP,
            label,
            f"the OPTIONS answer carried SDP that does not parse: {exc}",
            {"error": str(exc)},
        )
    streams: list[JsonValue] = []
    described: list[str] = []
    weak: list[str] = []
    for media in sdp.media:
        suites = [c.suite for c in media.crypto]
        fingerprints = [f.hash_function for f in sdp.effective_fingerprints(media)]
        streams.append(
            {
                "media": media.media,
                "proto": media.proto,
                "formats": list(media.formats),
                "suites": suites,
                "fingerprint_hashes": fingerprints,
            }
        )
        text = f"{media.media} {media.proto}"
        if suites:
            text += f" ({', '.join(suites)})"
        described.append(text)
        weak.extend(suite for suite in suites if suite_weakness(suite) and suite not in weak)
    summary = (
        f"the OPTIONS answer advertises {'; '.join(described)}"
        if described
        else "the OPTIONS answer carried SDP without media lines"
    )
    weak_suites: list[JsonValue] = list(weak)
    if weak:
        # Capabilities are not a negotiation: named, not judged.
        summary += f"; weak suites among them: {', '.join(weak)}"
    return Finding(
        CheckId.SDP_SRTP,
        Status.SKIP,
        label,
        summary + " (capabilities only, RFC 3261 §11.2)",
        {"media": streams, "weak_suites": weak_suites},
    )
