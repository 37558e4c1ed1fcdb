"""Command implementations behind the thin click layer: inputs → settings → run → report.

Everything a user typed is validated here before any connection is opened, so bad input
is a usage error (exit 2) with a sentence, never a half-run probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import math
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from probe.errors import SettingsError
from probe.evidence.run import Endpoint, OrderMode
from probe.locate.pins import Pin, PinError, PinTable, parse_pin
from probe.net.options import ProbeSettings, RunResources
from probe.report.model import Report
from probe.run.collect import RunControls, collect_failover_run, collect_run
from probe.run.credentials import load_credentials, load_key_password
from probe.run.locating import (
    PASSWORD_REFUSED,
    LocateSettings,
    TargetError,
    check_target_uri,
    check_uri_params,
)
from probe.settings import Settings
from probe.sip import SipError, SipUri, parse_uri
from probe.sip.uri import redact_uri_text
from probe.tls.context import TlsClientConfig, TlsConfigError, check_client_config
from probe.tls.versions import TlsVersionName
from probe.verdict.checks import OptionsPolicy, TlsPolicy
from probe.verdict.checks.options import AcceptError, PingThresholds, ThresholdError, parse_accept
from probe.verdict.checks.policy import FailoverPolicy, InboundPolicy
from probe.verdict.judging import TargetJudge, judge_run

if TYPE_CHECKING:
    from probe.evidence.file import RunEvidence
    from probe.evidence.run import RunCommand
    from probe.locate import LocateResult
    from probe.run.locating import Located
    from probe.tls.trust import TrustAnchors
    from probe.verdict.diff import Change

UsageError = Callable[[str], NoReturn]


@dataclass(frozen=True, slots=True)
class OptionsRequest:
    """A probing command's request: the targets as typed, and the settings."""

    targets: Sequence[str]
    settings: Settings = field(default_factory=Settings)
    target_notes: Sequence[str] = ()
    """What reading the targets noticed (a `--targets` line repeated, probed once)."""


@dataclass(frozen=True, slots=True)
class FailoverRequest:
    """`sipprobe failover`: an ordered endpoint list and how the provider orders it."""

    common: OptionsRequest
    priorities: Sequence[int] = ()
    weights: Sequence[int] = ()
    order: str | None = None
    extra_notes: Sequence[str] = field(default=())


def parse_targets(
    targets: Sequence[str], usage: UsageError, notes: list[str] | None = None
) -> list[tuple[str, SipUri]]:
    """Parse and check every target before any packet; a note for each unknown URI
    parameter goes to ``notes``. A password is refused and never quoted (§19.1.1)."""
    parsed = []
    for text in targets:
        shown = redact_uri_text(text)
        try:
            uri = parse_uri(text)
            if uri.password is not None:
                raise TargetError(PASSWORD_REFUSED)
            uri_notes = check_uri_params(uri, shown)
            check_target_uri(uri, shown)
        except (SipError, TargetError) as exc:
            usage(f"target {shown!r}: {exc}")
        if notes is not None:
            notes.extend(uri_notes)
        parsed.append((text, uri))
    return parsed


def load_anchors(request: OptionsRequest, usage: UsageError) -> TrustAnchors:
    """`--trust system|mozilla|PATH` (or `--ca PATH`) → trust anchors, or a usage error."""
    from probe.tls.trust import TrustStoreError, load_trust_anchors

    if request.settings.tls.ca is not None and request.settings.tls.trust is not None:
        usage("--ca and --trust name the same thing; give one")
    choice = (
        str(request.settings.tls.ca)
        if request.settings.tls.ca is not None
        else (request.settings.tls.trust or "system")
    )
    option = "--ca" if request.settings.tls.ca is not None else "--trust"
    try:
        if choice == "system":
            return load_trust_anchors("system")
        if choice == "mozilla":
            import certifi

            anchors = load_trust_anchors(Path(certifi.where()))
            return replace(anchors, source=f"Mozilla (certifi), {anchors.source}")
        return load_trust_anchors(Path(choice))
    except TrustStoreError as exc:
        usage(f"{option}: {exc}")


def could_use_tls(uris: Sequence[tuple[str, SipUri]]) -> bool:
    """Whether trust anchors may be needed: a TLS URI, or a name NAPTR may lead to TLS."""
    return any(
        uri.is_secure or (uri.transport is None and uri.port is None and uri.host_kind == "name")
        for _text, uri in uris
    )


def build_policy(request: OptionsRequest, needs_tls: bool, usage: UsageError) -> OptionsPolicy:
    try:
        accept = parse_accept(request.settings.sip.accept)
    except AcceptError as exc:
        usage(str(exc))
    if not 0 <= request.settings.tls.critical_days <= request.settings.tls.warn_days:
        usage("--critical-days must be between 0 and --warn-days")
    tls = TlsPolicy(
        min_version=request.settings.tls.min_version,
        warn_days=request.settings.tls.warn_days,
        critical_days=request.settings.tls.critical_days,
        accept_wildcards=request.settings.tls.accept_wildcard,
        accept_srv_target_identity=request.settings.tls.accept_srv_target_identity,
        insecure=request.settings.tls.insecure,
    )
    anchors = load_anchors(request, usage) if needs_tls else None
    return OptionsPolicy(
        accept=accept, tls=tls, anchors=anchors, ping=build_thresholds(request, usage)
    )


def build_thresholds(request: OptionsRequest, usage: UsageError) -> PingThresholds:
    given = {
        "loss_warn_pct": request.settings.sip.loss_warn,
        "loss_crit_pct": request.settings.sip.loss_crit,
        "rtt_warn_ms": request.settings.sip.rtt_warn,
        "rtt_crit_ms": request.settings.sip.rtt_crit,
    }
    thresholds = PingThresholds(
        **{k: v for k, v in given.items() if v is not None},
        judge_single_rtt=request.settings.sip.rtt_warn is not None
        or request.settings.sip.rtt_crit is not None,
    )
    try:
        thresholds.check()
    except ThresholdError as exc:
        usage(f"{exc}{_defaulted_crit(request, str(exc))}")
    return thresholds


def _defaulted_crit(request: OptionsRequest, problem: str) -> str:
    """When a warning is above a critical threshold the user never gave: say it is the
    default, and how to raise it (check_icmp's own `-w 200,40%` is above the loss default)."""
    for name, given in (
        ("--loss-crit", request.settings.sip.loss_crit),
        ("--rtt-crit", request.settings.sip.rtt_crit),
    ):
        if given is None and f"is above {name}" in problem:
            return f" ({name} was not given: that is its default; set it too, or use -c)"
    return ""


def check_numbers(settings: Settings, usage: UsageError) -> None:
    """Numbers a run can use: a NaN compares false with every bound (so `x <= 0` lets it
    through) and would end up in the evidence file, which JSON cannot hold."""
    sip, run = settings.sip, settings.run
    for option, value in (("--timeout", run.timeout), ("--interval", sip.interval)):
        if not 0 <= value < math.inf or (option == "--timeout" and value == 0):
            usage(f"{option} {value:g}: a number of seconds above 0")
    for option, limit in (("--rate", run.rate), ("--max-time", run.max_time)):
        if limit is not None and not 0 < limit < math.inf:
            usage(f"{option} must be a positive number")
    for option, count in (
        ("--count", sip.count),
        ("--concurrency", run.concurrency),
        ("--per-target", run.per_target),
    ):
        if count < 1:
            usage(f"{option} {count}: at least 1")


def build_settings(request: OptionsRequest, usage: UsageError) -> ProbeSettings:
    pins: list[Pin] = []
    for text in request.settings.locate.pins:
        try:
            pins.append(parse_pin(text))
        except PinError as exc:
            usage(str(exc))
    if request.settings.tls.key is not None and request.settings.tls.cert is None:
        usage("--key needs --cert")
    min_tls: TlsVersionName = request.settings.tls.min_version  # type: ignore[assignment]
    password_file = request.settings.tls.key_password_file
    if password_file is not None and request.settings.tls.cert is None:
        usage("--key-password-file is the password of a client key: it needs --cert (and --key)")
    # SIPPROBE_KEY_PASSWORD alone is read only for a client key: set for other runs, it
    # must not stop one that has none.
    password = (
        load_key_password(password_file, os.environ, usage)
        if request.settings.tls.cert is not None
        else None
    )
    tls = TlsClientConfig(
        min_version=min_tls,
        cert_file=request.settings.tls.cert,
        key_file=request.settings.tls.key,
        key_password=password,
    )
    try:
        check_client_config(tls)
    except TlsConfigError as exc:
        usage(str(exc))
    from probe.run.sending import sending_settings

    sending = sending_settings(request.settings, usage)
    deadlines = None
    if request.settings.run.deadlines:
        from probe.net.deadlines import DeadlineError, Deadlines, parse_deadline

        overrides: dict[str, float] = {}
        try:
            for text in request.settings.run.deadlines:
                phase, seconds = parse_deadline(text)
                overrides[phase] = seconds
        except DeadlineError as exc:
            usage(f"--deadline {exc}")
        deadlines = Deadlines.uniform(request.settings.run.timeout).with_overrides(overrides)
    return ProbeSettings(
        timeout=request.settings.run.timeout,
        deadlines=deadlines,
        tls=tls,
        sni=request.settings.tls.sni,
        pins=PinTable(pins),
        count=request.settings.sip.count,
        interval=request.settings.sip.interval,
        enumerate_tls=request.settings.tls.enumerate,
        keep_every_exchange=request.settings.run.evidence_out is not None,
        credentials=load_credentials(request.settings.sip.auth_file, os.environ, usage),
        **sending,
    )


def build_locate(request: OptionsRequest, usage: UsageError) -> LocateSettings:
    dns_server = None
    if request.settings.locate.dns_server is not None:
        from probe.locate import parse_dns_server

        try:
            dns_server = parse_dns_server(request.settings.locate.dns_server)
        except ValueError as exc:
            usage(f"--dns-server: {exc}")
    return LocateSettings(dns_server=dns_server, seed=request.settings.locate.seed)


def _notes(request: OptionsRequest) -> list[str]:
    notes = []
    if request.settings.tls.insecure:
        notes.append("--insecure: certificate failures are reported as warnings")
    if request.settings.locate.seed is not None:
        notes.append(f"SRV weighted order drawn with --seed {request.settings.locate.seed}")
    from probe.run.sending import sending_notes

    notes.extend(sending_notes(request.settings))
    notes.extend(request.target_notes)
    return notes


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything a probing command needs, validated before any connection is opened."""

    uris: list[tuple[str, SipUri]]
    settings: ProbeSettings
    policy: OptionsPolicy
    where: LocateSettings
    notes: list[str]
    controls: RunControls
    judge: TargetJudge
    """Judges each target as it finishes (the collection then keeps only what the
    evidence file, if any, needs)."""


def check_evidence_out(path: Path | None, usage: UsageError) -> None:
    """Refuse an evidence path that cannot be written, before the run rather than after."""
    if path is None:
        return
    if path.is_dir():
        usage(f"--evidence-out {path}: is a directory")
    if not path.parent.is_dir():
        usage(f"--evidence-out {path}: the directory {path.parent} does not exist")


def build_controls(request: OptionsRequest, usage: UsageError) -> tuple[RunControls, list[str]]:
    """Concurrency fitted to the file-descriptor limit, the start rate, the run deadline."""
    from probe.net.pacing import bound_concurrency

    bound = bound_concurrency(request.settings.run.concurrency)
    controls = RunControls(
        concurrency=bound.used,
        rate=request.settings.run.rate,
        per_target=request.settings.run.per_target,
        max_time=request.settings.run.max_time,
        keep_partial_on_cancel=True,
        follow_redirects=request.settings.sip.follow_redirects,
    )
    return controls, [bound.note] if bound.note else []


def prepare(request: OptionsRequest, usage: UsageError) -> Prepared:
    uri_notes: list[str] = []
    uris = parse_targets(request.targets, usage, uri_notes)
    check_numbers(request.settings, usage)
    check_evidence_out(request.settings.run.evidence_out, usage)
    controls, control_notes = build_controls(request, usage)
    policy = build_policy(request, could_use_tls(uris), usage)
    # The whole evidence is kept only for the file and for the redirects to follow.
    keep = request.settings.run.evidence_out is not None or request.settings.sip.follow_redirects
    settings = build_settings(request, usage)
    from probe.run.sending import check_literal_families

    check_literal_families(uris, settings.family, usage)
    return Prepared(
        uris=uris,
        settings=settings,
        policy=policy,
        where=build_locate(request, usage),
        notes=[*_notes(request), *control_notes, *uri_notes],
        controls=controls,
        judge=TargetJudge(policy, keep_evidence=keep),
    )


def prepare_targets(template: Prepared, request: OptionsRequest, usage: UsageError) -> Prepared:
    """A run of `request`'s targets prepared as `template` was: `template` is `prepare`'s
    work for a request with the same settings (and other targets), so only the targets
    are read and checked again, and the trust anchors, the pins, the TLS client settings
    and the policy are the template's, not loaded again. The exporter prepares each
    module once per configuration load and each scrape's run from it."""
    uri_notes: list[str] = []
    uris = parse_targets(request.targets, usage, uri_notes)
    policy = template.policy
    if policy.anchors is None and could_use_tls(uris):
        policy = replace(policy, anchors=load_anchors(request, usage))
    return replace(
        template,
        uris=uris,
        policy=policy,
        notes=[*template.notes, *uri_notes],
        judge=TargetJudge(policy, keep_evidence=template.judge.keep_evidence),
    )


def judge_collected(
    evidence: RunEvidence,
    run: Prepared,
    notes: Sequence[str],
    request: OptionsRequest,
    usage: UsageError,
) -> Report:
    """Save the evidence when asked (first: it is worth keeping whatever the verdict),
    then judge it (the targets judged as they finished are taken as judged)."""
    if request.settings.run.evidence_out is not None:
        from probe.evidence.file import write_evidence
        from probe.run.trust import with_trust_record

        try:
            recorded = with_trust_record(evidence, run.policy.anchors, request)
            write_evidence(request.settings.run.evidence_out, recorded)
        except OSError as exc:
            usage(f"--evidence-out {request.settings.run.evidence_out}: {exc.strerror or exc}")
    return judge_run(evidence, run.policy, notes=notes, judged=run.judge.results)


def finish(
    evidence: RunEvidence,
    run: Prepared,
    notes: Sequence[str],
    request: OptionsRequest,
    usage: UsageError,
) -> Report:
    """`judge_collected` for a command: the heap held steady while a sweep is judged."""
    with steady_heap():
        return judge_collected(evidence, run, notes, request, usage)


def _collect(run: Coroutine[Any, Any, RunEvidence]) -> RunEvidence:
    """Run a collection, with a progress display on stderr when it is a terminal."""
    from probe.cli.signals import SignalStop, StoppedBySignal, stop_on_signals
    from probe.run.progress import progress_display

    collected: list[RunEvidence] = []
    stop = SignalStop()

    async def main() -> None:
        # The evidence is handed over beside the task, not as its result: when asyncio.run
        # restores the SIGINT handler, CPython 3.11 formats the repr of the old one, which
        # holds the main task and so its result, and a sweep's whole evidence as text
        # costs as much memory as the sweep itself.
        nonlocal stop
        # SIGINT, SIGTERM and SIGHUP alike cancel the run, which ends its calls and keeps
        # what it found (RunControls.keep_partial_on_cancel); a second one exits at once.
        with stop_on_signals() as stop:
            collected.append(await run)

    with steady_heap(), progress_display():
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            if stop.received is None:
                raise
            raise StoppedBySignal(stop.received) from None
    evidence = collected[0]
    if stop.received is not None:
        # Also when the collection had ended as the signal came (its last target done,
        # nothing left for the cancellation to cut short): the evidence is whole, but the
        # command stops there rather than going on to what would follow (a `check`'s test
        # call, its wait for the trunk's calls).
        evidence = replace(evidence, stop_signal=stop.received)
    return evidence


@contextlib.contextmanager
def steady_heap() -> Iterator[None]:
    """Everything alive before a run (modules, the trust store, the settings) lives
    through it: frozen, the garbage collector stops rescanning it while the evidence of
    thousands of targets grows, and fewer young collections run. Restored afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def collect_with_controls(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    run: Prepared,
    *,
    command: RunCommand = "options",
    before_probing: Callable[[Sequence[Located]], Awaitable[None]] | None = None,
) -> RunEvidence:
    return _collect(
        collect_run(
            uris,
            settings,
            where=run.where,
            command=command,
            controls=run.controls,
            judge=run.judge,
            before_probing=before_probing,
        )
    )


def options_collection(
    run: Prepared,
    settings: ProbeSettings | None = None,
    *,
    command: RunCommand = "options",
    resources: RunResources | None = None,
) -> Coroutine[Any, Any, RunEvidence]:
    """The collection of a prepared run (its own probe settings unless `settings`;
    `resources` when the caller keeps them beyond the run, probe.net.options)."""
    return collect_run(
        run.uris,
        settings if settings is not None else run.settings,
        where=run.where,
        command=command,
        controls=run.controls,
        judge=run.judge,
        resources=resources,
    )


def run_options_command(request: OptionsRequest, *, on_usage_error: UsageError) -> Report:
    return options_run(request, on_usage_error=on_usage_error)[1]


def options_run(
    request: OptionsRequest, *, on_usage_error: UsageError, keep_evidence: bool = False
) -> tuple[RunEvidence, Report]:
    """An options run's evidence and its report (`keep_evidence` as `failover_run`'s)."""
    run = prepare(request, on_usage_error)
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    evidence = collect_with_controls(run.uris, run.settings, run)
    return evidence, finish(evidence, run, run.notes, request, on_usage_error)


def build_endpoints(
    request: FailoverRequest, uris: Sequence[tuple[str, SipUri]], usage: UsageError
) -> tuple[list[tuple[Endpoint, SipUri]], OrderMode]:
    count = len(uris)
    for option, values in (("--priority", request.priorities), ("--weight", request.weights)):
        if values and len(values) != count:
            usage(f"{option} given {len(values)} times for {count} endpoints: one per endpoint")
    if request.weights and not request.priorities:
        usage("--weight needs --priority (weights share traffic within a priority)")
    mode = request.order or ("priority" if request.priorities else "list")
    if mode == "priority" and not request.priorities:
        usage("--order priority needs --priority for every endpoint")
    endpoints = [
        (
            Endpoint(
                uri=text,
                host=uri.host,
                position=position,
                priority=request.priorities[position] if request.priorities else None,
                weight=request.weights[position] if request.weights else None,
            ),
            uri,
        )
        for position, (text, uri) in enumerate(uris)
    ]
    return endpoints, mode  # type: ignore[return-value]


def failover_collection(
    request: FailoverRequest,
    run: Prepared,
    usage: UsageError,
    *,
    resources: RunResources | None = None,
) -> Coroutine[Any, Any, RunEvidence]:
    """The collection of a failover run: every endpoint in the provider's order."""
    endpoints, mode = build_endpoints(request, run.uris, usage)
    return collect_failover_run(
        endpoints,
        run.settings,
        FailoverPolicy(mode=mode),
        where=run.where,
        controls=run.controls,
        judge=run.judge,
        resources=resources,
    )


def run_failover_command(request: FailoverRequest, *, on_usage_error: UsageError) -> Report:
    return failover_run(request, on_usage_error=on_usage_error)[1]


def failover_run(
    request: FailoverRequest, *, on_usage_error: UsageError, keep_evidence: bool = False
) -> tuple[RunEvidence, Report]:
    """A failover run's evidence and its report. `keep_evidence`: every target's whole
    evidence stays in it (for rules that read it afterwards), not only its target."""
    run = prepare(request.common, on_usage_error)
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    evidence = _collect(failover_collection(request, run, on_usage_error))
    notes = [*run.notes, *request.extra_notes]
    return evidence, finish(evidence, run, notes, request.common, on_usage_error)


def run_resolve_command(
    request: OptionsRequest, *, on_usage_error: UsageError
) -> list[LocateResult]:
    from probe.run.locating import locate_all

    uris = parse_targets(request.targets, on_usage_error)
    check_numbers(request.settings, on_usage_error)
    settings = build_settings(request, on_usage_error)
    where = build_locate(request, on_usage_error)
    located = asyncio.run(locate_all(uris, settings, where))
    return [entry.result for entry in located]


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """`sipprobe judge`: saved evidence and the policy to judge it against."""

    evidence: Path
    settings: Settings = field(default_factory=Settings)
    """Only the judging settings count (TLS policy, accepted codes, thresholds)."""
    now: str | None = None
    """ISO 8601 instant to judge certificates at (default: when the run started)."""
    scenario: str | None = None
    """`--scenario FILE|builtin:NAME`: judge under the scenario's policy, then apply its
    expectations and its provider's rules (probe.run.check)."""
    given: frozenset[str] = frozenset()
    """With a scenario: the settings (`Settings.flat` names) given on the command line,
    which replace the scenario's; the others in `settings` are defaults, not choices."""


def load_run(path: Path, usage: UsageError) -> RunEvidence:
    from probe.evidence.file import EvidenceError, load_evidence

    try:
        return load_evidence(path)
    except EvidenceError as exc:
        usage(str(exc))


def parse_instant(text: str, usage: UsageError) -> dt.datetime:
    """`--now`: an ISO 8601 date and time; without an offset it is taken as UTC."""
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        usage(f"--now {text!r}: not an ISO 8601 date and time (e.g. 2027-01-31T12:00:00Z)")
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def run_judge_command(request: JudgeRequest, *, on_usage_error: UsageError) -> Report:
    """Judge saved evidence again, offline: no socket, no DNS; only the policy is new."""
    return judge_runs(request, on_usage_error=on_usage_error)[1]


def judge_runs(
    request: JudgeRequest, *, on_usage_error: UsageError
) -> tuple[tuple[RunEvidence, ...], Report]:
    """`run_judge_command`, with the saved runs it judged (with a scenario, the test
    call's beside the failover run's when it was saved; none for a capture audit)."""
    from probe.run.pcap import is_capture_evidence, judge_saved_capture

    if is_capture_evidence(request.evidence):
        if request.scenario is not None:
            on_usage_error(f"--scenario: {request.evidence} is a capture audit, not a run")
        return (), judge_saved_capture(
            request.evidence, on_usage_error, request.settings, request.now
        )
    if request.scenario is not None:
        from probe.run.check import judge_scenario_runs

        return judge_scenario_runs(request, on_usage_error=on_usage_error)
    run = load_run(request.evidence, on_usage_error)
    report = judge_saved(run, request.evidence, request.settings, request.now, on_usage_error)
    return (run,), report


def judge_saved(
    run: RunEvidence,
    path: Path | str,
    settings: Settings,
    now: str | dt.datetime | None,
    usage: UsageError,
    *,
    inbound: InboundPolicy | None = None,
) -> Report:
    """The report of a saved run (read from `path`, or named so) under `settings`'
    policy, its chains judged with the anchors it recorded unless `settings` names others,
    and at `now` (ISO 8601 text as typed, or an instant) when given. The calls an answer
    run received are judged under `inbound`, else under `settings`' inbound section (a
    scenario's `[inbound]`, `--expect-peer`...), else the inbound policy's defaults; the
    caller's client certificates against `--peer-ca` when given, else the anchors the
    run recorded."""
    as_options = OptionsRequest(targets=(), settings=settings)
    from probe.run.trust import anchors_for

    policy = build_policy(as_options, False, usage)
    anchors, trust_notes = anchors_for(run, as_options, usage, name=str(path))
    policy = replace(policy, anchors=anchors)
    when = f"collected {run.started_at}"
    if now is not None:
        policy = policy.at(parse_instant(now, usage) if isinstance(now, str) else now)
        assert policy.now is not None
        when += f", certificates judged at {policy.now.isoformat(timespec='seconds')}"
    notes = [f"judged again from {path} ({when})", *trust_notes, *_notes(as_options)]
    if run.inbound is not None:
        inbound = _saved_inbound_policy(settings, policy, inbound, usage)
        run, stir_notes = _stir_again(run, settings, usage)
        notes += stir_notes
    # A saved run that was interrupted is judged like any other: the exit code says how
    # judging went, not that the recording once was cut short (its note says so).
    return replace(judge_run(run, policy, notes=notes, inbound=inbound), interrupted=False)


def _stir_again(
    run: RunEvidence, settings: Settings, usage: UsageError
) -> tuple[RunEvidence, list[str]]:
    """A saved answer run whose calls' Identity is verified again when a STIR policy is
    given (`--sti-*`, a scenario's `[inbound.stir]`); else the run as saved, with a note
    that its STIR findings are the ones reached when the calls came."""
    assert run.inbound is not None
    if settings.stir is None:
        if any(call.stir is not None for call in run.inbound.calls):
            return run, [
                "STIR/SHAKEN findings as verified when the calls arrived (--sti-trust with "
                "--sti-min-attest, --sti-freshness or --sti-optional verifies them again)"
            ]
        return run, []
    from probe.run.stir import verify_saved_calls

    try:
        inbound, notes = verify_saved_calls(run.inbound, settings.stir)
    except SettingsError as exc:
        usage(str(exc))
    return replace(run, inbound=inbound), notes


def _saved_inbound_policy(
    settings: Settings, policy: OptionsPolicy, given: InboundPolicy | None, usage: UsageError
) -> InboundPolicy:
    """What a saved run's received calls are judged against (`judge_saved`)."""
    from probe.inbound_settings import InboundSettingsError, inbound_policy, load_peer_anchors

    anchors = policy.anchors
    if settings.inbound is not None and settings.inbound.peer_ca is not None:
        try:
            anchors = load_peer_anchors(settings)
        except InboundSettingsError as exc:
            usage(str(exc))
    chosen = given if given is not None else inbound_policy(settings)
    return replace(chosen, tls=policy.tls, anchors=anchors, now=policy.now)


def run_diff_command(before: Path, after: Path, *, on_usage_error: UsageError) -> list[Change]:
    """Compare two evidence files, each judged with the default policy and the trust
    anchors its run used (the system store for a file that does not record them)."""
    from probe.run.trust import anchors_for
    from probe.verdict.diff import diff_runs

    old, new = load_run(before, on_usage_error), load_run(after, on_usage_error)
    policies = [
        OptionsPolicy(anchors=anchors_for(run, OptionsRequest(targets=()), on_usage_error)[0])
        for run in (old, new)
    ]
    return diff_runs(old, new, policies[0], after_policy=policies[1])
