"""`answer_calls`: listen, take the calls a trunk places, and record everything.

Listeners over TLS, TCP, UDP, and SIP over WebSocket (WSS, WS). A TLS connection's
handshake is run and recorded here (probe.answer.tls_accept), whatever its outcome, and
so is a WebSocket's upgrade (probe.answer.websocket_accept). Every SIP message is framed
(streams: probe.sip.StreamFramer; UDP: one message per datagram, RFC 3261 §18.3; a
WebSocket: one per WebSocket message, RFC 7118 §5.1) and handed to
the call it belongs to, by transaction or dialog, whichever connection it came on; a new
INVITE starts a call (probe.answer.call). Out-of-dialog OPTIONS are answered 200
(§11.2) and CRLF keep-alive pings ponged (RFC 5626 §4.4.1), as the embedded responder
does.

The run ends once the expected number of calls have arrived and all of them have ended,
when `within_s` runs out, or at once when `stop` is set. Calls still up are then ended
(BYE, or 486 to one still ringing), connections closed, sockets released; every wait on
the way has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

from probe.answer.call import (
    BYE_SECONDS,
    NON_2XX_ACK_SECONDS,
    CallServices,
    IdentityCheck,
    InboundCallRunner,
)
from probe.answer.config import AnswerConfig, ListenerSpec
from probe.answer.link import DatagramLink, Link, StreamLink, media_address, where
from probe.answer.tls_accept import HANDSHAKE_SECONDS, accept_tls, check_server_context
from probe.answer.websocket_accept import WebSocketCallerLink, accept_upgrade, read_websocket
from probe.evidence.inbound import (
    InboundCall,
    InboundConnection,
    InboundEvidence,
    InboundTls,
    InboundTransport,
    Listening,
)
from probe.evidence.model import TLS_TRANSPORTS, WEBSOCKET_TRANSPORTS, WebSocketUpgrade
from probe.serve.offer_answer import Refusal
from probe.serve.uas import answer
from probe.sip import (
    Message,
    Request,
    Response,
    SipError,
    StreamFramer,
    build_response,
    parse_message,
    random_token,
)

if TYPE_CHECKING:
    from probe.net.dtls import DtlsIdentity

__all__ = ["ReadyCallback", "answer_calls"]

ReadyCallback = Callable[[tuple[Listening, ...]], object]

READ_SIZE = 65536
IDLE_SECONDS = 300.0
"""A connection silent this long is closed (its calls with it)."""
MAX_CALLS = 64
"""Calls one run takes; each holds a media socket. Beyond it: 503."""
END_GRACE = BYE_SECONDS + NON_2XX_ACK_SECONDS + 2.0
"""How long calls still up when the run ends get to finish (their BYE is bounded)."""
CLOSE_GRACE = 2.0
_PONG = b"\r\n"  # RFC 5626 §4.4.1: the answer to a CRLF CRLF ping


def _address(value: object) -> tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return "?", 0


@dataclass
class _Connection:
    """What a connection (or a UDP source) did, while it may still carry a call."""

    transport: InboundTransport
    peer: str
    at_ms: float
    tls: InboundTls | None = None
    error: str | None = None
    requests: list[str] = field(default_factory=list)
    carried_call: bool = False
    websocket: WebSocketUpgrade | None = None

    def evidence(self) -> InboundConnection:
        return InboundConnection(
            transport=self.transport,
            peer=self.peer,
            at_ms=self.at_ms,
            tls=self.tls,
            error=self.error,
            requests=tuple(self.requests),
            websocket=self.websocket,
        )


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, run: _AnswerRun, spec: ListenerSpec) -> None:
        self.run = run
        self.spec = spec
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.links: dict[tuple[str, int], DatagramLink] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Selector datagram transports do not subclass DatagramTransport on 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.transport is None or not data.strip():
            return  # an empty or whitespace datagram: a keep-alive, nothing to answer
        peer = (str(addr[0]), int(addr[1]))
        record = self.run.udp_record(peer)
        try:
            message = parse_message(data)
        except SipError as exc:
            # §18.3: a malformed datagram is discarded; the first one is recorded.
            if record.error is None:
                record.error = f"sent a datagram that is not SIP: {exc}"
            return
        link = self.links.get(peer)
        if link is None:
            local = (media_address(self.spec.host, peer), self.port)
            link = self.links[peer] = DatagramLink(self.transport, peer, local)
        self.run.dispatch(message, data, link, record)

    def error_received(self, exc: Exception) -> None:
        return  # an ICMP error for something we sent: the call's own deadlines cope


class _AnswerRun:
    def __init__(self, config: AnswerConfig, identity: IdentityCheck | None) -> None:
        self.config = config
        self.ready_at = time.monotonic()
        self.services = CallServices(config, self.clock_ms, identity, self._dtls_identity)
        self.listening: list[Listening] = []
        self.servers: list[asyncio.Server] = []
        self.datagrams: list[asyncio.DatagramTransport] = []
        self.connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.websockets: dict[asyncio.Task[None], WebSocketCallerLink] = {}
        self.runners: list[InboundCallRunner] = []
        self.call_tasks: list[asyncio.Task[InboundCall]] = []
        self.records: list[_Connection] = []
        self.udp_records: dict[tuple[str, int], _Connection] = {}
        self.changed = asyncio.Event()
        self.stopped: Literal["interrupted"] | None = None
        self.waited_ms = 0.0
        self.closing = False
        self._dtls: DtlsIdentity | None = None

    def clock_ms(self) -> float:
        return (time.monotonic() - self.ready_at) * 1000

    def _dtls_identity(self) -> DtlsIdentity:
        """One DTLS certificate for the run, made when the first DTLS offer needs it."""
        if self._dtls is None:
            from probe.net.dtls import new_dtls_identity

            self._dtls = new_dtls_identity()
        return self._dtls

    # --- listening ---------------------------------------------------------------------

    async def bind(self) -> None:
        for spec in self.config.listeners:
            try:
                await self._bind_one(spec)
            except OSError as exc:
                # asyncio's text names a bare (address, port) tuple; the engineer reads
                # which --listen could not be had, and why in the system's own words.
                why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                host = f"[{spec.host}]" if ":" in spec.host else spec.host
                raise OSError(exc.errno, f"{spec.transport}:{host}:{spec.port}: {why}") from exc

    async def _bind_one(self, spec: ListenerSpec) -> None:
        loop = asyncio.get_running_loop()
        if spec.transport == "udp":
            protocol = _UdpListener(self, spec)
            datagram, _ = await loop.create_datagram_endpoint(
                lambda protocol=protocol: protocol,  # type: ignore[misc]
                local_addr=(spec.host, spec.port),
            )
            self.datagrams.append(datagram)
            sockname = datagram.get_extra_info("sockname")
            protocol.port = int(sockname[1])
        else:
            server = await asyncio.start_server(
                functools.partial(self._serve_stream, spec.transport),
                spec.host,
                spec.port,
            )
            self.servers.append(server)
            sockname = server.sockets[0].getsockname()
        self.listening.append(Listening(spec.transport, str(sockname[0]), int(sockname[1])))

    async def wait(self, stop: asyncio.Event | None) -> None:
        """Until the expected calls arrived and ended, `within_s` ran out, or `stop`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.expectation.within_s
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            while not self._complete():
                if stop is not None and stop.is_set():
                    self.stopped = "interrupted"
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self.changed.clear()
                changed = asyncio.ensure_future(self.changed.wait())
                waiters: set[asyncio.Future[Literal[True]]] = {changed}
                if stopping is not None:
                    waiters.add(stopping)
                try:
                    await asyncio.wait(
                        waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    changed.cancel()
        finally:
            if stopping is not None:
                stopping.cancel()
            self.waited_ms = self.clock_ms()

    def _complete(self) -> bool:
        expected = self.config.expectation.calls
        return len(self.runners) >= expected and all(task.done() for task in self.call_tasks)

    async def close(self) -> None:
        """End every call still up, then close every connection and listener."""
        self.closing = True
        for server in self.servers:
            server.close()
        running = [task for task in self.call_tasks if not task.done()]
        for runner in self.runners:
            if not runner.ended:
                runner.stop()
        if running:
            await asyncio.wait(running, timeout=END_GRACE)
        for task in running:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # Each connection is closed (TLS with its close_notify; a WebSocket starts its
        # closing handshake, RFC 6455 §7.1.2, and its handler closes TCP once the caller's
        # Close comes), so its handler reads EOF and ends with its clean-up; aborting,
        # then cancelling, are only the fallbacks.
        for handler, writer in list(self.connections.items()):
            websocket = self.websockets.get(handler)
            if websocket is not None:
                websocket.start_close()
            else:
                writer.close()
        if self.connections:
            await asyncio.wait(list(self.connections), timeout=CLOSE_GRACE)
        for writer in list(self.connections.values()):
            writer.transport.abort()
        if self.connections:
            await asyncio.wait(list(self.connections), timeout=CLOSE_GRACE)
        for handler in list(self.connections):
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await handler
        for datagram in self.datagrams:
            datagram.close()
        for server in self.servers:
            with contextlib.suppress(TimeoutError, Exception):
                async with asyncio.timeout(CLOSE_GRACE):
                    await server.wait_closed()

    def evidence(self) -> InboundEvidence:
        calls = []
        for runner, task in zip(self.runners, self.call_tasks, strict=True):
            if task.done() and not task.cancelled() and task.exception() is None:
                calls.append(task.result())
            else:
                calls.append(runner.evidence())
        records = [r for r in (*self.records, *self.udp_records.values()) if not r.carried_call]
        records.sort(key=lambda record: record.at_ms)
        return InboundEvidence(
            listening=tuple(self.listening),
            expectation=self.config.expectation,
            calls=tuple(calls),
            connections=tuple(record.evidence() for record in records),
            waited_ms=self.waited_ms,
            stopped=self.stopped,
        )

    # --- messages ----------------------------------------------------------------------

    def udp_record(self, peer: tuple[str, int]) -> _Connection:
        record = self.udp_records.get(peer)
        if record is None:
            record = self.udp_records[peer] = _Connection("udp", where(peer), self.clock_ms())
        return record

    def dispatch(self, message: Message, raw: bytes, link: Link, record: _Connection) -> None:
        """Hand a message to its call, start a call, or answer it statelessly."""
        if isinstance(message, Response):
            runner = next((r for r in self.runners if r.owns_response(message)), None)
            if runner is not None and not runner.ended:
                runner.deliver(message, raw, link)
            return
        request = message
        try:
            to_tag = request.to.tag
        except SipError:
            return
        method = request.method
        for runner in self.runners:
            owned = runner.owns_dialog(request) if to_tag is not None else False
            if not owned and to_tag is None and method in ("INVITE", "CANCEL"):
                owned = runner.owns_transaction(request)
            if owned:
                if not runner.ended:
                    record.carried_call = True
                    runner.deliver(request, raw, link)
                elif method not in ("ACK", "INVITE"):
                    self._stateless(request, link, 481, "Call/Transaction Does Not Exist")
                return
        if method == "INVITE" and to_tag is None:
            self._new_call(request, raw, link, record)
        elif method == "ACK":
            return  # §17.1.1.3: never answered
        elif to_tag is not None or method in ("CANCEL", "BYE"):
            # §12.2.2, §9.2: no such dialog or transaction here.
            self._stateless(request, link, 481, "Call/Transaction Does Not Exist")
        else:
            record.requests.append(method)
            try:
                response = answer(
                    request, self.services.responder, to_tag=random_token(6), source=link.peer
                )
            except SipError:
                return
            if response is not None:
                link.send(response.to_bytes())

    def _stateless(
        self,
        request: Request,
        link: Link,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        try:
            response = build_response(
                request,
                status,
                reason,
                to_tag=random_token(6),
                source=link.peer,
                extra_headers=(*headers, ("Server", self.config.server_header)),
            )
        except SipError:
            return
        link.send(response.to_bytes())

    def _new_call(self, request: Request, raw: bytes, link: Link, record: _Connection) -> None:
        if self.closing or len(self.runners) >= MAX_CALLS:
            why = "the answer run is ending" if self.closing else f"at most {MAX_CALLS} calls"
            refusal = Refusal(503, "Service Unavailable", 399, why)
            self._stateless(request, link, 503, refusal.reason, (("Warning", refusal.warning()),))
            return
        record.carried_call = True
        runner = InboundCallRunner(len(self.runners) + 1, request, raw, link, self.services)
        self.runners.append(runner)
        task = asyncio.ensure_future(runner.run())
        task.add_done_callback(lambda _: self.changed.set())
        self.call_tasks.append(task)
        self.changed.set()

    # --- stream connections ------------------------------------------------------------

    async def _serve_stream(
        self,
        transport: InboundTransport,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections[task] = writer
        peer = _address(writer.get_extra_info("peername"))
        local = _address(writer.get_extra_info("sockname"))
        record = _Connection(transport, where(peer), self.clock_ms())
        self.records.append(record)
        link: StreamLink | None = None
        try:
            tls = None
            if transport in TLS_TRANSPORTS:
                tls = await accept_tls(writer, self.config)
                record.tls = tls
                if tls.error is not None:
                    record.error = tls.error
                    return
            if transport in WEBSOCKET_TRANSPORTS:
                upgraded = await accept_upgrade(
                    reader, writer, server_header=self.config.server_header
                )
                record.websocket = upgraded.evidence
                if upgraded.ws is None:
                    record.error = upgraded.evidence.error
                    return
                link = self.websockets[task] = WebSocketCallerLink(
                    transport, writer, peer, local, tls, upgraded
                )
                deliver = functools.partial(self.dispatch, link=link, record=record)
                record.error = await read_websocket(link, reader, deliver, idle_s=IDLE_SECONDS)
            else:
                link = StreamLink(transport, writer, peer, local, tls)
                await self._read(link, reader, writer, record)
            if not record.requests and not record.carried_call and record.error is None:
                record.error = "the connection closed before any SIP request"
        except (OSError, TimeoutError) as exc:
            record.error = record.error or f"the connection failed: {exc}"
        except Exception as exc:  # recorded: one connection's fault ends no run
            record.error = record.error or f"{type(exc).__name__}: {exc}"
        finally:
            if link is not None:
                link.lose()
                for runner in self.runners:
                    runner.connection_lost(link)
            writer.close()
            # Python 3.11.2's SSL transport can fail its own close after a refused
            # handshake (AttributeError inside asyncio): the connection is gone anyway.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_GRACE):
                    await writer.wait_closed()
            self.connections.pop(task, None)
            self.websockets.pop(task, None)

    async def _read(
        self,
        link: StreamLink,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: _Connection,
    ) -> None:
        framer = StreamFramer()
        pongs = 0
        while True:
            async with asyncio.timeout(IDLE_SECONDS):
                data = await reader.read(READ_SIZE)
            if not data:
                return
            try:
                framer.feed(data)
                while True:
                    message = framer.next_message()
                    # The pings skipped on the way to this message came before it: each
                    # is answered with one CRLF, in stream order (RFC 5626 §4.4.1).
                    if framer.pings > pongs:
                        link.send(_PONG * (framer.pings - pongs))
                        pongs = framer.pings
                    if message is None:
                        break
                    self.dispatch(message, framer.last_frame, link, record)
            except SipError as exc:
                record.error = f"sent something that is not SIP: {exc}"
                return
            async with asyncio.timeout(HANDSHAKE_SECONDS):
                await writer.drain()


async def answer_calls(
    config: AnswerConfig,
    *,
    identity: IdentityCheck | None = None,
    stop: asyncio.Event | None = None,
    ready: ReadyCallback | None = None,
) -> InboundEvidence:
    """Listen as `config` says, take the calls that arrive, and return what was seen.

    `identity` is awaited for each INVITE before our final answer; its StirEvidence goes
    on the call. `ready(listening)` is called once every socket is bound. Setting `stop`
    ends the run at once (calls up get BYE, ringing ones 486; `stopped` says so).
    Raises AnswerConfigError (nothing bound) or OSError (a listener could not bind)."""
    config.check()
    if config.runs_tls:
        check_server_context(config)
    run = _AnswerRun(config, identity)
    try:
        await run.bind()
        run.ready_at = time.monotonic()
        if ready is not None:
            ready(tuple(run.listening))
        await run.wait(stop)
    finally:
        await run.close()
    return run.evidence()
