"""A test call: INVITE with an SDP offer, the answer collected, and the call always ended.

The call's rules live in its sans-I/O state machine, probe.sip.outgoing_call (RFC 3261
§13 INVITE and §17.1.1 its client transaction, §9.1 CANCEL only after a provisional
response, §13.2.2.4 ACK for a 2xx, §15.1.1 BYE, §22.2 digest). This module is its driver:
it reads responses off the connection and feeds them in, carries out what the machine
asks (send, check the media), and waits under the deadlines it names. Every path out of
here — answer, rejection, timeout, a broken peer, an internal error, Ctrl-C — ends what
was started: ACK+BYE after a 2xx, CANCEL before a final response, BYE for a 2xx that
arrives after CANCEL. The evidence counts the dialogs left open; the target is zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from probe.evidence.model import TLS_TRANSPORTS, CallEvidence, CallTeardown, MediaEvidence
from probe.net.auth import call_auth_evidence
from probe.net.connect import StreamConnection
from probe.net.deadlines import Deadlines
from probe.net.interrupted import CallInterrupted
from probe.net.leg import CallLeg, PeerGone
from probe.net.receive import Wait
from probe.sdp import DEFAULT_SUITES, SdpError, SessionDescription, build_offer, parse_sdp
from probe.sip import (
    DigestCredentials,
    Response,
    SipError,
    SipUri,
    build_invite,
    new_branch,
    random_token,
)
from probe.sip.outgoing_call import (
    CallAction,
    CallPlan,
    HangupMode,
    LocalEnd,
    OutgoingCall,
    Send,
    has_sdp,
)
from probe.sip.timers import TimerConfig
from probe.stir.sign import PassportSigner
from probe.stir.tn import uri_tn

if TYPE_CHECKING:
    from probe.net.dtls import DtlsIdentity

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
    dtls_identity: DtlsIdentity | None = field(default=None, repr=False)
    """Our DTLS certificate and key for a `dtls` offer: its fingerprint goes in the offer,
    and `verify_media` runs the handshake with it (probe.net.dtls)."""
    verify_media: bool = False
    """After the answer, exchange SRTP packets and authenticate the far end's (extra)."""
    identity: PassportSigner | None = None
    """Sign the call (STIR/SHAKEN, RFC 8224 §5): Date and Identity are added to the INVITE,
    orig from the From number, dest from the To number."""
    media_port: int = 0
    """The UDP port to offer media on when it is free (a capture filters on it); 0: any."""


def identity_fields(
    settings: CallSettings, now: float | None = None
) -> tuple[tuple[str, str], ...]:
    """Date and Identity for the INVITE when the call is signed (RFC 8224 §5): iat now,
    a fresh origid (RFC 8588 §5: a UUID), orig and dest the From and To numbers. The
    numbers were checked before the run (probe.run.invite), so none is missing here."""
    if settings.identity is None:
        return ()
    orig = uri_tn(str(settings.from_uri)) if settings.from_uri is not None else None
    dest = uri_tn(str(settings.to))
    if orig is None or dest is None:
        raise ValueError("a signed call needs a telephone number in From and in To")
    return settings.identity.header_fields(
        orig_tn=orig,
        dest_tns=(dest,),
        now=time.time() if now is None else now,
        origid=str(uuid.uuid4()),
    )


def reserve_media_port(local_address: str, port: int = 0) -> socket.socket:
    """A real UDP port on our address for the offer's m= line, held for the whole call:
    `port` when it is free, else any."""
    family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    media = socket.socket(family, socket.SOCK_DGRAM)
    try:
        media.bind((local_address, port))
    except OSError:
        if not port:
            media.close()
            raise
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
    timers: TimerConfig | None = None,
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
    media = reserve_media_port(local_address, settings.media_port)
    try:
        offer = build_offer(
            settings.offer_kind,
            address=local_address,
            port=int(media.getsockname()[1]),
            session_id=secrets.randbits(31),
            suites=settings.suites,
            random_bytes=secrets.token_bytes,
            fingerprint=settings.dtls_identity.fingerprint if settings.dtls_identity else None,
        )
        offer_wire = offer.to_bytes(reveal_keys=True)
        cleartext = transport not in TLS_TRANSPORTS and not settings.allow_cleartext_keys
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
            extra_headers=identity_fields(settings),
        )
        call = OutgoingCall(
            invite,
            plan=CallPlan(
                hangup=settings.hangup,
                answer_timeout=settings.answer_timeout,
                first_byte=deadlines.first_byte,
                transaction=deadlines.transaction,
                credentials=settings.credentials,
                verify_media=settings.verify_media,
                timers=timers if timers is not None else TimerConfig(),
            ),
            local=LocalEnd(leg.transport, local_address, local_port, user_agent),
            new_token=random_token,
        )
        checked = _MediaCheck(offer, media, settings.offer_kind, settings.dtls_identity)
        leg.call_id = invite.call_id
        interrupted = False
        try:
            loop = asyncio.get_running_loop()
            await _drive(leg, call, checked, call.start(loop.time()))
        except (PeerGone, SipError, SdpError) as exc:
            # The far end sent something we cannot act on (or the connection broke): say
            # so, and let the clean-up below still end whatever is open.
            expired = exc.expired if isinstance(exc, PeerGone) else None
            call.connection_broken(str(exc), expired=expired)
        except asyncio.CancelledError:
            # The run is being stopped: the call is still ended (below), and what was seen
            # goes up with the cancellation (CallInterrupted).
            interrupted = True
        finally:
            leftover = await _bounded_clean_up(leg, call, checked, interrupted=interrupted)
        teardown: CallTeardown
        if interrupted:
            teardown, detail = call.teardown_so_far(), None
            if settings.verify_media and checked.media is None and checked.skipped is None:
                checked.skipped = "not measured: the run was stopped before the media check"
        else:
            assert call.outcome is not None  # the drive returns only once the call ended
            teardown, detail = call.outcome
        if leftover:
            detail = f"{detail}; {leftover}" if detail else leftover
        evidence = _evidence(
            settings, offer_wire, leg, call, checked, teardown, detail, clock_ms() - started
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
    call: OutgoingCall,
    checked: _MediaCheck,
    teardown: CallTeardown,
    detail: str | None,
    elapsed_ms: float,
) -> CallEvidence:
    final = call.final
    answer: bytes | None = None
    source: str | None = None
    if final is not None and 200 <= final.status_code < 300 and has_sdp(final):
        answer, source = final.body, f"{final.status_code} {final.reason}"
    elif call.early_answer is not None:
        answer, source = call.early_answer
    return CallEvidence(
        offer_kind=settings.offer_kind,
        offer=offer_wire,
        events=tuple(leg.events),
        final_status=final.status_code if final is not None else None,
        final_reason=final.reason if final is not None else None,
        answer=answer,
        answer_source=source,
        provisional=tuple(call.provisional),
        authenticated=call.authenticated,
        cancelled=call.cancelled,
        teardown=teardown,
        teardown_detail=detail,
        dialogs_left_open=call.dialogs_left_open,
        bye_status=int(call.bye_answer.split()[0]) if call.bye_answer else None,
        keys_sent=settings.offer_kind == "sdes",
        error=call.error,
        elapsed_ms=elapsed_ms,
        media=checked.media,
        media_skipped=checked.skipped,
        expired=call.expired,
        faults=tuple(call.faults),
        auth=call_auth_evidence(
            call.challenge,
            credentials=settings.credentials is not None,
            answered=call.challenge_answered,
            problem=call.challenge_problem,
            answer_status=final.status_code if call.authenticated and final else None,
        ),
    )


@dataclass
class _MediaCheck:
    """The media side of the call: the offer made, the port it named, what was measured."""

    offer: SessionDescription
    socket: socket.socket
    offer_kind: OfferKind = "sdes"
    dtls_identity: DtlsIdentity | None = None
    media: MediaEvidence | None = None
    skipped: str | None = None

    async def run(self, response: Response) -> None:
        """Exchange SRTP with the far end while the call is up (`--verify-media`): keyed
        by the SDES answer, or by a DTLS-SRTP handshake on the media port first."""
        from probe.net.media import plan_dtls_media, plan_media, verify_dtls_media, verify_media

        if not has_sdp(response):
            self.skipped = "the 2xx carried no SDP answer"
            return
        try:
            answer = parse_sdp(response.body)
        except SdpError as exc:
            self.skipped = f"the SDP answer cannot be parsed: {exc}"
            return
        if self.offer_kind == "dtls":
            if self.dtls_identity is None:
                self.skipped = "no DTLS certificate of ours to run the handshake with"
                return
            dtls_plan = plan_dtls_media(answer)
            if isinstance(dtls_plan, str):
                self.skipped = dtls_plan
                return
            self.media = await verify_dtls_media(self.socket, dtls_plan, self.dtls_identity)
            return
        plan = plan_media(self.offer, answer)
        if isinstance(plan, str):
            self.skipped = plan
            return
        self.media = await verify_media(self.socket, plan)


async def _drive(
    leg: CallLeg, call: OutgoingCall, checked: _MediaCheck, actions: list[CallAction]
) -> None:
    """Carry out the call's actions and feed it what the connection brings, until the
    call waits for nothing more (each wait under the deadlines the call names)."""
    loop = asyncio.get_running_loop()
    pending = deque(actions)
    while True:
        while pending:
            action = pending.popleft()
            if isinstance(action, Send):
                await leg.send(action.message, action.note)
            else:
                await checked.run(action.answer)
                pending.extend(call.media_checked(loop.time()))
        deadlines = call.deadlines()
        if not deadlines:
            return
        waits = [Wait(d.at, d.phase, d.seconds, until_data=d.until_first_byte) for d in deadlines]
        response = await leg.receive(*waits)
        now = loop.time()
        if response is None:
            expired = leg.expired
            assert expired is not None  # receive returns None only when a wait expired
            pending.extend(call.deadline_passed(expired.phase, str(expired), now))
        else:
            pending.extend(call.receive_response(response, now))
        if leg.remote_bye:
            # The leg answered the far end's BYE for this call while reading (§15.1.2).
            pending.extend(call.remote_hung_up(now))


CLEAN_UP_GRACE = 2.0
"""Seconds each step of the clean-up may wait for the far end (at most the transaction
deadline): a signal asks to stop soon, not after a full timeout."""


async def _bounded_clean_up(
    leg: CallLeg, call: OutgoingCall, checked: _MediaCheck, *, interrupted: bool
) -> str | None:
    """`_end_whatever_is_open`, run to its end even if this task is cancelled again
    meanwhile (the clean-up is what a cancellation asks for), within a deadline of its
    own: every wait in it is bounded, and so is the whole."""
    grace = min(leg.timeout, CLEAN_UP_GRACE)
    loop = asyncio.get_running_loop()
    clean_up = loop.create_task(
        _end_whatever_is_open(leg, call, checked, grace, interrupted=interrupted)
    )
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


async def _end_whatever_is_open(
    leg: CallLeg, call: OutgoingCall, checked: _MediaCheck, grace: float, *, interrupted: bool
) -> str | None:
    """Last line of defence (errors, a signal): the call ends what it left open (BYE a
    dialog, CANCEL a ringing call), each wait `grace` seconds; what it did, in a sentence."""
    with contextlib.suppress(PeerGone, TimeoutError, OSError, SipError):
        now = asyncio.get_running_loop().time()
        await _drive(leg, call, checked, call.hang_up(now, grace=grace, interrupted=interrupted))
        return call.cleanup_note
    return None
