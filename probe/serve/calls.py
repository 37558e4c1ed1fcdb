"""The responder's calls on one stream connection: the UAS side of INVITE (RFC 3261 §13.3),
its server transaction over a reliable transport (§17.2.1), CANCEL (§9.2), BYE (§15.1.2)
and requests inside a dialog (§12.2.2).

An INVITE is answered 100 Trying, then 180 Ringing (the To tag and Contact that make an
early dialog, §12.1.1), then, after `answer_delay`, 200 OK with the SDP answer; or it is
refused (400, 415, 420, 488) right after the 100.  Each answered call holds one UDP socket,
the port its answer names, until the dialog ends.  Everything a call holds (its socket,
its timer) is released when the call ends, when the connection closes and on `close()`.
No task is started here: the delayed answer and the 2xx retransmissions are loop timers.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from probe.sdp import SdpError
from probe.serve.offer_answer import Refusal, build_answer, plan_answer, read_offer
from probe.serve.uas import (
    ALLOW,
    ResponderConfig,
    accepts_sdp,
    answer,
    common_headers,
    unsupported_required,
)
from probe.sip import Request, Response, SipError, build_response, random_token

__all__ = ["CallTable", "DialogKey"]

DialogKey = tuple[str, str, str]
"""(Call-ID, local tag, remote tag): a dialog's id as the UAS sees it (§12)."""

# §17.1.1.1 timer defaults; §13.3.1.4 retransmits a 2xx on these until the ACK comes,
# over every transport (the 2xx is retransmitted end to end, not by the transaction).
T1 = 0.5
T2 = 4.0


@dataclass(eq=False)
class _Call:
    """One INVITE: ringing (an early dialog) until `final` is set, then a dialog."""

    invite: Request
    key: DialogKey
    branch: str | None
    media: socket.socket
    answer_sdp: bytes
    final: int | None = None
    acked: bool = False
    ok: Response | None = None
    timer: asyncio.TimerHandle | None = None
    interval: float = 0.0
    give_up_at: float = 0.0

    def release(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.media.close()


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


MAX_CALLS_PER_CONNECTION = 16
"""Each call holds a UDP media socket: a bound on them per client connection."""


class CallTable:
    """The INVITEs and dialogs of one connection; `receive` answers every request."""

    def __init__(
        self,
        config: ResponderConfig,
        *,
        transport: str,
        local: tuple[str, int],
        send: Callable[[Response], None],
        source: tuple[str, int] | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.send = send
        self.source = source
        # c= and Contact name the listen address; a wildcard one names the address the
        # client actually reached.
        unspecified = config.host in ("", "0.0.0.0", "::")
        self.address = local[0] if unspecified else config.host
        self.contact = f"<sip:responder@{_uri_host(self.address)}:{local[1]};transport={transport}>"
        self.calls: dict[DialogKey, _Call] = {}
        self.to_tag = random_token(6)
        """The To tag of stateless answers (OPTIONS, 501) on this connection."""

    @property
    def open_dialogs(self) -> int:
        """Calls held: ringing (an early dialog) or answered and not yet ended."""
        return len(self.calls)

    # --- dispatch ------------------------------------------------------------------------

    def receive(self, request: Request) -> None:
        try:
            in_dialog = request.to.tag is not None
            if request.method == "ACK":
                self._ack(request)
            elif request.method == "CANCEL":
                self._cancel(request)
            elif in_dialog:
                self._in_dialog(request)
            elif request.method == "INVITE":
                self._invite(request)
            elif request.method == "BYE":
                self._respond(request, 481, "Call/Transaction Does Not Exist", random_token(6))
            else:
                response = answer(request, self.config, to_tag=self.to_tag, source=self.source)
                if response is not None:
                    self.send(response)
        except SipError:
            # The framer parsed the request, so this is a header value our builders refuse
            # to echo; a request we cannot answer properly is dropped (§8.2 gives no
            # response that could carry it back).
            return

    def close(self) -> None:
        """Forget every call: timers cancelled, media sockets closed."""
        for call in self.calls.values():
            call.release()
        self.calls.clear()

    # --- helpers -------------------------------------------------------------------------

    def _respond(
        self,
        request: Request,
        status: int,
        reason: str,
        to_tag: str | None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> Response:
        response = build_response(
            request,
            status,
            reason,
            to_tag=to_tag,
            source=self.source,
            extra_headers=(*headers, *common_headers(self.config)),
            body=body,
            content_type="application/sdp" if body else None,
        )
        self.send(response)
        return response

    def _dialog_headers(self, request: Request) -> tuple[tuple[str, str], ...]:
        """§12.1.1: a response that makes a dialog carries Contact and the request's
        Record-Route values, in order."""
        routes = tuple(("Record-Route", value) for value in request.headers.get_all("Record-Route"))
        return (*routes, ("Contact", self.contact), ("Allow", ALLOW))

    def _end(self, call: _Call) -> None:
        call.release()
        self.calls.pop(call.key, None)

    def _refuse(self, request: Request, refusal: Refusal, to_tag: str) -> None:
        headers: tuple[tuple[str, str], ...] = (("Warning", refusal.warning()),)
        if refusal.status == 415:
            headers += (("Accept", "application/sdp"),)  # §21.4.13
        self._respond(request, refusal.status, refusal.reason, to_tag, headers)

    # --- INVITE --------------------------------------------------------------------------

    def _invite(self, request: Request) -> None:
        branch = request.top_via.branch
        if any(c.key[0] == request.call_id and c.branch == branch for c in self.calls.values()):
            return  # §17.2.1: a retransmission, absorbed by the server transaction
        to_tag = random_token(6)
        # §17.2.1: 100 Trying at once, so the client stops waiting for the transaction.
        self._respond(request, 100, "Trying", None)
        unsupported = unsupported_required(request)
        if unsupported is not None:
            # §8.2.2.3: we support no extension, so every required one is unsupported.
            self._respond(request, 420, "Bad Extension", to_tag, (("Unsupported", unsupported),))
            return
        if not accepts_sdp(request):
            # §8.2.3 / §21.4.7: the answer would be an SDP body the Accept rules out.
            self._respond(request, 406, "Not Acceptable", to_tag, (("Accept", "application/sdp"),))
            return
        offer = read_offer(request)
        if isinstance(offer, Refusal):
            self._refuse(request, offer, to_tag)
            return
        plan = plan_answer(offer, self.config.media)
        if isinstance(plan, Refusal):
            self._refuse(request, plan, to_tag)
            return
        if len(self.calls) >= MAX_CALLS_PER_CONNECTION:
            # A test peer, not a PBX: a client piling up calls gets told to back off.
            self._refuse(
                request,
                Refusal(486, "Busy Here", 399, f"at most {MAX_CALLS_PER_CONNECTION} calls"),
                to_tag,
            )
            return
        try:
            media = self._bind_media()
        except OSError as exc:
            self._refuse(request, Refusal(500, "Server Internal Error", 399, str(exc)), to_tag)
            return
        try:
            sdp = build_answer(
                offer,
                plan,
                address=self.address,
                port=int(media.getsockname()[1]),
                session_id=secrets.randbits(31),
                random_bytes=secrets.token_bytes,
            )
        except SdpError as exc:  # e.g. a listen address SDP cannot carry
            media.close()
            self._refuse(request, Refusal(500, "Server Internal Error", 399, str(exc)), to_tag)
            return
        call = _Call(
            invite=request,
            key=(request.call_id, to_tag, request.from_.tag or ""),
            branch=branch,
            media=media,
            answer_sdp=sdp.to_bytes(reveal_keys=True),
        )
        self.calls[call.key] = call
        self._respond(request, 180, "Ringing", to_tag, self._dialog_headers(request))
        if self.config.answer_delay > 0:
            loop = asyncio.get_running_loop()
            call.timer = loop.call_later(self.config.answer_delay, self._answer, call)
        else:
            self._answer(call)

    def _bind_media(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        media = socket.socket(family, socket.SOCK_DGRAM)
        try:
            media.setblocking(False)
            media.bind((self.address, 0))
        except OSError:
            media.close()
            raise
        return media

    def _answer(self, call: _Call) -> None:
        """§13.3.1.4: the 2xx with the answer, retransmitted until the ACK arrives."""
        call.timer = None
        if call.final is not None or call.key not in self.calls:
            return
        call.final = 200
        call.ok = self._respond(
            call.invite,
            200,
            "OK",
            call.key[1],
            self._dialog_headers(call.invite),
            call.answer_sdp,
        )
        loop = asyncio.get_running_loop()
        call.interval, call.give_up_at = T1, loop.time() + 64 * T1
        call.timer = loop.call_later(call.interval, self._retransmit, call)

    def _retransmit(self, call: _Call) -> None:
        call.timer = None
        if call.acked or call.ok is None or call.key not in self.calls:
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= call.give_up_at:
            # §13.3.1.4: no ACK within 64*T1; the dialog is over for us (a full UA would
            # also send BYE; a lab responder just lets go).
            self._end(call)
            return
        self.send(call.ok)
        call.interval = min(call.interval * 2, T2)  # §13.3.1.4: doubling, capped at T2
        call.timer = loop.call_later(call.interval, self._retransmit, call)

    # --- ACK, CANCEL, in-dialog requests -------------------------------------------------

    def _key(self, request: Request) -> DialogKey:
        return (request.call_id, request.to.tag or "", request.from_.tag or "")

    def _ack(self, request: Request) -> None:
        """Never answered (§17.1.1.3).  The ACK for our 2xx confirms the dialog and stops
        the retransmissions; the ACK for a non-2xx (487, 488...) is simply absorbed."""
        call = self.calls.get(self._key(request))
        if call is not None and call.final == 200 and not call.acked:
            call.acked = True
            if call.timer is not None:
                call.timer.cancel()
                call.timer = None

    def _cancel(self, request: Request) -> None:
        """§9.2: a CANCEL matching a ringing INVITE gets 200, and the INVITE 487."""
        branch = request.top_via.branch
        call = next(
            (
                c
                for c in self.calls.values()
                if c.key[0] == request.call_id
                and c.branch == branch
                and c.key[2] == (request.from_.tag or "")
            ),
            None,
        )
        if call is None or call.final is not None:
            # No INVITE transaction to cancel: over a reliable transport the one answered
            # 2xx is already gone (§17.2.1), and an unknown one never existed.
            self._respond(request, 481, "Call/Transaction Does Not Exist", random_token(6))
            return
        # §9.2: the 200 to the CANCEL carries the To tag of the INVITE's responses.
        self._respond(request, 200, "OK", call.key[1])
        self._terminate(call)

    def _terminate(self, call: _Call) -> None:
        """487 Request Terminated to a ringing INVITE (§9.2, §15.1.2), and forget it."""
        call.final = 487
        self._respond(call.invite, 487, "Request Terminated", call.key[1])
        self._end(call)

    def _in_dialog(self, request: Request) -> None:
        call = self.calls.get(self._key(request))
        if call is None:
            # §12.2.2: a request inside a dialog we do not have.
            self._respond(request, 481, "Call/Transaction Does Not Exist", None)
            return
        if request.method == "BYE":
            # §15.1.2: 200 to the BYE; a BYE in an early dialog also ends the INVITE (487).
            self._respond(request, 200, "OK", None)
            if call.final is None:
                self._terminate(call)
            else:
                self._end(call)
            return
        if request.method == "INVITE":
            # A re-INVITE (§14.2): the session cannot be changed here; the call stays up.
            refusal = Refusal(488, "Not Acceptable Here", 399, "re-INVITE is not supported")
            self._refuse(request, refusal, call.key[1])
            return
        response = answer(request, self.config, to_tag=call.key[1], source=self.source)
        if response is not None:
            self.send(response)
