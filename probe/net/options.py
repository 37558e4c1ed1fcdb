"""Collecting the evidence of an OPTIONS probe: resolve, connect, TLS, OPTIONS × count.

This is the only place that decides the order of the phases. Every phase has its own
deadline; a failed phase ends the probe with evidence that names it. Whatever happens, the
connection is closed before this returns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from probe import __version__
from probe.evidence.model import (
    DEFAULT_PORTS,
    TLS_TRANSPORTS,
    WEBSOCKET_TRANSPORTS,
    AuthEvidence,
    CallEvidence,
    ConnectEvidence,
    ExchangeOutcome,
    KeepaliveEvidence,
    PingEnd,
    ProbeEvidence,
    SipExchange,
    Target,
    TlsEvidence,
    WebSocketUpgrade,
)
from probe.evidence.ping import PingCounter
from probe.locate.pins import Pin
from probe.locate.plan import AddressFamily
from probe.net.auth import CHALLENGE_HEADERS, options_with_credentials
from probe.net.connect import (
    StreamConnection,
    bound_socket,
    classify_connect_error,
    open_tcp,
    start_tls,
)
from probe.net.deadlines import Deadlines
from probe.net.exchange import (
    Clock,
    DatagramEndpoint,
    exchange_over_datagram,
    exchange_over_stream,
)
from probe.net.interrupted import CallInterrupted, ProbeInterrupted
from probe.run import progress
from probe.sip import (
    Request,
    SipUri,
    TimerConfig,
    build_options,
    new_branch,
    random_token,
)
from probe.tls.context import CaptureContexts, TlsClientConfig

if TYPE_CHECKING:
    from probe.net.call import CallSettings
    from probe.net.trace import Trace
    from probe.sip.digest import DigestCredentials

USER_AGENT = f"sipprobe/{__version__}"

# After these, the connection cannot carry the remaining probes of a --count run.
_CONNECTION_LOST: frozenset[ExchangeOutcome] = frozenset(
    {"closed", "reset", "malformed", "tls_alert", "send_failed", "refused"}
)


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How to probe: deadlines, TLS client options, pins, repetition."""

    timeout: float = 5.0
    """Deadline of each phase (lookup, connect, handshake, each transaction), seconds."""
    tls: TlsClientConfig = field(default_factory=TlsClientConfig)
    sni: str | None = None
    """Server name to send instead of the URI host."""
    pins: Sequence[Pin] = ()
    count: int = 1
    interval: float = 1.0
    timers: TimerConfig = field(default_factory=TimerConfig)
    user_agent: str = USER_AGENT
    enumerate_tls: bool = False
    """Also ask, one handshake each, which TLS versions and 1.2 suites are accepted."""
    call: CallSettings | None = None
    """Place a test call instead of sending OPTIONS (`sipprobe invite`)."""
    deadlines: Deadlines | None = None
    """Per-phase deadlines; None means `timeout` for every phase."""
    keep_every_exchange: bool = False
    """Keep every exchange of a `--count` run (for `--evidence-out`), not a bounded sample."""
    credentials: DigestCredentials | None = field(default=None, repr=False)
    """Answer a digest challenge to OPTIONS (RFC 3261 §22) with these."""
    keepalive: bool = False
    """After the OPTIONS, send a keep-alive ping and wait for its pong (probe.net.keepalive)."""
    ws_path: str = "/"
    """The resource the WebSocket upgrade asks for (RFC 6455 §3)."""
    from_uri: SipUri | None = None
    """The From URI of each OPTIONS (default: sipprobe at the local address)."""
    contact_uri: SipUri | None = None
    """The Contact URI of each OPTIONS (default: sipprobe at the local address and port)."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Header fields added to each OPTIONS, checked (probe.sip.additions)."""
    family: AddressFamily | None = None
    """`ipv4` or `ipv6`: only that family is located and connected to (`-4`, `-6`)."""
    source: tuple[str, int] | None = None
    """The local address and port (0: any) every socket is bound to (`--source`)."""
    trace: Trace | None = None
    """`--trace`: the run's trace, which every connection writes its messages to."""

    @property
    def phases(self) -> Deadlines:
        """The deadline of each phase (`deadlines`, or `timeout` for all)."""
        return self.deadlines if self.deadlines is not None else Deadlines.uniform(self.timeout)


class ProbeSoFar:
    """What a probe has collected so far: a run cut short while the probe was in flight
    (`--max-time`, a signal) keeps its connection, TLS and answers rather than nothing."""

    def __init__(self) -> None:
        self.evidence: ProbeEvidence | None = None
        self.counter: PingCounter | None = None
        self.auth: AuthEvidence | None = None
        """The first digest challenge to OPTIONS, and what came of it."""

    def snapshot(self, stopped: PingEnd) -> ProbeEvidence | None:
        """The evidence so far, the probes never sent said to be `stopped`."""
        if self.evidence is None or self.counter is None:
            return self.evidence
        return _with_exchanges(self.evidence, self.counter, stopped, self.auth)


def _with_exchanges(
    evidence: ProbeEvidence,
    counter: PingCounter,
    stopped: PingEnd | None = None,
    auth: AuthEvidence | None = None,
) -> ProbeEvidence:
    tally = counter.tally(stopped) if counter.count > 1 else None
    return replace(evidence, exchanges=counter.exchanges(), ping=tally, auth=auth)


ConnectionKeeper = Callable[[ProbeEvidence, StreamConnection], bool]
"""Offered a stream connection whose probe is done (OPTIONS sent, TLS if any), with the
probe's evidence: True when it takes the connection, which the probe then leaves open
for it; False and the probe closes it as usual."""


class RunResources:
    """What the probes of one run share, made by the run and dropped with it: the TLS
    capture contexts of each client configuration. Creating an OpenSSL context costs
    about as much CPU as the rest of a probe's client side, so a run makes one per
    concurrent handshake, not one per target (probe.tls.context.CaptureContexts).

    An owner that outlives one run (the exporter, for one module while its configuration
    is loaded) may make them and hand them to each run; `keeping` gives a run the same
    contexts and a `keep` hook that is offered every connection once its probe is done
    (RFC 5923's connection reuse: the exporter's later scrapes send OPTIONS over it)."""

    def __init__(self) -> None:
        self._contexts: dict[TlsClientConfig, CaptureContexts] = {}
        self.keep: ConnectionKeeper | None = None

    def keeping(self, keep: ConnectionKeeper) -> RunResources:
        """These resources for one run whose finished connections `keep` is offered."""
        resources = RunResources()
        resources._contexts = self._contexts
        resources.keep = keep
        return resources

    def capture_contexts(self, config: TlsClientConfig) -> CaptureContexts:
        contexts = self._contexts.get(config)
        if contexts is None:
            contexts = self._contexts[config] = CaptureContexts(config)
        return contexts


async def collect_options(
    uri: SipUri,
    target: Target,
    settings: ProbeSettings,
    so_far: ProbeSoFar | None = None,
    *,
    resources: RunResources | None = None,
) -> ProbeEvidence:
    """Probe one target and return what was seen; never raises for network trouble.
    `so_far`, when given, holds the evidence as it grows, for a caller that may cancel;
    `resources` are the run's, shared with its other probes (else this probe's own)."""
    loop = asyncio.get_running_loop()
    origin = loop.time()

    def clock_ms() -> float:
        return (loop.time() - origin) * 1000

    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    if target.address is None:
        raise ValueError("collect_options needs a located target (probe.locate)")
    address = target.address
    # RFC 6066 §3: SNI carries host names only, never IP literals.
    evidence = ProbeEvidence(
        target=replace(target, sni=settings.sni or target.name),
        started_at=started_at,
        timeout_s=settings.timeout,
        method="OPTIONS" if settings.call is None else "INVITE",
    )
    target = evidence.target
    if settings.keepalive and settings.call is None:
        from probe.net.keepalive import asked_for

        # Asked for from the start: a probe that ends before its ping (a failed connect, a
        # signal) says so rather than leaving no trace of it.
        evidence = replace(evidence, keepalive=asked_for(target.transport))
    so_far = so_far if so_far is not None else ProbeSoFar()
    so_far.evidence = evidence
    if target.transport == "udp":
        return await _probe_udp(uri, evidence, settings, clock_ms, so_far)
    resources = resources if resources is not None else RunResources()
    evidence = await _probe_stream(uri, evidence, settings, clock_ms, so_far, resources)
    connected = evidence.connect is not None and evidence.connect.ok
    if settings.enumerate_tls and target.transport in TLS_TRANSPORTS and connected:
        from probe.net.enumerate import enumerate_tls

        # Each enumerated version is one more connect and handshake.
        phases = settings.phases
        enumeration = await enumerate_tls(
            address,
            target.port,
            target.sni,
            timeout=max(phases.connect, phases.handshake),
            # One handshake after another: the source address, any port.
            source=None if settings.source is None else (settings.source[0], 0),
        )
        evidence = replace(evidence, enumeration=enumeration)
    return evidence


async def _probe_stream(
    uri: SipUri,
    evidence: ProbeEvidence,
    settings: ProbeSettings,
    clock_ms: Clock,
    so_far: ProbeSoFar,
    resources: RunResources,
) -> ProbeEvidence:
    target = evidence.target
    assert target.address is not None
    connection, connected = await open_tcp(
        target.address, target.port, timeout=settings.phases.connect, source=settings.source
    )
    if connection is None:
        return replace(evidence, connect=connected)
    if settings.trace is not None:
        connection.trace = settings.trace.on(target.label)
    so_far.evidence = replace(evidence, connect=connected)
    try:
        reached = await _over_connection(
            uri, target, settings, connection, connected, clock_ms, so_far, resources
        )
    except asyncio.CancelledError as stop:
        # The run is being stopped: the call (if any) was ended on the way out; what this
        # probe saw goes up with the cancellation, for the partial report.
        task = asyncio.current_task()
        if task is not None:
            # Answered by the ProbeInterrupted below. Until then the close's own deadline
            # must read as a deadline: Python 3.11.2's asyncio.timeout turns an expiry in
            # a task with a cancellation pending into a CancelledError.
            task.uncancel()
        try:
            clean = await connection.close()
        except asyncio.CancelledError:  # cancelled again: the connection is let go as is
            connection.abort()
            clean = False
        call = stop.evidence if isinstance(stop, CallInterrupted) else None
        partial = so_far.evidence or replace(evidence, connect=connected)
        so_far.evidence = replace(partial, call=call, closed_cleanly=clean)
        raise ProbeInterrupted(so_far.snapshot("interrupted") or so_far.evidence) from None
    except BaseException:
        await connection.close()
        raise
    # A connection is kept for later probes (the exporter's reuse mode) only when it is
    # plain TLS or TCP that worked: a call's or a WebSocket's is closed as always.
    if (
        resources.keep is not None
        and reached.call is None
        and reached.websocket is None
        and (reached.tls is None or reached.tls.ok)
    ):
        kept = replace(
            evidence,
            connect=connected,
            tls=reached.tls,
            keepalive=reached.keepalive or evidence.keepalive,
        )
        if reached.counter is not None:
            kept = _with_exchanges(kept, reached.counter, auth=so_far.auth)
        if resources.keep(kept, connection):
            return kept  # the keeper owns the connection from here on
    clean = await connection.close()
    # One copy of the evidence per probe, however many phases it went through.
    evidence = replace(
        evidence,
        connect=connected,
        tls=reached.tls,
        websocket=reached.websocket,
        call=reached.call,
        closed_cleanly=clean,
        keepalive=reached.keepalive or evidence.keepalive,
    )
    if reached.counter is None:
        return evidence
    return _with_exchanges(evidence, reached.counter, auth=so_far.auth)


@dataclass(frozen=True, slots=True)
class _Reached:
    """What a probe got to over its connection."""

    tls: TlsEvidence | None = None
    websocket: WebSocketUpgrade | None = None
    call: CallEvidence | None = None
    counter: PingCounter | None = None
    keepalive: KeepaliveEvidence | None = None


async def options_over(
    uri: SipUri,
    evidence: ProbeEvidence,
    connection: StreamConnection,
    settings: ProbeSettings,
) -> ProbeEvidence:
    """`settings.count` OPTIONS to `uri` over a connection an earlier probe opened and
    kept (`RunResources.keeping`), whose evidence (`evidence`: the target, the TCP connect,
    the TLS handshake and chain) this probe's shares; its own are the exchanges. RFC 5923
    §2: requests to the same target reuse the connection; the server must not see a new
    UAC, so the Via still names the connection's own local address and port (§18.1.1)."""
    loop = asyncio.get_running_loop()
    origin = loop.time()

    def clock_ms() -> float:
        return (loop.time() - origin) * 1000

    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    connected = evidence.connect
    if connected is None or not connected.ok:
        raise ValueError("options_over needs the evidence of a connection that was made")
    framer = connection.framer()

    async def send(request: Request) -> SipExchange:
        return await exchange_over_stream(
            connection, framer, request, deadlines=settings.phases, clock_ms=clock_ms
        )

    so_far = ProbeSoFar()
    counter = await _repeat_options(uri, evidence.target, connected, settings, send, so_far)
    return _with_exchanges(replace(evidence, started_at=started_at), counter, auth=so_far.auth)


async def _over_connection(
    uri: SipUri,
    target: Target,
    settings: ProbeSettings,
    connection: StreamConnection,
    connected: ConnectEvidence,
    clock_ms: Clock,
    so_far: ProbeSoFar,
    resources: RunResources,
) -> _Reached:
    """TLS if the target wants it, the WebSocket upgrade if it is one, then the test call
    or the OPTIONS probes: the evidence of each, and the count of the exchanges (what is
    known so far also lands in `so_far`)."""
    tls = None
    if target.transport in TLS_TRANSPORTS:
        tls = await start_tls(
            connection,
            resources.capture_contexts(settings.tls),
            sni=target.sni,
            timeout=settings.phases.handshake,
        )
        if so_far.evidence is not None:
            so_far.evidence = replace(so_far.evidence, tls=tls)
        if not tls.ok:
            return _Reached(tls)
    websocket = None
    if target.transport in WEBSOCKET_TRANSPORTS:
        from probe.net.websocket import host_header, upgrade

        websocket = await upgrade(
            connection,
            host=host_header(target.host, target.port, DEFAULT_PORTS[target.transport]),
            resource=settings.ws_path,
            user_agent=settings.user_agent,
            timeout=settings.phases.handshake,
        )
        if so_far.evidence is not None:
            so_far.evidence = replace(so_far.evidence, websocket=websocket)
        if not websocket.ok:
            return _Reached(tls, websocket)
    if settings.call is not None:
        from probe.net.call import place_call

        call = await place_call(
            connection,
            transport=target.transport,
            local_address=connected.local_address or "0.0.0.0",
            local_port=connected.local_port or 0,
            settings=settings.call,
            deadlines=settings.phases,
            user_agent=settings.user_agent,
            clock_ms=clock_ms,
            timers=settings.timers,
        )
        return _Reached(tls, websocket, call)
    framer = connection.framer()

    async def send(request: Request) -> SipExchange:
        return await exchange_over_stream(
            connection, framer, request, deadlines=settings.phases, clock_ms=clock_ms
        )

    counter = await _repeat_options(uri, target, connected, settings, send, so_far)
    if not settings.keepalive:
        return _Reached(tls, websocket, None, counter)
    from probe.net.keepalive import after_options

    keepalive = await after_options(
        connection,
        framer,
        lost=counter.ended == "connection_lost",
        deadline=settings.phases.pong,
        clock_ms=clock_ms,
    )
    return _Reached(tls, websocket, None, counter, keepalive)


async def _probe_udp(
    uri: SipUri,
    evidence: ProbeEvidence,
    settings: ProbeSettings,
    clock_ms: Clock,
    so_far: ProbeSoFar,
) -> ProbeEvidence:
    target = evidence.target
    assert target.address is not None
    if settings.call is not None:
        return replace(evidence, call=_udp_call_refused(settings.call))
    loop = asyncio.get_running_loop()
    started = loop.time()
    family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
    try:
        if settings.source is None:
            transport, endpoint = await loop.create_datagram_endpoint(
                DatagramEndpoint, remote_addr=(target.address, target.port), family=family
            )
        else:
            sock = bound_socket(settings.source, socket.SOCK_DGRAM)
            try:
                sock.connect((target.address, target.port))
                transport, endpoint = await loop.create_datagram_endpoint(
                    DatagramEndpoint, sock=sock
                )
            except BaseException:
                sock.close()
                raise
    except OSError as exc:
        kind, message = classify_connect_error(exc)
        failed = ConnectEvidence(ok=False, error_kind=kind, error=message)  # type: ignore[arg-type]
        return replace(evidence, connect=failed)
    sockname = transport.get_extra_info("sockname")
    connected = ConnectEvidence(
        ok=True,
        elapsed_ms=(loop.time() - started) * 1000,
        local_address=str(sockname[0]),
        local_port=int(sockname[1]),
    )

    async def send(request: Request) -> SipExchange:
        return await exchange_over_datagram(
            endpoint,
            request,
            deadlines=settings.phases,
            timers=settings.timers,
            clock_ms=clock_ms,
            trace=trace,
        )

    trace = None if settings.trace is None else settings.trace.on(target.label)
    so_far.evidence = replace(evidence, connect=connected)
    try:
        counter = await _repeat_options(uri, target, connected, settings, send, so_far)
    finally:
        transport.close()
    return _with_exchanges(replace(evidence, connect=connected), counter, auth=so_far.auth)


def _udp_call_refused(call: CallSettings) -> CallEvidence:
    return CallEvidence(
        offer_kind=call.offer_kind,
        offer=b"",
        teardown="not_sent",
        teardown_detail="test calls run over TLS or TCP; transport=udp is not supported for INVITE",
    )


async def _repeat_options(
    uri: SipUri,
    target: Target,
    connected: ConnectEvidence,
    settings: ProbeSettings,
    send: Callable[[Request], Awaitable[SipExchange]],
    so_far: ProbeSoFar,
) -> PingCounter:
    """Send `settings.count` OPTIONS, one at a time, `settings.interval` apart; the count
    of what came of them.

    One Call-ID and From tag for the run, CSeq counting up, a fresh branch each time
    (RFC 3261 §8.1.1.4, §8.1.1.7): to the server these are successive requests of one UAC.
    A probe the server challenges (401/407) is sent once more with credentials when there
    are some (probe.net.auth), and that request's answer is the probe's; the first
    challenge is kept in `so_far.auth`.
    """
    loop = asyncio.get_running_loop()
    call_id, from_tag = random_token(), random_token(6)
    counter = PingCounter(settings.count, keep_all=settings.keep_every_exchange)
    so_far.counter = counter
    cseq = 0
    for number in range(1, settings.count + 1):
        began = loop.time()
        cseq += 1
        request = build_options(
            uri,
            transport=target.transport.upper(),
            local_host=connected.local_address or "0.0.0.0",
            local_port=connected.local_port or 0,
            branch=new_branch(random_token()),
            from_tag=from_tag,
            call_id=call_id,
            cseq=cseq,
            user_agent=settings.user_agent,
            from_uri=settings.from_uri,
            extra_headers=settings.extra_headers,
            contact_uri=settings.contact_uri,
        )
        exchange = await send(request)
        if exchange.final_status in CHALLENGE_HEADERS:
            exchange, auth = await options_with_credentials(
                request,
                exchange,
                send,
                settings.credentials,
                new_token=random_token,
                cseq=cseq + 1,
            )
            cseq += 1 if auth is not None and auth.answered_with is not None else 0
            so_far.auth = so_far.auth or auth
        counter.add(exchange)
        progress.replied(exchange, number, target.endpoint)
        if exchange.outcome in _CONNECTION_LOST:
            counter.connection_lost(exchange)
            break
        if number < settings.count:
            await asyncio.sleep(max(0.0, settings.interval - (loop.time() - began)))
    return counter
