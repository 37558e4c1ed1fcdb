"""One call leg: requests out, responses in, over one stream, each wait under a named
deadline, every message kept as evidence.

The far end may also send requests on the leg (RFC 3261 §12.2.2): a BYE for our call
ends the dialog from its side (§15.1.2), anything else is answered 481 or 501 here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from probe.errors import ProbeError
from probe.evidence.model import WireEvent
from probe.net.connect import StreamConnection
from probe.net.deadlines import Deadlines
from probe.net.receive import DeadlineExpired, PeerClosed, StreamReceiver, Wait
from probe.sip import Request, Response, SipError, build_response, random_token


class PeerGone(ProbeError):
    """The connection ended (closed, reset, TLS alert, unframeable bytes, a message
    that never finished); `expired` names the deadline when one did it."""

    def __init__(self, text: str, *, expired: str | None = None) -> None:
        self.expired = expired
        super().__init__(text)


class CallLeg:
    """Our side of the leg (transport, address, port), its deadlines, and the stream."""

    def __init__(
        self,
        connection: StreamConnection,
        clock_ms: Callable[[], float],
        *,
        transport: str,
        local_address: str,
        local_port: int,
        user_agent: str,
        deadlines: Deadlines,
    ) -> None:
        self.connection = connection
        self.receiver = StreamReceiver(connection, connection.framer(), message_s=deadlines.message)
        self.clock_ms = clock_ms
        self.transport = transport.upper()
        self.local_address = local_address
        self.local_port = local_port
        self.user_agent = user_agent
        self.deadlines = deadlines
        self.events: list[WireEvent] = []
        self.remote_bye = False
        self.call_id: str | None = None
        """The Call-ID of our call: only a BYE for it ends the dialog from the far side."""
        self.expired: DeadlineExpired | None = None
        """The last deadline a `receive` gave up on."""

    @property
    def timeout(self) -> float:
        """The deadline of the call's own short transactions (CANCEL, BYE) and writes."""
        return self.deadlines.transaction

    def wait(self, seconds: float, phase: str = "transaction", *, first_byte: bool = False) -> Wait:
        """A deadline `seconds` from now, named `phase`."""
        now = asyncio.get_running_loop().time()
        return Wait(now + seconds, phase, seconds, until_data=first_byte)

    async def send(self, message: Request | Response, note: str | None = None) -> None:
        wire = message.to_bytes()
        self.events.append(WireEvent(self.clock_ms(), "sent", wire, note))
        writer = self.connection.writer
        try:
            self.connection.write_message(wire)
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except TimeoutError as exc:
            self.connection.abort()
            raise PeerGone(
                f"could not send {note or 'a message'}: the server stopped reading"
            ) from exc
        except OSError as exc:  # ssl.SSLError is an OSError
            raise PeerGone(f"could not send {note or 'a message'}: {exc}") from exc

    async def receive(self, *waits: Wait) -> Response | None:
        """The next response before the first of `waits` passes; None when one does
        (`expired` then says which). A message begun and not finished within the
        `message` deadline ends the leg (PeerGone): the stream is out of step."""
        pending = list(waits)
        try:
            while True:
                message = await self.receiver.next_message(*pending)
                pending = [wait for wait in pending if not wait.until_data]
                self.events.append(
                    WireEvent(self.clock_ms(), "received", self.receiver.framer.last_frame)
                )
                if isinstance(message, Response):
                    return message
                await self._answer_request(message)
        except DeadlineExpired as exc:
            if exc.phase == "message":
                raise PeerGone(str(exc), expired=exc.phase) from None
            self.expired = exc
            return None
        except PeerClosed as exc:
            raise PeerGone(str(exc)) from None
        except SipError as exc:
            raise PeerGone(f"the server sent something that is not SIP: {exc}") from exc
        except OSError as exc:  # ssl.SSLError is an OSError
            raise PeerGone(f"the connection broke: {exc}") from exc

    async def _answer_request(self, request: Request) -> None:
        if request.method == "ACK":
            return
        if request.method == "BYE" and request.call_id == self.call_id:
            self.remote_bye = True
            response = build_response(request, 200, "OK", to_tag=None)
        elif request.method == "BYE":
            # §12.2.2: a BYE for a dialog we do not have.
            response = build_response(
                request, 481, "Call/Transaction Does Not Exist", to_tag=random_token(6)
            )
        else:
            response = build_response(request, 501, "Not Implemented", to_tag=random_token(6))
        await self.send(response, f"answer to the server's {request.method}")
