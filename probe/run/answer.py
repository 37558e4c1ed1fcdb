"""`sipprobe answer`: receive a trunk's test calls and judge them.

The listener (probe.answer) collects what each call showed; this module prepares it from
the settings (refusing what cannot work before a socket is bound), verifies each INVITE's
Identity with the run's `StirVerifier` when asked, keeps the evidence (a `RunEvidence`
whose `inbound` part holds the calls), and judges it (probe.verdict.checks.inbound).

Two ways to run it:
- `answer_run`: the command on its own; a signal ends it like any run (every call up
  gets its BYE, the partial report is written, exit 128+N).
- `InboundBeside`: the listener in a thread of its own while a `check` probes and calls
  the trunk from the other side; `finish()` waits for the expected calls (or stops the
  listener when the outbound run was interrupted) and hands back the evidence.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from probe.errors import SettingsError
from probe.run.commands import UsageError, check_evidence_out, steady_heap

if TYPE_CHECKING:
    from probe.answer import AnswerConfig
    from probe.evidence.inbound import InboundEvidence, Listening
    from probe.evidence.run import RunEvidence, TrustStoreKind
    from probe.report.model import Report
    from probe.run.stir import StirVerifier
    from probe.settings import InboundSettings, Settings
    from probe.sip import Request
    from probe.stir.model import StirEvidence
    from probe.verdict.checks.policy import InboundPolicy

__all__ = [
    "InboundBeside",
    "PreparedAnswer",
    "answer_run",
    "prepare_answer",
    "receive_calls",
]

FINISH_GRACE = 30.0
"""Seconds beyond `--within` (and the last call's hold) a listener thread is given to
end its calls before `finish()` stops waiting for it."""


@dataclass(frozen=True, slots=True)
class PreparedAnswer:
    """An answer run checked before any socket: the listener's configuration, the policy
    the calls are judged with, the STIR verifier when Identity is verified."""

    config: AnswerConfig
    policy: InboundPolicy
    verifier: StirVerifier | None
    settings: Settings
    notes: tuple[str, ...] = ()


def prepare_answer(settings: Settings, usage: UsageError) -> PreparedAnswer:
    """`settings` as a listener's configuration and a policy, or a usage error (exit 2)
    that names the option: nothing is bound yet."""
    from probe.answer import AnswerConfig, AnswerConfigError, ListenerSpec
    from probe.answer.tls_accept import check_server_context
    from probe.inbound_settings import check_inbound, inbound_policy, load_peer_anchors

    if settings.inbound is None:
        usage("answer: nothing to listen on (give --listen, or a scenario with [inbound])")
    check_evidence_out(settings.run.evidence_out, usage)
    try:
        plan = check_inbound(settings)
        policy = inbound_policy(settings, anchors=load_peer_anchors(settings))
    except SettingsError as exc:
        usage(str(exc))
    verifier = None
    if plan.expectation.verify_identity:
        from probe.run.stir import StirVerifier
        from probe.settings import StirSettings

        try:
            verifier = StirVerifier(plan.stir or StirSettings(), pins=_pins(settings, usage))
        except SettingsError as exc:
            usage(str(exc))
    if plan.expectation.verify_media:
        from probe.net.media import MediaExtraMissing, require_extra

        try:
            require_extra(dtls=True)
        except MediaExtraMissing as exc:
            usage(str(exc))
    config = AnswerConfig(
        listeners=tuple(
            ListenerSpec(spec.transport, spec.address, spec.port) for spec in plan.listen
        ),
        cert_file=plan.settings.listen_cert,
        key_file=plan.settings.listen_key,
        client_ca=plan.settings.peer_ca,
        request_client_cert=_asks_for_client_cert(plan.settings),
        expectation=plan.expectation,
    )
    for option, path in (("--listen-cert", config.cert_file), ("--listen-key", config.key_file)):
        if path is not None and not path.is_file():
            usage(f"{option} {path}: no such file")
    try:
        config.check()
        if config.runs_tls:
            check_server_context(config)
    except AnswerConfigError as exc:
        usage(str(exc))
    notes = []
    if settings.tls.insecure:
        notes.append("--insecure: certificate failures of callers are warnings")
    return PreparedAnswer(config, policy, verifier, settings, tuple(notes))


def _asks_for_client_cert(inbound: InboundSettings) -> bool:
    """Mutual TLS is asked for whenever the caller's certificate is to be judged: it is
    required, names are expected of it, or anchors are given for it."""
    return bool(inbound.require_client_cert or inbound.expect_peer or inbound.peer_ca)


def _pins(settings: Settings, usage: UsageError) -> dict[tuple[str, int], str]:
    """`--resolve NAME:PORT:ADDRESS`: where an x5u host is reached without DNS."""
    from probe.locate.pins import PinError, parse_pin

    try:
        pins = [parse_pin(text) for text in settings.locate.pins]
    except PinError as exc:
        usage(str(exc))
    return {(pin.name, pin.port): pin.address for pin in pins}


def _identity_check(
    verifier: StirVerifier | None,
) -> Callable[[Request], asyncio.Future[StirEvidence]] | None:
    if verifier is None:
        return None

    async def verify(invite: Request) -> StirEvidence:
        outcome = await verifier.verify(invite.headers, request_uri=str(invite.uri))
        return outcome.evidence

    return verify  # type: ignore[return-value]


async def _listen(
    prepared: PreparedAnswer,
    stop: asyncio.Event,
    ready: Callable[[Sequence[Listening]], object] | None,
) -> InboundEvidence:
    from probe.answer import answer_calls

    return await answer_calls(
        prepared.config,
        identity=_identity_check(prepared.verifier),
        stop=stop,
        ready=ready,
    )


def _listening_text(listening: Sequence[Listening]) -> str:
    def one(item: Listening) -> str:
        where = f"[{item.address}]" if ":" in item.address else item.address
        return f"{item.transport}:{where}:{item.port}"

    return ", ".join(one(item) for item in listening)


def announce_ready(
    prepared: PreparedAnswer, say: Callable[[str], None]
) -> Callable[[Sequence[Listening]], None]:
    """The line an engineer (or a test) waits for: where to send the test calls."""
    expectation = prepared.config.expectation

    def ready(listening: Sequence[Listening]) -> None:
        calls = "1 call" if expectation.calls == 1 else f"{expectation.calls} calls"
        say(
            f"listening on {_listening_text(listening)}: waiting for {calls} "
            f"within {expectation.within_s:g} s"
        )

    return ready


def _run_evidence(
    inbound: InboundEvidence,
    started: dt.datetime,
    duration_ms: float,
    settings: Settings,
    stop_signal: int | None,
) -> RunEvidence:
    from probe.evidence.run import RunEvidence, RunSettings

    return RunEvidence(
        command="answer",
        started_at=started.isoformat(timespec="milliseconds"),
        duration_ms=duration_ms,
        settings=RunSettings(timeout_s=settings.run.timeout),
        uris=(),
        stopped=inbound.stopped,
        max_time_s=settings.run.max_time,
        stop_signal=stop_signal,
        inbound=inbound,
    )


_BIND_HINTS = {
    errno.EADDRINUSE: " (something else listens there: stop it, or pick another port)",
    errno.EADDRNOTAVAIL: " (not an address of this machine: give one of its addresses, "
    "or 0.0.0.0 / [::] for all)",
    errno.EACCES: " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
}
"""What to do about the usual reasons a listener cannot bind."""


def answer_run(
    settings: Settings,
    *,
    on_usage_error: UsageError,
    say: Callable[[str], None],
    notes: Sequence[str] = (),
) -> tuple[RunEvidence, Report]:
    """The command: listen, take the expected calls, judge them."""
    from probe.cli.signals import stop_on_signals

    prepared = prepare_answer(settings, on_usage_error)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    received: list[InboundEvidence] = []
    stop_signal: list[int] = []

    listened: list[Sequence[Listening]] = []
    announce = announce_ready(prepared, say)

    def ready(listening: Sequence[Listening]) -> None:
        listened.append(listening)
        announce(listening)

    async def main() -> None:
        stop = asyncio.Event()
        listening = asyncio.create_task(_listen(prepared, stop, ready))
        # The handlers stay in place until the listener has ended: a second signal while
        # the first one's BYEs are out exits at once (probe.cli.signals).
        with stop_on_signals() as signals:
            try:
                received.append(await asyncio.shield(listening))
                return
            except asyncio.CancelledError:
                if signals.received is None:
                    raise
                stop_signal.append(signals.received)
            # A signal: the listener ends its calls (BYE to each one up) and reports; a
            # second signal exits at once (stop_on_signals is still in place).
            stop.set()
            received.append(await listening)

    with steady_heap():
        try:
            asyncio.run(main())
        except OSError as exc:
            if listened:
                raise
            # A listener could not bind (the others were closed): nothing was received.
            hint = _BIND_HINTS.get(exc.errno or 0, "")
            on_usage_error(f"--listen {exc.strerror or exc}{hint}")
    evidence = _run_evidence(
        received[0],
        started,
        (time.perf_counter() - clock) * 1000,
        settings,
        stop_signal[0] if stop_signal else None,
    )
    return evidence, finish_answer(evidence, prepared, on_usage_error, notes)


async def receive_calls(
    settings: Settings,
    usage: UsageError,
    ready: Callable[[Sequence[Listening]], object] | None = None,
) -> tuple[RunEvidence, Report]:
    """An answer run inside the caller's event loop (the library's `probe.api.answer`):
    no signal handler, no `asyncio.run`. Cancelling it ends every call up first (BYE to
    an answered one), then the cancellation goes on."""
    prepared = prepare_answer(settings, usage)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    stop = asyncio.Event()
    listening = asyncio.ensure_future(_listen(prepared, stop, ready))
    try:
        inbound = await asyncio.shield(listening)
    except asyncio.CancelledError:
        stop.set()
        await listening
        raise
    evidence = _run_evidence(inbound, started, (time.perf_counter() - clock) * 1000, settings, None)
    return evidence, finish_answer(evidence, prepared, usage, ())


def finish_answer(
    evidence: RunEvidence, prepared: PreparedAnswer, usage: UsageError, notes: Sequence[str]
) -> Report:
    """Save the evidence when asked (first: it is worth keeping whatever the verdict),
    with the anchors the callers' chains were judged against, then judge it."""
    from probe.verdict.checks.policy import OptionsPolicy
    from probe.verdict.judging import judge_run

    anchors = prepared.policy.anchors
    path = prepared.settings.run.evidence_out
    if path is not None:
        from probe.evidence.file import write_evidence

        try:
            write_evidence(path, _with_peer_trust(evidence, prepared))
        except OSError as exc:
            usage(f"--evidence-out {path}: {exc.strerror or exc}")
    return judge_run(
        evidence,
        OptionsPolicy(tls=prepared.policy.tls, anchors=anchors),
        notes=(*prepared.notes, *notes),
        inbound=prepared.policy,
    )


def _with_peer_trust(evidence: RunEvidence, prepared: PreparedAnswer) -> RunEvidence:
    """`evidence` recording the anchors callers' chains were judged against, so `sipprobe
    judge` judges them the same way without `--peer-ca`."""
    anchors = prepared.policy.anchors
    if anchors is None:
        return evidence
    from probe.evidence.trust import record_trust

    inbound = prepared.settings.inbound
    store: TrustStoreKind = (
        "path" if inbound is not None and inbound.peer_ca is not None else "system"
    )
    record = record_trust(anchors, store, evidence)
    return replace(evidence, settings=replace(evidence.settings, trust=record))


class InboundBeside:
    """An answer run in a thread of its own, beside the outbound runs of a `check`."""

    def __init__(self, prepared: PreparedAnswer, say: Callable[[str], None]) -> None:
        self.prepared = prepared
        self._say = say
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._result: concurrent.futures.Future[InboundEvidence] = concurrent.futures.Future()
        self._started = dt.datetime.now(dt.UTC)
        self._clock = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="sipprobe-answer", daemon=True)
        self._signal: int | None = None

    @contextlib.contextmanager
    def signals_stop_listener(self) -> Iterator[None]:
        """While the outbound runs go on: a signal that arrives between their event
        loops (while a run is judged, say), where their own handlers are not in place,
        is not lost: it stops the listener (its calls get their BYE) and is the check's
        stop signal; a second one exits at once. Inside a run, the run's handlers come
        first (probe.cli.signals), and the check stops the listener once it is back."""
        from probe.cli.signals import handling_stop_signals
        from probe.report.exit_codes import EXIT_SIGNAL_BASE

        def on_signal(number: int, _frame: object) -> None:
            if self._signal is not None:
                os._exit(EXIT_SIGNAL_BASE + number)
            self._signal = number
            self.stop()

        with handling_stop_signals(on_signal):
            yield

    def start(self) -> None:
        """Bind the listeners; returns once they are ready (or failed)."""
        self._thread.start()
        self._ready.wait(timeout=FINISH_GRACE)
        if self._result.done() and self._result.exception() is not None:
            raise self._result.exception()  # type: ignore[misc]

    def _run(self) -> None:
        announce = announce_ready(self.prepared, self._say)

        def ready(listening: Sequence[Listening]) -> None:
            announce(listening)
            self._ready.set()

        async def main() -> InboundEvidence:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            return await _listen(self.prepared, self._stop, ready)

        try:
            self._result.set_result(asyncio.run(main()))
        except BaseException as exc:  # handed to the thread that waits for the result
            self._result.set_exception(exc)
        finally:
            self._ready.set()

    def stop(self) -> None:
        """End the listener now: its calls are ended, what it saw is kept."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            # RuntimeError: the loop closed in between, the listener had already ended.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def finish(self, *, interrupted_by: int | None = None) -> RunEvidence:
        """The listener's evidence once it has ended: at once after `stop()` when the
        outbound run was interrupted, else when its expected calls came or time ran out;
        a signal while waiting stops it the same way."""
        signal_number = interrupted_by if interrupted_by is not None else self._signal
        if signal_number is not None:
            self.stop()
        expectation = self.prepared.config.expectation
        patience = expectation.within_s + expectation.hold_s + FINISH_GRACE

        async def wait() -> None:
            nonlocal signal_number
            from probe.cli.signals import stop_on_signals

            # asyncio.wait, not wait_for: a signal cancels this wait, never the
            # listener's result (cancelling a wrapped future would cancel it too).
            result = asyncio.wrap_future(self._result)
            with stop_on_signals() as signals:
                try:
                    await asyncio.wait({result}, timeout=patience)
                except asyncio.CancelledError:
                    if signals.received is None:
                        raise
                    signal_number = signals.received
                if not self._result.done():
                    # Stopped by a signal (or out of patience): the listener ends its
                    # calls and reports; a second signal exits at once.
                    self.stop()
                    await asyncio.wait({result}, timeout=FINISH_GRACE)

        asyncio.run(wait())
        inbound = self._result.result(timeout=1.0)
        return _run_evidence(
            inbound,
            self._started,
            (time.perf_counter() - self._clock) * 1000,
            self.prepared.settings,
            signal_number,
        )
