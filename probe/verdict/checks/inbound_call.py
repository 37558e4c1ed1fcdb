"""Checks on how a received call went (`sipprobe answer`): `inbound.media` (SRTP from the
caller, authenticated with the keys its offer or the DTLS handshake gave), the STIR/SHAKEN
findings of its Identity (probe.verdict.checks.stir), and `inbound.teardown` (how it ended,
and how many dialogs were left open: the target is zero). Pure.
"""

from __future__ import annotations

from probe.evidence.inbound import InboundCall
from probe.sdp import redact
from probe.verdict.checks.call import media_finding
from probe.verdict.checks.stir import STIR_CHECKS, stir_findings
from probe.verdict.checks.unit import CallJudging, InboundCheck
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["MEDIA", "STIR", "TEARDOWN", "check_identity", "check_media", "check_teardown"]


def _answered(call: InboundCall) -> bool:
    return call.final_status is not None and 200 <= call.final_status < 300


def check_media(judging: CallJudging) -> Finding | None:
    """`inbound.media`: when the run was asked to verify media, the caller's SRTP arrived
    and authenticated; media asked for and not verified is incomplete, never a pass."""
    call = judging.call
    asked = judging.expectation.verify_media
    if not asked and call.media is None and call.media_skipped is None:
        return None
    label = judging.label
    if call.media is None and call.media_skipped is None and not _answered(call):
        final = "no final response" if call.final_status is None else str(call.final_status)
        return Finding(
            CheckId.INBOUND_MEDIA,
            Status.INCOMPLETE,
            label,
            f"media not checked: the call was not answered ({final})",
        )
    key_from = "DTLS-exported" if call.media and call.media.keying == "dtls" else "offered"
    return media_finding(
        call.media,
        redact(call.media_skipped) if call.media_skipped else None,
        label,
        check=CheckId.INBOUND_MEDIA,
        key_from=key_from,
    )


_ENDED = {
    "caller_bye": "the caller ended the call with BYE",
    "our_bye": "we ended the call with BYE after holding it",
    "caller_cancel": "the caller cancelled before our final response",
    "refused": "we refused the call",
    "no_ack": (
        "our 2xx was never acknowledged: no ACK arrived within 64*T1 (RFC 3261 §13.3.1.4), "
        "which is how a caller that cannot reach our Contact, or a lost Record-Route, shows"
    ),
    "connection_lost": "the connection carrying the call closed under it",
    "interrupted": "the run was stopped with the call up: we ended it with BYE",
    "failed": "the call could not be ended cleanly",
}
_FAULTS = ("no_ack", "connection_lost", "failed")


def check_teardown(judging: CallJudging) -> Finding:
    """`inbound.teardown`: how the call ended, what our BYE got, dialogs left open."""
    call = judging.call
    details: dict[str, JsonValue] = {
        "teardown": call.teardown,
        "detail": redact(call.teardown_detail) if call.teardown_detail else None,
        "final_status": call.final_status,
        "bye_status": call.bye_status,
        "dialogs_left_open": call.dialogs_left_open,
        "interrupted": call.interrupted,
        "error": redact(call.error) if call.error else None,
        "elapsed_ms": None if call.elapsed_ms is None else round(call.elapsed_ms, 3),
    }
    ended = _ENDED.get(call.teardown, call.teardown)
    if call.teardown == "refused" and call.final_status is not None:
        why = f": {redact(call.refusal)}" if call.refusal else ""
        ended = f"we refused the call with {call.final_status}{why}"
    elif call.teardown == "interrupted" and not _answered(call):
        final = "" if call.final_status is None else f": we refused it with {call.final_status}"
        ended = f"the run was stopped before the call was answered{final}"
    if call.teardown_detail:
        ended += f" ({redact(call.teardown_detail)})"
    summary = f"{ended}; dialogs left open: {call.dialogs_left_open}"

    def finding(status: Status, text: str = summary) -> Finding:
        return Finding(CheckId.INBOUND_TEARDOWN, status, judging.label, text, details)

    if call.dialogs_left_open:
        return finding(Status.FAIL)
    if call.teardown in _FAULTS:
        return finding(Status.FAIL)
    if call.interrupted or call.teardown == "interrupted":
        return finding(Status.INCOMPLETE)
    if call.teardown == "our_bye":
        said = call.teardown_detail or ""
        if call.bye_status is None:
            if "no final response" in said:
                return finding(Status.WARN)
            return finding(Status.WARN, f"{summary} (our BYE got no final response)")
        if not 200 <= call.bye_status < 300:
            return finding(
                Status.WARN,
                f"{summary} (our BYE got {call.bye_status}: the call may still be up on the "
                "caller's side)",
            )
    return finding(Status.PASS)


def check_identity(judging: CallJudging) -> list[Finding]:
    """The five `stir.*` findings of the INVITE's Identity, when it was verified; when the
    run had to verify it and did not, that is work undone."""
    call = judging.call
    if call.stir is not None:
        return stir_findings(call.stir, target=judging.label)
    if not judging.expectation.verify_identity:
        return []
    why = redact(call.error) if call.error else "no verification was recorded for this INVITE"
    return [
        Finding(
            CheckId.STIR_IDENTITY,
            Status.INCOMPLETE,
            judging.label,
            f"Identity not verified: {why}",
        )
    ]


def _owes_media(judging: CallJudging) -> tuple[str, ...]:
    return (CheckId.INBOUND_MEDIA,) if judging.expectation.verify_media else ()


def _owes_teardown(_judging: CallJudging) -> tuple[str, ...]:
    return (CheckId.INBOUND_TEARDOWN,)


def _owes_identity(judging: CallJudging) -> tuple[str, ...]:
    if not judging.expectation.verify_identity:
        return ()
    stir = judging.call.stir
    if stir is not None and not stir.checks and not stir.required:
        # Verified, and there was nothing to verify: without an Identity header field and
        # with Identity optional (--sti-optional) the call is reported, not refused (RFC
        # 8224 §6.2.2 makes the 428 a verifier's policy), so nothing is left undone.
        return ()
    return STIR_CHECKS


STIR = InboundCheck(
    ids=STIR_CHECKS,
    reads=("stir",),
    judge=check_identity,
    owes=_owes_identity,
)
MEDIA = InboundCheck(
    ids=(CheckId.INBOUND_MEDIA,),
    reads=("media", "teardown"),
    judge=lambda judging: [check_media(judging)],
    owes=_owes_media,
)
TEARDOWN = InboundCheck(
    ids=(CheckId.INBOUND_TEARDOWN,),
    reads=("teardown",),
    judge=lambda judging: [check_teardown(judging)],
    owes=_owes_teardown,
)
