"""A test call: INVITE with an SDP offer, the answer collected, and the call always ended.

RFC 3261 §13 (INVITE), §17.1.1 (its client transaction), §9.1 (CANCEL only after a
provisional response), §13.2.2.4 (ACK for a 2xx), §15.1.1 (BYE), §22.2 (digest). Every path
out of here — answer, rejection, timeout, a broken peer, an internal error, Ctrl-C — ends
what was started: ACK+BYE after a 2xx, CANCEL before a final response, BYE for a 2xx that
arrives after CANCEL. The evidence counts the dialogs left open; the target is zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from probe.evidence.model import CallEvidence, CallTeardown, MediaEvidence
from probe.net.connect import StreamConnection
from probe.net.deadlines import Deadlines
from probe.net.interrupted import CallInterrupted
from probe.net.leg import CallLeg, PeerGone
from probe.net.receive import Wait
from probe.sdp import DEFAULT_SUITES, SdpError, SessionDescription, build_offer, parse_sdp
from probe.sip import (
    Dialog,
    DigestCredentials,
    Request,
    Response,
    SipError,
    SipUri,
    authorize,
    build_ack_non2xx,
    build_cancel,
    build_invite,
    new_branch,
    random_token,
)

HangupMode = Literal["on-answer", "on-early-media", "immediately"]
OfferKind = Literal["sdes", "dtls", "rtp"]

__all__ = ["CallInterrupted", "CallSettings", "PeerGone", "place_call", "reserve_media_port"]


@dataclass(frozen=True, slots=True)
class CallSettings:
    """What the test call is, and how it ends."""

    to: SipUri
    """Request-URI and To: the number or user being called (`--to`)."""
    from_uri: SipUri | None = None
    offer_kind: OfferKind = "sdes"
    suites: tuple[str, ...] = DEFAULT_SUITES
    hangup: HangupMode = "on-answer"
    credentials: DigestCredentials | None = field(default=None, repr=False)
    allow_cleartext_keys: bool = False
    answer_timeout: float = 30.0
    """How long the far end may ring before the call is cancelled."""
    fingerprint: object | None = None
    """The DTLS certificate fingerprint for a `dtls` offer (probe.sdp.Fingerprint)."""
    verify_media: bool = False
    """After the answer, exchange SRTP packets and authenticate the far end's (extra)."""


def _has_sdp(response: Response) -> bool:
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return bool(response.body) and content_type == "application/sdp"


def _is_invite_response(invite: Request, response: Response) -> bool:
    try:
        return (
            response.top_via.branch == invite.top_via.branch
            and response.cseq.method == "INVITE"
            and response.cseq.number == invite.cseq.number
        )
    except SipError:
        return False


@dataclass
class _CallState:
    invite: Request
    offer: SessionDescription
    media_socket: socket.socket
    provisional: list[int] = field(default_factory=list)
    early_answer: tuple[bytes, str] | None = None
    cancelled: bool = False
    dialog: Dialog | None = None
    bye_done: bool = False
    bye_answer: str | None = None
    authenticated: bool = False
    final: Response | None = None
    media: MediaEvidence | None = None
    media_skipped: str | None = None
    unusable_2xx: bool = False
    """A 2xx arrived that not even the fallback could turn into a dialog to end."""
    expired: str | None = None
    faults: list[str] = field(default_factory=list)
    cancel_unanswered: bool = False
    """CANCEL went out and its whole transaction deadline passed in silence: waiting
    again during clean-up would only double the time the verdict takes."""


def reserve_media_port(local_address: str) -> socket.socket:
    """A real UDP port on our address for the offer's m= line, held for the whole call."""
    family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    media = socket.socket(family, socket.SOCK_DGRAM)
    media.bind((local_address, 0))
    return media


async def place_call(
    connection: StreamConnection,
    *,
    transport: str,
    local_address: str,
    local_port: int,
    settings: CallSettings,
    user_agent: str,
    clock_ms: Callable[[], float],
    deadlines: Deadlines | None = None,
    timeout: float | None = None,
) -> CallEvidence:
    """Run one call on an open connection; returns what happened, never raises for it.

    Deadlines: `first_byte` from each INVITE to the first response (a UAS sends 100
    Trying at once, §8.2.6.1/§17.2.1); `CallSettings.answer_timeout` from the INVITE to its
    final response (ringing, so provisionals do not extend it; it plays Timer C's part,
    §16.6); `message` for every message begun; `transaction` for CANCEL and BYE.
    """
    if deadlines is None:
        if timeout is None:
            raise TypeError("place_call needs its deadlines (or one timeout for every phase)")
        deadlines = Deadlines.uniform(timeout)
    started = clock_ms()
    media = reserve_media_port(local_address)
    try:
        offer = build_offer(
            settings.offer_kind,
            address=local_address,
            port=int(media.getsockname()[1]),
            session_id=secrets.randbits(31),
            suites=settings.suites,
            random_bytes=secrets.token_bytes,
            fingerprint=settings.fingerprint,  # type: ignore[arg-type]
        )
        offer_wire = offer.to_bytes(reveal_keys=True)
        cleartext = transport != "tls" and not settings.allow_cleartext_keys
        if settings.offer_kind == "sdes" and cleartext:
            return CallEvidence(
                offer_kind=settings.offer_kind,
                offer=offer_wire,
                teardown="not_sent",
                teardown_detail=(
                    f"the INVITE was not sent: its SDES keys would cross {transport.upper()} "
                    "in cleartext (--allow-cleartext-keys to send them anyway)"
                ),
                elapsed_ms=clock_ms() - started,
            )
        leg = CallLeg(
            connection,
            clock_ms,
            transport=transport,
            local_address=local_address,
            local_port=local_port,
            user_agent=user_agent,
            deadlines=deadlines,
        )
        invite = build_invite(
            settings.to,
            transport=leg.transport,
            local_host=local_address,
            local_port=local_port,
            branch=new_branch(random_token()),
            from_tag=random_token(6),
            call_id=random_token(),
            user_agent=user_agent,
            body=offer_wire,
            from_uri=settings.from_uri,
        )
        state = _CallState(invite=invite, offer=offer, media_socket=media)
        leg.call_id = invite.call_id
        teardown: CallTeardown = "no_answer"
        detail: str | None = None
        error: str | None = None
        interrupted = False
        try:
            teardown, detail = await _run(leg, state, settings)
        except (PeerGone, SipError, SdpError) as exc:
            # The far end sent something we cannot act on (or the connection broke): say
            # so, and let the clean-up below still end whatever is open.
            error = str(exc)
            if isinstance(exc, PeerGone) and exc.expired is not None:
                state.expired = exc.expired
            teardown, detail = "failed", f"the call ended abnormally: {exc}"
        except asyncio.CancelledError:
            # The run is being stopped: the call is still ended (below), and what was seen
            # goes up with the cancellation (CallInterrupted).
            interrupted = True
        finally:
            leftover = await _bounded_clean_up(leg, state, interrupted=interrupted)
            if leftover:
                detail = f"{detail}; {leftover}" if detail else leftover
        if interrupted:
            teardown = _teardown_so_far(state)
            if settings.verify_media and state.media is None and state.media_skipped is None:
                state.media_skipped = "not measured: the run was stopped before the media check"
        evidence = _evidence(
            settings, offer_wire, leg, state, teardown, detail, error, clock_ms() - started
        )
        if interrupted:
            raise CallInterrupted(replace(evidence, interrupted=True))
        return evidence
    finally:
        media.close()


def _evidence(
    settings: CallSettings,
    offer_wire: bytes,
    leg: CallLeg,
    state: _CallState,
    teardown: CallTeardown,
    detail: str | None,
    error: str | None,
    elapsed_ms: float,
) -> CallEvidence:
    final = state.final
    answer: bytes | None = None
    source: str | None = None
    if final is not None and 200 <= final.status_code < 300 and _has_sdp(final):
        answer, source = final.body, f"{final.status_code} {final.reason}"
    elif state.early_answer is not None:
        answer, source = state.early_answer
    return CallEvidence(
        offer_kind=settings.offer_kind,
        offer=offer_wire,
        events=tuple(leg.events),
        final_status=final.status_code if final is not None else None,
        final_reason=final.reason if final is not None else None,
        answer=answer,
        answer_source=source,
        provisional=tuple(state.provisional),
        authenticated=state.authenticated,
        cancelled=state.cancelled,
        teardown=teardown,
        teardown_detail=detail,
        dialogs_left_open=(
            1 if (state.dialog is not None and not state.bye_done) or state.unusable_2xx else 0
        ),
        bye_status=int(state.bye_answer.split()[0]) if state.bye_answer else None,
        keys_sent=settings.offer_kind == "sdes",
        error=error,
        elapsed_ms=elapsed_ms,
        media=state.media,
        media_skipped=state.media_skipped,
        expired=state.expired,
        faults=tuple(state.faults),
    )


async def _send_cancel(leg: CallLeg, state: _CallState) -> bool:
    """Send CANCEL once; True when it was sent now.

    §9.1: CANCEL only once a provisional response shows the INVITE arrived.
    """
    if state.cancelled or not state.provisional:
        return False
    state.cancelled = True
    await leg.send(build_cancel(state.invite), "CANCEL")
    return True


def _invite_waits(leg: CallLeg, settings: CallSettings) -> tuple[Wait, ...]:
    """The deadlines of a freshly sent INVITE: its first response, then its answer."""
    return (
        leg.wait(leg.deadlines.first_byte, "first_byte", first_byte=True),
        leg.wait(settings.answer_timeout, "answer"),
    )


async def _run(
    leg: CallLeg, state: _CallState, settings: CallSettings
) -> tuple[CallTeardown, str | None]:
    await leg.send(state.invite, "INVITE")
    waits = _invite_waits(leg, settings)
    while True:
        response = await leg.receive(*waits)
        if response is None:
            expired = leg.expired
            state.expired = expired.phase if expired is not None else None
            why = str(expired) if expired is not None else "no response"
            if not state.cancelled and state.provisional:
                await _send_cancel(leg, state)
                waits = (leg.wait(leg.timeout),)
                continue
            if state.cancelled:
                state.cancel_unanswered = True
                return "failed", f"CANCEL sent but {why}"
            return "no_answer", (
                f"{why}; with no provisional response there is nothing to CANCEL (RFC 3261 §9.1)"
            )
        # Something came back: the first byte is no longer awaited.
        waits = tuple(wait for wait in waits if not wait.until_data)
        if not _is_invite_response(state.invite, response):
            _note_stray(state, response)
            continue  # the 200 to our CANCEL, or a stray: the INVITE's answer decides
        code = response.status_code
        if code < 200:
            state.provisional.append(code)
            if code > 100 and _has_sdp(response) and state.early_answer is None:
                state.early_answer = (response.body, f"{code} {response.reason}")
            wants_cancel = settings.hangup == "immediately" or (
                settings.hangup == "on-early-media" and state.early_answer is not None
            )
            if wants_cancel and await _send_cancel(leg, state):
                waits = (leg.wait(leg.timeout),)
            continue
        if code >= 300:
            # §17.1.1.3: every non-2xx final is ACKed on the INVITE's own branch.
            await leg.send(build_ack_non2xx(state.invite, response), f"ACK for {code}")
            retry = code in (401, 407) and settings.credentials and not state.authenticated
            # Once we have cancelled, a challenge is just the final answer: re-sending
            # would start a call nobody asked for.
            if retry and not state.cancelled and settings.credentials is not None:
                state.authenticated = True
                try:
                    state.invite = authorize(
                        state.invite,
                        response,
                        settings.credentials,
                        branch=new_branch(random_token()),
                        cnonce=random_token(8),
                        cseq=state.invite.cseq.number + 1,
                    )
                except SipError as exc:
                    state.final = response
                    return "rejected", f"challenged with {code}, which cannot be answered: {exc}"
                state.provisional.clear()
                await leg.send(state.invite, "INVITE with credentials")
                waits = _invite_waits(leg, settings)
                continue
            state.final = response
            if state.cancelled and code == 487:
                return "cancel", "CANCEL answered; 487 Request Terminated ACKed"
            return "rejected", f"rejected with {code} {response.reason} (ACKed)"
        state.final = response
        await _confirm(leg, state, response)
        if settings.verify_media:
            await _check_media(state, response)
        await _bye(leg, state, leg.timeout)
        prefix = "a 2xx raced our CANCEL: " if state.cancelled else ""
        return "bye", prefix + _bye_text(state, leg)


def _note_stray(state: _CallState, response: Response) -> None:
    """A response that answers none of our requests (§17.1.3) is evidence, not an
    answer; the 200 to our own CANCEL (same branch, CSeq CANCEL) is no stray."""
    try:
        ours = response.top_via.branch == state.invite.top_via.branch
        method = response.cseq.method
    except SipError as exc:
        state.faults.append(f"ignored a {response.status_code} that cannot be matched: {exc}")
        return
    if ours and method in ("CANCEL", "INVITE"):
        return
    state.faults.append(
        f"ignored a stray {response.status_code} {response.reason} (CSeq {method},"
        " not this INVITE's branch, RFC 3261 §17.1.3)"
    )


def _bye_text(state: _CallState, leg: CallLeg) -> str:
    if leg.remote_bye:
        return "the far end hung up with BYE, answered 200"
    if state.bye_done:
        return f"ACK sent; BYE answered {state.bye_answer}"
    return "ACK and BYE sent; BYE unanswered"


async def _ack_2xx(leg: CallLeg, state: _CallState, note: str) -> None:
    """§13.2.2.4: a 2xx is ACKed in a transaction of its own, along the route set."""
    assert state.dialog is not None
    ack = state.dialog.build_ack(
        invite=state.invite,
        branch=new_branch(random_token()),
        local_host=leg.local_address,
        local_port=leg.local_port,
        transport=leg.transport,
    )
    await leg.send(ack, note)


async def _confirm(leg: CallLeg, state: _CallState, response: Response) -> None:
    try:
        state.dialog = Dialog.from_response(state.invite, response)
    except SipError as problem:
        # A 2xx without a usable Contact or Record-Route: ending the call matters more
        # than strictness, so the BYE goes to the Request-URI (the documented fallback).
        try:
            state.dialog = Dialog.fallback(state.invite, response)
        except SipError as exc:
            state.unusable_2xx = True
            raise PeerGone(f"the 2xx cannot even be ACKed ({exc}); the call may be up") from exc
        # §13.3.1.4: a 2xx to INVITE MUST carry a Contact (§12.1.1 makes it the remote
        # target); without one, in-dialog requests can only guess where to go.
        state.faults.append(
            f"{problem}; the ACK and BYE went to the Request-URI instead"
            " (RFC 3261 §12.1.1, §13.3.1.4)"
        )
    await _ack_2xx(leg, state, "ACK for 2xx")


async def _check_media(state: _CallState, response: Response) -> None:
    """Exchange SRTP with the far end while the call is up (`--verify-media`)."""
    from probe.net.media import plan_media, verify_media

    if not _has_sdp(response):
        state.media_skipped = "the 2xx carried no SDP answer"
        return
    try:
        answer = parse_sdp(response.body)
    except SdpError as exc:
        state.media_skipped = f"the SDP answer cannot be parsed: {exc}"
        return
    plan = plan_media(state.offer, answer)
    if isinstance(plan, str):
        state.media_skipped = plan
        return
    state.media = await verify_media(state.media_socket, plan)


async def _bye(leg: CallLeg, state: _CallState, timeout: float) -> None:
    assert state.dialog is not None
    if leg.remote_bye:
        state.bye_done = True
        return
    bye, state.dialog = state.dialog.build_bye(
        branch=new_branch(random_token()),
        local_host=leg.local_address,
        local_port=leg.local_port,
        transport=leg.transport,
        user_agent=leg.user_agent,
    )
    await leg.send(bye, "BYE")
    wait = leg.wait(timeout)
    while (response := await leg.receive(wait)) is not None:
        try:
            is_bye = response.cseq.method == "BYE" and response.top_via.branch == bye.top_via.branch
        except SipError:
            continue
        if is_bye and response.status_code in (401, 407):
            # A challenged BYE did not end anything on the far side: the dialog stays
            # counted as open (credentials for BYE are not sent twice here).
            state.bye_answer = f"{response.status_code} {response.reason}"
            return
        if is_bye and response.status_code >= 200:
            # §15.1.1: whatever the answer, the session is over for us; a non-2xx is still
            # worth saying, since the far end may not have let go.
            state.bye_done = True
            state.bye_answer = f"{response.status_code} {response.reason}"
            return
        if _is_invite_response(state.invite, response) and 200 <= response.status_code < 300:
            # A retransmitted 2xx means our ACK was lost: ACK it again (§13.2.2.4).
            await _ack_2xx(leg, state, "ACK for a retransmitted 2xx")
        if leg.remote_bye:
            state.bye_done = True
            return


def _teardown_so_far(state: _CallState) -> CallTeardown:
    """How an interrupted call ended, from what the clean-up managed."""
    if state.dialog is not None:
        return "bye" if state.bye_done else "failed"
    if state.final is not None:
        return "cancel" if state.cancelled and state.final.status_code == 487 else "rejected"
    if state.cancelled:
        return "cancel"
    return "no_answer"


CLEAN_UP_GRACE = 2.0
"""Seconds each step of the clean-up may wait for the far end (at most the transaction
deadline): a signal asks to stop soon, not after a full timeout."""


async def _bounded_clean_up(leg: CallLeg, state: _CallState, *, interrupted: bool) -> str | None:
    """`_end_whatever_is_open`, run to its end even if this task is cancelled again
    meanwhile (the clean-up is what a cancellation asks for), within a deadline of its
    own: every wait in it is bounded, and so is the whole."""
    grace = min(leg.timeout, CLEAN_UP_GRACE)
    loop = asyncio.get_running_loop()
    clean_up = loop.create_task(_end_whatever_is_open(leg, state, grace, interrupted=interrupted))
    deadline = loop.time() + 4 * grace + 1.0  # a first answer, CANCEL, a raced 2xx, BYE
    while not clean_up.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            clean_up.cancel()
            await asyncio.wait({clean_up}, timeout=grace)
            break
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({clean_up}, timeout=remaining)
    if not clean_up.done() or clean_up.cancelled():
        return "the clean-up did not finish within its deadline"
    failure = clean_up.exception()
    if failure is not None:
        raise failure
    return clean_up.result()


async def _first_answer(leg: CallLeg, state: _CallState, grace: float) -> None:
    """An INVITE with no response yet cannot be cancelled (§9.1): wait briefly for its
    first response, so that a ringing call can be cancelled and an answered one ended."""
    wait = leg.wait(grace)
    while (response := await leg.receive(wait)) is not None:
        if not _is_invite_response(state.invite, response):
            continue
        if response.status_code < 200:
            state.provisional.append(response.status_code)
            return
        state.final = response
        if response.status_code >= 300:
            await leg.send(build_ack_non2xx(state.invite, response), "ACK")
        else:
            await _confirm(leg, state, response)
        return


async def _end_whatever_is_open(
    leg: CallLeg, state: _CallState, grace: float, *, interrupted: bool = False
) -> str | None:
    """Last line of defence (errors, a signal): BYE an open dialog, CANCEL a ringing call
    and see its final response ACKed (or, should a 2xx win the race, ACKed and BYEd)."""
    with contextlib.suppress(PeerGone, TimeoutError, OSError, SipError):
        if interrupted and state.final is None and not state.provisional:
            await _first_answer(leg, state, grace)
            if state.final is not None and state.dialog is None:
                return "a final response arrived during clean-up; it was ACKed"
        if state.dialog is not None and not state.bye_done:
            await _bye(leg, state, grace)
            return "an open dialog was ended with BYE during clean-up"
        if state.final is None and state.provisional and not state.cancel_unanswered:
            sent = await _send_cancel(leg, state)
            wait = leg.wait(grace)
            while (response := await leg.receive(wait)) is not None:
                if not _is_invite_response(state.invite, response) or response.status_code < 200:
                    continue
                state.final = response
                if response.status_code >= 300:
                    await leg.send(build_ack_non2xx(state.invite, response), "ACK")
                    return "a ringing call was cancelled during clean-up"
                await _confirm(leg, state, response)
                await _bye(leg, state, grace)
                return "a 2xx arrived during clean-up; it was ACKed and ended with BYE"
            if sent:
                return "a ringing call was cancelled during clean-up (no final response seen)"
            return "the call was cancelled; no final response was seen"
    return None
