"""One inbound call, from its INVITE to its end: the UAS side of RFC 3261 §13.3 with
the INVITE server transaction of §17.2.1, CANCEL (§9.2) and BYE (§15.1), recorded
message by message as an InboundCall.

The call runs as one task. The listener delivers every message that belongs to it (the
INVITE's retransmissions, CANCEL, ACK, BYE, responses to our BYE) through a queue, and
each phase of the call waits on that queue under its own deadline:

    100 Trying → identity check (when asked) → offer read → 180 Ringing → ring_s →
    200 OK (retransmitted until the ACK, §13.3.1.4) → hold_s → our BYE

A CANCEL, a BYE from the caller, the connection closing or the run stopping ends the
phase at once, and the call ends the way that calls for: 487, 200, letting go, or our
BYE. Nothing waits without a deadline; whatever happens, the call's media socket closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Callable

from probe.answer.call_state import (
    CallServices,
    CallState,
    IdentityCheck,
    Over,
    Retransmit,
    Signal,
)
from probe.answer.dialog import build_our_bye, dialog_headers
from probe.answer.link import Link
from probe.answer.media import MEDIA_SUITES, verify_inbound_media
from probe.answer.sdp_answer import InboundPlan, build_inbound_answer, plan_inbound_answer
from probe.evidence.inbound import InboundCall
from probe.sdp import Crypto, SdpError, SessionDescription
from probe.serve.offer_answer import Refusal, read_offer
from probe.serve.uas import accepts_sdp, answer, unsupported_required
from probe.sip import Message, Request, Response, SipError

__all__ = ["CallServices", "IdentityCheck", "InboundCallRunner"]

IDENTITY_SECONDS = 30.0
"""Bound on the identity check, which keeps its own (shorter) fetch deadlines."""
MEDIA_SECONDS = 10.0
"""Bound on the media check after the hold: a DTLS handshake (5 s) and 2 s of media."""
BYE_SECONDS = 5.0
"""How long our BYE waits for its final response (less than 64*T1: a verifier ends)."""
NON_2XX_ACK_SECONDS = 4.0
"""How long a refusal waits for its hop-by-hop ACK before the call is over."""

_ANY: frozenset[Over] = frozenset({"caller_cancel", "caller_bye", "connection_lost", "interrupted"})
_RUN_ENDS: frozenset[Over] = frozenset({"connection_lost", "interrupted"})
"""What ends a wait the caller's own CANCEL or BYE does not (the identity check)."""
_LOST: frozenset[Over] = frozenset({"connection_lost"})
"""What ends a clean-up already under way (a refusal's ACK, our BYE's answer)."""


class InboundCallRunner(CallState):
    """Runs one call over its state; `run()` returns its InboundCall whatever happens."""

    # --- the call ----------------------------------------------------------------------

    async def run(self) -> InboundCall:
        try:
            await self._run()
        except Exception as exc:  # recorded on the call: one call's fault ends no run
            self.error = f"{type(exc).__name__}: {exc}"
            self.teardown = "failed"
            self.detail = self.detail or "the call ended on an unexpected error"
        finally:
            await self._end_media()
            self._release()
            self._elapsed_ms = (time.monotonic() - self._started) * 1000
            self.ended = True
        return self.evidence()

    async def _run(self) -> None:
        self._respond(self.invite, 100, "Trying", None)  # §17.2.1: at once
        if self.services.identity is not None:
            await self._check_identity(self.services.identity)
            if self.over is not None:
                return await self._conclude()
        refusal, plan, offer_sdp = self._plan()
        if refusal is not None or plan is None or offer_sdp is None:
            return await self._refuse(refusal or _internal("no plan"))
        try:
            answer_sdp, ours = self._answer(offer_sdp, plan)
        except (OSError, SdpError, ValueError) as exc:
            return await self._refuse(_internal(f"the answer could not be built: {exc}"))
        headers = dialog_headers(self.invite, self.link)
        self._respond(self.invite, 180, "Ringing", self.to_tag, headers)
        await self._wait(self.config.ring_s)
        if self.over is not None:
            return await self._conclude()
        ok = self._respond(self.invite, 200, "OK", self.to_tag, headers, answer_sdp)
        self.final = 200
        if self.config.expectation.verify_media:
            self._start_media(plan, ours)
        timers = self.config.timers
        if ok is not None:
            loop = asyncio.get_running_loop()
            resend = Retransmit(ok, loop.time() + timers.t1, timers.t1, timers.t2, "200 again")
            # §13.3.1.4: the 2xx again and again (every transport) until the ACK comes.
            await self._wait(64 * timers.t1, until=lambda: self.acked, resend=resend)
        if self.over is not None:
            return await self._conclude()
        if not self.acked:
            # §13.3.1.4: no ACK within 64*T1; the session is ended with BYE.
            self.teardown = "no_ack"
            self.detail = f"our 200 was not acknowledged within {64 * timers.t1:g} s"
            return await self._send_bye()
        await self._wait(self.config.expectation.hold_s)
        if self.over is None and self._media_task is not None:
            task = self._media_task
            await self._wait(MEDIA_SECONDS, until=task.done)
        if self.over is not None:
            return await self._conclude()
        self.teardown = "our_bye"
        await self._send_bye()

    # --- phases ------------------------------------------------------------------------

    async def _check_identity(self, check: IdentityCheck) -> None:
        task = asyncio.ensure_future(check(self.invite))
        task.add_done_callback(lambda _: self.queue.put_nowait(Signal.WAKE))
        await self._wait(IDENTITY_SECONDS, until=task.done, ends_on=_RUN_ENDS)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if self.over is None:
                self.error = f"the identity check did not finish within {IDENTITY_SECONDS:g} s"
            return
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            self.error = f"the identity check failed: {type(failure).__name__}: {failure}"
            return
        self.stir = task.result()

    def _plan(self) -> tuple[Refusal | None, InboundPlan | None, SessionDescription | None]:
        unsupported = unsupported_required(self.invite)
        if unsupported is not None:
            # §8.2.2.3: no extension is supported, so every required one is refused.
            return Refusal(420, "Bad Extension", 399, f"unsupported: {unsupported}"), None, None
        if not accepts_sdp(self.invite):
            return Refusal(406, "Not Acceptable", 399, "the Accept rules out SDP"), None, None
        offer = read_offer(self.invite)
        if isinstance(offer, Refusal):
            return offer, None, None
        plan = plan_inbound_answer(offer, preferred_suites=MEDIA_SUITES)
        if isinstance(plan, Refusal):
            return plan, None, None
        return None, plan, offer

    def _answer(self, offer: SessionDescription, plan: InboundPlan) -> tuple[bytes, Crypto | None]:
        address = self.link.local[0]
        media = socket.socket(
            socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM
        )
        self._socket = media
        media.setblocking(False)
        media.bind((address, 0))
        fingerprint = None
        if plan.keying == "dtls" and self.services.dtls_identity is not None:
            fingerprint = self.services.dtls_identity().fingerprint
        sdp, ours = build_inbound_answer(
            offer,
            plan,
            address=address,
            port=int(media.getsockname()[1]),
            session_id=secrets.randbits(31),
            random_bytes=secrets.token_bytes,
            fingerprint=fingerprint,
        )
        self.answer_sdp = sdp.to_bytes(reveal_keys=True)
        return self.answer_sdp, ours

    async def _refuse(self, refusal: Refusal) -> None:
        headers: tuple[tuple[str, str], ...] = (("Warning", refusal.warning()),)
        if refusal.status == 415:
            headers += (("Accept", "application/sdp"),)  # §21.4.13
        elif refusal.status == 420:
            headers += (("Unsupported", unsupported_required(self.invite) or ""),)
        elif refusal.status == 406:
            headers += (("Accept", "application/sdp"),)
        self.refusal = refusal.warning()
        self.teardown = "refused"  # the status and the Warning text say why
        await self._final_non_2xx(refusal.status, refusal.reason, headers)

    async def _final_non_2xx(
        self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """A final error to the INVITE, then its ACK awaited."""
        self.final = status
        if self._respond(self.invite, status, reason, self.to_tag, headers) is not None:
            await self._await_ack_of_final()

    async def _await_ack_of_final(self) -> None:
        """The hop-by-hop ACK of our final error (§17.2.1): over UDP the response is sent
        again until it comes (Timer G, T1 doubling to T2), and given up at the bound."""
        timers = self.config.timers
        loop = asyncio.get_running_loop()
        resend = None
        if not self.link.reliable and self.last_response is not None:
            due = loop.time() + timers.t1
            resend = Retransmit(self.last_response, due, timers.t1, timers.t2, "sent again")
        wait = min(64 * timers.t1, NON_2XX_ACK_SECONDS)
        await self._wait(wait, until=lambda: self.non_2xx_acked, resend=resend, ends_on=_LOST)
        if not self.non_2xx_acked and self.over != "connection_lost":
            self.detail = _join(self.detail, f"our {self.final} was not acknowledged")

    async def _send_bye(self) -> None:
        """Our BYE (§15.1.1), its final response awaited under BYE_SECONDS; over UDP it
        is sent again on Timer E until then (§17.1.2.2)."""
        if self.link.closed:
            self.detail = (self.detail or "") + "; the connection closed before our BYE"
            return
        try:
            bye = build_our_bye(
                self.invite,
                to_tag=self.to_tag,
                link=self.link,
                user_agent=self.config.server_header,
                cseq=1,
            )
        except SipError as exc:
            self.error = f"our BYE could not be built: {exc}"
            self.teardown = "failed"
            return
        self.bye = bye
        data = bye.to_bytes()
        self._send(data, "BYE")
        timers = self.config.timers
        loop = asyncio.get_running_loop()
        resend = None
        if not self.link.reliable:
            resend = Retransmit(data, loop.time() + timers.t1, timers.t1, timers.t2, "BYE again")
        wait = min(64 * timers.t1, BYE_SECONDS)
        await self._wait(
            wait, until=lambda: self.bye_status is not None, resend=resend, ends_on=_LOST
        )
        if self.bye_status is None:
            self.detail = _join(self.detail, f"our BYE got no final response within {wait:g} s")
        else:
            self.detail = _join(self.detail, f"the caller answered our BYE {self.bye_status}")

    async def _conclude(self) -> None:
        """End the call the way `over` says."""
        over = self.over
        if over == "caller_cancel":
            self.teardown = "caller_cancel"
            self.detail = "200 OK to its CANCEL, 487 to its INVITE"
            await self._await_ack_of_final()
        elif over == "caller_bye":
            self.teardown = "caller_bye"
            self.detail = "answered 200 OK"
            if self.final is not None and not 200 <= self.final < 300:
                self.detail += f", and its INVITE {self.final}"
                await self._await_ack_of_final()  # a BYE before our answer: 487 sent
        elif over == "connection_lost":
            self.teardown = "connection_lost"
        elif over == "interrupted":
            self.teardown = "interrupted"
            self.interrupted = True
            if self.final is None:
                refusal = Refusal(486, "Busy Here", 399, "the answer run ended")
                await self._final_non_2xx(486, refusal.reason, (("Warning", refusal.warning()),))
            elif 200 <= self.final < 300:
                await self._send_bye()

    async def _wait(
        self,
        seconds: float,
        until: Callable[[], bool] = lambda: False,
        *,
        resend: Retransmit | None = None,
        ends_on: frozenset[Over] = _ANY,
    ) -> None:
        """Handle the call's messages until `until()` holds, `seconds` pass, or the call
        is over in one of the ways of `ends_on` (a clean-up already under way finishes
        under its own bound whatever else happens)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not until():
            if self.over is not None and self.over in ends_on:
                return
            now = loop.time()
            if now >= deadline:
                return
            timeout = deadline - now
            if resend is not None:
                timeout = min(timeout, max(resend.due - now, 0.0))
            try:
                async with asyncio.timeout(timeout):
                    item = await self.queue.get()
            except TimeoutError:
                if resend is not None and loop.time() >= resend.due:
                    self._send(resend.data, resend.note)
                    resend.next(loop.time())
                continue
            self._take(item)

    # --- what arrives ------------------------------------------------------------------

    def _take(self, item: tuple[Message, Link] | Signal) -> None:
        if item is Signal.STOP:
            if self.over is None:
                self.over = "interrupted"
        elif item is Signal.LOST:
            self.over = "connection_lost"
        elif isinstance(item, tuple):
            message, link = item
            if isinstance(message, Response):
                self._on_response(message)
            else:
                self._on_request(message, link)

    def _on_response(self, response: Response) -> None:
        if response.status_code >= 200 and self.bye_status is None:
            self.bye_status = response.status_code

    def _on_request(self, request: Request, link: Link) -> None:
        method = request.method
        if method == "ACK":
            if self.final is not None and 200 <= self.final < 300:
                self.acked = True
            elif self.final is not None:
                self.non_2xx_acked = True
        elif method == "CANCEL":
            self._on_cancel(request, link)
        elif method == "BYE":
            # §15.1.2: 200 to the BYE; one in the early dialog ends the INVITE too (487).
            self._respond(request, 200, "OK", None, via=link)
            if self.final is None:
                self.final = 487
                self._respond(self.invite, 487, "Request Terminated", self.to_tag)
            if self.over is None:
                self.over = "caller_bye"
        elif method == "INVITE" and request.to.tag is None:
            # §17.2.1: a retransmission is absorbed, the last response sent again.
            if not link.reliable and self.last_response is not None:
                self._send(self.last_response, "sent again for a retransmitted INVITE")
        elif method == "INVITE":
            # A re-INVITE (§14.2): the session is not changed here; the call stays up.
            refusal = Refusal(488, "Not Acceptable Here", 399, "re-INVITE is not supported")
            self._respond(
                request, 488, refusal.reason, None, (("Warning", refusal.warning()),), via=link
            )
        else:
            try:
                response = answer(
                    request, self.services.responder, to_tag=self.to_tag, source=link.peer
                )
            except SipError:
                return
            if response is not None:
                note = f"{response.status_code} {response.reason}"
                self._send(response.to_bytes(), note, via=link)

    def _on_cancel(self, request: Request, link: Link) -> None:
        if self.final is not None and 200 <= self.final < 300:
            # §9.2, §17.2.1: after a 2xx the INVITE transaction is gone: nothing to cancel.
            self._respond(request, 481, "Call/Transaction Does Not Exist", None, via=link)
            return
        # §9.2: 200 to the CANCEL with the To tag of the INVITE's responses, then 487.
        self._respond(request, 200, "OK", self.to_tag, via=link)
        if self.final is None:
            self.final = 487
            self._respond(self.invite, 487, "Request Terminated", self.to_tag)
            if self.over is None:
                self.over = "caller_cancel"

    # --- media -------------------------------------------------------------------------

    def _start_media(self, plan: InboundPlan, ours: Crypto | None) -> None:
        if self._socket is None:
            return
        identity = None
        if plan.keying == "dtls" and self.services.dtls_identity is not None:
            identity = self.services.dtls_identity()
        task = asyncio.ensure_future(verify_inbound_media(self._socket, plan, ours, identity))
        task.add_done_callback(lambda _: self.queue.put_nowait(Signal.WAKE))
        self._media_task = task

    async def _end_media(self) -> None:
        task = self._media_task
        if task is not None and not task.done():
            if self.over == "interrupted" or self.over == "connection_lost":
                task.cancel()
            else:
                # A caller that hung up early: what already arrived is still counted.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait({task}, timeout=MEDIA_SECONDS)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if task is not None and task.done() and not task.cancelled():
            failure = task.exception()
            if failure is not None:
                self.media_skipped = f"the media check failed: {type(failure).__name__}: {failure}"
            else:
                outcome = task.result()
                if isinstance(outcome, str):
                    self.media_skipped = outcome
                else:
                    self.media = outcome
        elif task is not None:
            self.media_skipped = "the call ended before media could be verified"
        elif self.config.expectation.verify_media and self.media_skipped is None:
            self.media_skipped = f"no media: the call was not answered ({self.teardown})"

    def _release(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _internal(text: str) -> Refusal:
    return Refusal(500, "Server Internal Error", 399, text)


def _join(first: str | None, second: str) -> str:
    return second if not first else f"{first}; {second}"
