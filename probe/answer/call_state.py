"""What one inbound call holds and records: its INVITE, its dialog's identifiers, what
it sent and received, how it ended; how the listener reaches it (matching a message to
the call, delivering it, stopping the call); and the InboundCall it becomes.

probe.answer.call runs the call over this state.
"""

from __future__ import annotations

import asyncio
import enum
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from probe.answer.config import AnswerConfig
from probe.answer.link import Link, where
from probe.evidence.inbound import InboundCall, InboundTeardown
from probe.evidence.model import MediaEvidence, WireEvent
from probe.serve.uas import ResponderConfig
from probe.sip import Message, Request, Response, SipError, build_response, random_token
from probe.stir.model import StirEvidence

if TYPE_CHECKING:
    from probe.net.dtls import DtlsIdentity

__all__ = ["CallServices", "CallState", "IdentityCheck", "Over", "Retransmit", "Signal"]

IdentityCheck = Callable[[Request], Awaitable[StirEvidence]]

Over = Literal["caller_cancel", "caller_bye", "connection_lost", "interrupted"]
"""What ended the call's current phase before its time."""


class Signal(enum.Enum):
    """What the listener (or a finished task) puts on a call's queue besides messages."""

    STOP = "stop"
    LOST = "lost"
    WAKE = "wake"


@dataclass
class CallServices:
    """What an answer run lends each call."""

    config: AnswerConfig
    clock_ms: Callable[[], float]
    identity: IdentityCheck | None = None
    dtls_identity: Callable[[], DtlsIdentity] | None = None
    responder: ResponderConfig = field(init=False)

    def __post_init__(self) -> None:
        self.responder = ResponderConfig(server_header=self.config.server_header)


@dataclass
class Retransmit:
    """A message sent again until something stops it: T1, doubling, capped at T2."""

    data: bytes
    due: float
    interval: float
    cap: float
    note: str

    def next(self, now: float) -> None:
        self.interval = min(self.interval * 2, self.cap)
        self.due = now + self.interval


class CallState:
    def __init__(
        self, number: int, invite: Request, raw: bytes, link: Link, services: CallServices
    ) -> None:
        self.number = number
        self.invite = invite
        self.raw = raw
        self.link = link
        self.services = services
        self.config = services.config
        self.at_ms = services.clock_ms()
        self.events: list[WireEvent] = [WireEvent(self.at_ms, "received", raw, "INVITE")]
        self.queue: asyncio.Queue[tuple[Message, Link] | Signal] = asyncio.Queue()
        self.to_tag = random_token(6)
        self.branch = invite.top_via.branch
        self.from_tag = invite.from_.tag
        self.last_response: bytes | None = None
        self.final: int | None = None
        self.refusal: str | None = None
        self.acked = False
        self.non_2xx_acked = False
        self.over: Over | None = None
        self.teardown: InboundTeardown = "failed"
        self.detail: str | None = None
        self.bye: Request | None = None
        self.bye_status: int | None = None
        self.answer_sdp: bytes | None = None
        self.media: MediaEvidence | None = None
        self.media_skipped: str | None = None
        self.stir: StirEvidence | None = None
        self.error: str | None = None
        self.interrupted = False
        self.ended = False
        self._socket: socket.socket | None = None
        self._media_task: asyncio.Task[MediaEvidence | str] | None = None
        self._started = time.monotonic()
        self._elapsed_ms: float | None = None

    # --- what the listener calls -------------------------------------------------------

    def owns_transaction(self, request: Request) -> bool:
        """The INVITE's own transaction: its retransmissions, its CANCEL (§9.2)."""
        try:
            return request.call_id == self.invite.call_id and request.top_via.branch == self.branch
        except SipError:
            return False

    def owns_dialog(self, request: Request) -> bool:
        """A request inside the dialog (§12.2.2): Call-ID, our To tag, its From tag."""
        try:
            return (
                request.call_id == self.invite.call_id
                and request.to.tag == self.to_tag
                and request.from_.tag == self.from_tag
            )
        except SipError:
            return False

    def owns_response(self, response: Response) -> bool:
        """A response to our BYE."""
        if self.bye is None:
            return False
        try:
            return (
                response.call_id == self.invite.call_id
                and response.top_via.branch == self.bye.top_via.branch
            )
        except SipError:
            return False

    def deliver(self, message: Message, raw: bytes, link: Link) -> None:
        self.events.append(WireEvent(self.services.clock_ms(), "received", raw, _note(message)))
        self.queue.put_nowait((message, link))

    def stop(self) -> None:
        """The run is ending: end the call now (BYE if answered, 486 if not)."""
        self.queue.put_nowait(Signal.STOP)

    def connection_lost(self, link: Link) -> None:
        if link is self.link:
            self.queue.put_nowait(Signal.LOST)

    # --- sending -----------------------------------------------------------------------

    def _respond(
        self,
        request: Request,
        status: int,
        reason: str,
        to_tag: str | None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        *,
        via: Link | None = None,
    ) -> bytes | None:
        link = via or self.link
        try:
            response = build_response(
                request,
                status,
                reason,
                to_tag=to_tag,
                source=link.peer,
                extra_headers=(*headers, ("Server", self.config.server_header)),
                body=body,
                content_type="application/sdp" if body else None,
            )
        except SipError as exc:
            self.error = f"the {status} response could not be built: {exc}"
            return None
        data = response.to_bytes()
        if request is self.invite:
            self.last_response = data
        self._send(data, f"{status} {reason}", via=link)
        return data

    def _send(self, data: bytes, note: str | None, *, via: Link | None = None) -> None:
        link = via or self.link
        if link.send(data):
            self.events.append(WireEvent(self.services.clock_ms(), "sent", data, note))

    # --- evidence ----------------------------------------------------------------------

    @property
    def dialogs_left_open(self) -> int:
        """1 when the caller may still hold a dialog of this call, else 0."""
        if self.final is None:
            # Never answered: the caller still waits, unless its connection is gone (a
            # transport error ends its INVITE transaction, §17.1.4).
            return 0 if self.over == "connection_lost" else 1
        if not 200 <= self.final < 300:
            return 0
        if self.over == "caller_bye":
            return 0
        # §15.1.1: any final answer to our BYE but a challenge means it was processed.
        return 0 if self.bye_status is not None and self.bye_status not in (401, 407) else 1

    def evidence(self) -> InboundCall:
        return InboundCall(
            number=self.number,
            transport=self.link.transport,
            peer=where(self.link.peer),
            local=where(self.link.local),
            at_ms=self.at_ms,
            invite=self.raw,
            tls=self.link.tls,
            websocket=self.link.websocket,
            events=tuple(self.events),
            answer=self.answer_sdp,
            final_status=self.final,
            refusal=self.refusal,
            acked=self.acked,
            teardown=self.teardown if self.ended else "failed",
            teardown_detail=self.detail if self.ended else "the call was still running",
            bye_status=self.bye_status,
            dialogs_left_open=self.dialogs_left_open,
            media=self.media,
            media_skipped=self.media_skipped,
            stir=self.stir,
            interrupted=self.interrupted,
            error=self.error,
            elapsed_ms=self._elapsed_ms,
        )


def _note(message: Message) -> str:
    if isinstance(message, Response):
        return f"{message.status_code} {message.reason}"
    return message.method
