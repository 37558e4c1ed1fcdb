"""Checks on a test call: `sip.invite` (how the INVITE was answered) and `sip.teardown`
(how the call ended, and how many dialogs were left open: the target is zero).

The SDP judgement itself (`sdp.srtp`, `sdp.sdes_transport`) lives in probe.verdict.checks.srtp.
Messages shown as evidence have their SDES keys and credentials redacted. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from probe.evidence.model import CallEvidence, MediaEvidence, ProbeEvidence, WireEvent
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

_AUTH_HEADERS = ("authorization:", "proxy-authorization:")


def redacted_message(data: bytes) -> str:
    """A SIP message fit for a report: keys and digest responses removed."""
    # Imported here: only a run that placed a call has messages with SDP to show, and an
    # OPTIONS run should not load the SDP codec to judge its targets.
    from probe.sdp import redact

    text = redact(data.decode("utf-8", errors="replace"))
    lines = []
    for line in text.split("\r\n"):
        if line.lower().startswith(_AUTH_HEADERS):
            name = line.split(":", 1)[0]
            line = f"{name}: Digest <redacted>"
        lines.append(line)
    return "\r\n".join(lines)


def wire_exchange(events: Sequence[WireEvent]) -> list[JsonValue]:
    """A call's messages as a report shows them: keys and credentials redacted."""
    return [
        {
            "at_ms": round(event.at_ms, 3),
            "direction": event.direction,
            "note": event.note,
            "first_line": event.data.split(b"\r\n", 1)[0].decode("utf-8", errors="replace"),
            "message": redacted_message(event.data),
        }
        for event in events
    ]


def _exchange(call: CallEvidence) -> list[JsonValue]:
    return wire_exchange(call.events)


def check_invite(call: CallEvidence, label: str) -> Finding:
    details: dict[str, JsonValue] = {
        "final_status": call.final_status,
        "final_reason": call.final_reason,
        "provisional": list(call.provisional),
        "authenticated": call.authenticated,
        "cancelled": call.cancelled,
        "elapsed_ms": None if call.elapsed_ms is None else round(call.elapsed_ms, 3),
        "expired": call.expired,
        "faults": list(call.faults),
        "exchange": _exchange(call),
    }
    if call.teardown == "not_sent":
        # Refused once the target was located (SDES keys over a cleartext hop, a UDP
        # target a NAPTR chose): the trunk offers no way to place the call the command
        # asked for. What is known before locating is refused as a usage error instead.
        return Finding(
            CheckId.SIP_INVITE,
            Status.FAIL,
            label,
            f"call not placed: {call.teardown_detail or 'the INVITE was not sent'}",
            details,
        )
    ringing = f" after {', '.join(map(str, call.provisional))}" if call.provisional else ""
    # Only an INVITE with credentials that a final response answered was authenticated:
    # a challenge sipprobe could not answer never reads as one (sip.auth says why).
    auth = ""
    if call.authenticated:
        refused = call.final_status in (401, 407)
        auth = " (digest credentials refused)" if refused else " (with digest authentication)"
    if call.final_status is None:
        why = call.error or call.teardown_detail or "no final response"
        return Finding(
            CheckId.SIP_INVITE, Status.FAIL, label, f"no final answer{ringing}: {why}", details
        )
    answer = f"{call.final_status} {call.final_reason}"
    if 200 <= call.final_status < 300:
        summary = f"answered {answer}{ringing}{auth}"
        if call.faults:
            # The call worked, but a far end that breaks these rules breaks other UACs.
            return Finding(
                CheckId.SIP_INVITE, Status.WARN, label, f"{summary}, but {call.faults[0]}", details
            )
        return Finding(CheckId.SIP_INVITE, Status.PASS, label, summary, details)
    if call.cancelled and call.final_status == 487:
        return Finding(
            CheckId.SIP_INVITE,
            Status.PASS,
            label,
            f"cancelled by us{ringing}, as the hang-up mode asks ({answer})",
            details,
        )
    return Finding(
        CheckId.SIP_INVITE, Status.WARN, label, f"rejected with {answer}{ringing}{auth}", details
    )


def check_teardown(call: CallEvidence, label: str) -> Finding:
    details: dict[str, JsonValue] = {
        "teardown": call.teardown,
        "detail": call.teardown_detail,
        "dialogs_left_open": call.dialogs_left_open,
    }
    left = f"dialogs left open: {call.dialogs_left_open}"
    summary = f"{call.teardown_detail or call.teardown}; {left}"
    details["bye_status"] = call.bye_status
    if call.dialogs_left_open or call.teardown == "failed":
        return Finding(CheckId.SIP_TEARDOWN, Status.FAIL, label, summary, details)
    if call.bye_status is not None and not 200 <= call.bye_status < 300:
        summary += " (a BYE refused by the far end may leave the call up on its side)"
        return Finding(CheckId.SIP_TEARDOWN, Status.WARN, label, summary, details)
    return Finding(CheckId.SIP_TEARDOWN, Status.PASS, label, summary, details)


def check_media(call: CallEvidence, label: str) -> Finding | None:
    """`media.srtp` (`--verify-media`): did SRTP flow, and did it authenticate?"""
    if call.media is None and call.media_skipped is None:
        return None
    return media_finding(call.media, call.media_skipped, label)


def media_finding(
    media: MediaEvidence | None,
    skipped: str | None,
    label: str,
    *,
    check: str = CheckId.MEDIA_SRTP,
    key_from: str = "answered",
) -> Finding:
    """SRTP sent and received on a call whose media was to be verified: `media.srtp` for
    a call we placed, `inbound.media` for one we answered (`key_from`: whose SDP keyed the
    far end's packets, `answered` or `offered`)."""
    if media is None:
        # Verifying media was asked for; media that could not be checked is unproven.
        return Finding(
            check,
            Status.INCOMPLETE,
            label,
            f"media not checked: {skipped or 'nothing was recorded of it'}",
        )
    details: dict[str, JsonValue] = {
        "suite": media.suite,
        "sent": media.sent,
        "received": media.received,
        "authenticated": media.authenticated,
        "remote": media.remote,
        "send_skipped": media.send_skipped,
        "first_error": media.first_error,
        "keying": media.keying,
    }
    dtls = media.dtls
    if dtls is not None:
        details["dtls"] = {
            "role": dtls.role,
            "peer": dtls.peer,
            "version": dtls.version,
            "profile": dtls.profile,
            "expected_fingerprints": list(dtls.expected_fingerprints),
            "peer_fingerprint": dtls.peer_fingerprint,
            "fingerprint_match": dtls.fingerprint_match,
            "error": dtls.error,
            "elapsed_ms": dtls.elapsed_ms,
        }
        if dtls.error is not None:
            # No keys without a handshake whose certificate matched the fingerprint
            # (RFC 5763 §5): the media is unproven, and a mismatch may be an attack.
            return Finding(
                check,
                Status.FAIL,
                label,
                f"DTLS-SRTP not established ({dtls.role} side): {dtls.error}",
                details,
            )
    sent = f"{media.sent} sent" if not media.send_skipped else f"none sent ({media.send_skipped})"
    counts = f"{sent}; {media.received} received, {media.authenticated} authenticated"
    keyed = f"{media.suite}, keyed by DTLS {dtls.profile}" if dtls is not None else media.suite
    if media.authenticated:
        return Finding(check, Status.PASS, label, f"SRTP flows ({keyed}): {counts}", details)
    if media.received:
        return Finding(
            check,
            Status.FAIL,
            label,
            f"packets arrived but none authenticated with the"
            f" {'DTLS-exported' if dtls is not None else key_from} key: {counts}"
            + (f" ({media.first_error})" if media.first_error else ""),
            details,
        )
    return Finding(
        check,
        Status.FAIL,
        label,
        f"no media arrived from the far end: {counts}",
        details,
    )


def judge_call(evidence: ProbeEvidence) -> list[Finding]:
    """The findings of a test call: how it was answered, the SRTP verdict, how it ended."""
    from probe.sdp import parse_sdp
    from probe.verdict.checks.srtp import check_sdes_transport, check_srtp

    call = evidence.call
    assert call is not None
    label = evidence.target.label
    findings: list[Finding | None] = [check_invite(call, label)]
    if call.teardown != "not_sent":
        findings.append(
            check_srtp(
                label=label,
                offer=parse_sdp(call.offer),
                offer_kind=call.offer_kind,
                answer=call.answer,
                answer_source=call.answer_source,
                final_status=call.final_status,
                final_reason=call.final_reason,
            )
        )
    findings.append(
        check_sdes_transport(
            label=label,
            transport=evidence.target.transport,
            offer_kind=call.offer_kind,
            keys_sent=call.keys_sent and call.teardown != "not_sent",
        )
    )
    findings.append(check_media(call, label))
    findings.append(check_teardown(call, label))
    return [finding for finding in findings if finding is not None]


def _owes_call(evidence: ProbeEvidence) -> tuple[str, ...]:
    if evidence.method != "INVITE":
        return ()
    owed: tuple[str, ...] = (CheckId.SIP_INVITE, CheckId.SDP_SRTP, CheckId.SIP_TEARDOWN)
    call = evidence.call
    if call is not None and (call.media is not None or call.media_skipped is not None):
        owed += (CheckId.MEDIA_SRTP,)  # media was asked for
    return owed


CALL = Check(
    ids=(
        CheckId.SIP_INVITE,
        CheckId.SDP_SRTP,
        CheckId.SDP_SDES_TRANSPORT,
        CheckId.MEDIA_SRTP,
        CheckId.SIP_TEARDOWN,
    ),
    reads=("target", "call"),
    applies=lambda evidence: evidence.call is not None,
    judge=lambda judging: judge_call(judging.evidence),
    owes=_owes_call,
)
