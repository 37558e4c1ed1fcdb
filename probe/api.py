"""The library API: sipprobe's probes from Python, returning the report the command line
renders.

    import asyncio
    from pathlib import Path

    import probe.api
    from probe.settings import Settings, TlsSettings

    settings = Settings(tls=TlsSettings(ca=Path("ca.pem")))
    report = asyncio.run(probe.api.options(["sips:sbc.example.com"], settings))
    print(report.verdict.value, report.exit_code())

Each call is one run, and owns everything it makes: no click, no `asyncio.run`, no signal
handler, no change to the garbage collector, nothing kept between calls. The caller owns
the event loop and the process; cancelling a call's task ends its calls on the wire
(CANCEL or BYE) before the cancellation goes on.

Settings that cannot be used raise `SettingsError` before any packet; anything the
network does is in the report, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

from probe.errors import SettingsError
from probe.settings import Settings

if TYPE_CHECKING:
    import datetime as dt

    from probe.evidence.inbound import Listening
    from probe.evidence.run import OrderMode, RunEvidence
    from probe.report.model import Report

__all__ = [
    "ProbeKind",
    "Probed",
    "answer",
    "answer_probed",
    "audit",
    "call",
    "call_probed",
    "failover",
    "failover_probed",
    "judge",
    "options",
    "options_probed",
    "run",
]

ProbeKind = Literal["options", "failover", "invite"]
"""What one probe does: OPTIONS to every target, an endpoint list's failover, a test call."""


@dataclass(frozen=True, slots=True)
class Probed:
    """One probe run: its report, and the whole evidence it was judged from (every
    target's connection, TLS handshake, chain, SIP exchanges and call), for whatever reads
    figures the report does not carry (probe.exporter.metrics)."""

    report: Report
    evidence: RunEvidence


def _refuse(message: str) -> NoReturn:
    raise SettingsError(message)


async def options(targets: Sequence[str], settings: Settings | None = None) -> Report:
    """Probe each target URI: locate it (RFC 3263), connect, judge TLS and its
    certificate, send OPTIONS; every target judged, one report."""
    return (await _options(targets, settings, keep_evidence=False)).report


async def options_probed(targets: Sequence[str], settings: Settings | None = None) -> Probed:
    """`options`, with the run's whole evidence beside its report."""
    return await _options(targets, settings, keep_evidence=True)


async def _options(
    targets: Sequence[str], settings: Settings | None, *, keep_evidence: bool
) -> Probed:
    from probe.run.commands import OptionsRequest, judge_collected, options_collection, prepare

    request = OptionsRequest(targets=tuple(targets), settings=settings or Settings())
    run = prepare(request, _refuse)
    # Without it, each target's evidence is dropped once judged (a sweep's memory follows
    # its concurrency): the report alone needs no more.
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    evidence = await options_collection(run)
    return Probed(judge_collected(evidence, run, run.notes, request, _refuse), evidence)


async def failover(
    endpoints: Sequence[str],
    settings: Settings | None = None,
    *,
    priorities: Sequence[int] = (),
    weights: Sequence[int] = (),
    order: OrderMode | None = None,
) -> Report:
    """Probe an ordered endpoint list as the provider will try it (list order, or
    priority then weight) and judge where calls land first and whether a failover path
    exists."""
    probed = await _failover(endpoints, settings, priorities, weights, order, keep_evidence=False)
    return probed.report


async def failover_probed(
    endpoints: Sequence[str],
    settings: Settings | None = None,
    *,
    priorities: Sequence[int] = (),
    weights: Sequence[int] = (),
    order: OrderMode | None = None,
) -> Probed:
    """`failover`, with the run's whole evidence beside its report."""
    return await _failover(endpoints, settings, priorities, weights, order, keep_evidence=True)


async def _failover(
    endpoints: Sequence[str],
    settings: Settings | None,
    priorities: Sequence[int],
    weights: Sequence[int],
    order: OrderMode | None,
    *,
    keep_evidence: bool,
) -> Probed:
    from probe.run.commands import (
        FailoverRequest,
        OptionsRequest,
        failover_collection,
        judge_collected,
        prepare,
    )

    common = OptionsRequest(targets=tuple(endpoints), settings=settings or Settings())
    request = FailoverRequest(common, priorities=priorities, weights=weights, order=order)
    run = prepare(common, _refuse)
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    evidence = await failover_collection(request, run, _refuse)
    return Probed(judge_collected(evidence, run, run.notes, common, _refuse), evidence)


async def call(target: str, settings: Settings) -> Report:
    """Place a test call through `target` as `settings.call` says (who is called, the
    SRTP offer, media verified or not) and judge it: the answer, the SDP, the teardown."""
    return (await _call(target, settings, keep_evidence=False)).report


async def call_probed(target: str, settings: Settings) -> Probed:
    """`call`, with the run's whole evidence beside its report."""
    return await _call(target, settings, keep_evidence=True)


async def _call(target: str, settings: Settings, *, keep_evidence: bool) -> Probed:
    from probe.run.commands import OptionsRequest, judge_collected, options_collection
    from probe.run.invite import InviteRequest, prepare_call

    if settings.call is None:
        raise SettingsError("a test call needs settings.call (at least who to call: to=...)")
    common = OptionsRequest(targets=(target,), settings=settings)
    run, probe_settings, notes = prepare_call(InviteRequest(common, settings.call), _refuse)
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    evidence = await options_collection(run, probe_settings, command="invite")
    return Probed(judge_collected(evidence, run, notes, common, _refuse), evidence)


async def answer(
    settings: Settings, *, ready: Callable[[Sequence[Listening]], object] | None = None
) -> Report:
    """Receive the test calls a trunk places, as `settings.inbound` says (where to listen,
    how many calls, within how long), and judge each: its TLS session and client
    certificate, INVITE, offer, media, teardown and, with `settings.stir`, its Identity.
    `ready(listening)` is called once every socket is bound (port 0 picks a free one)."""
    return (await answer_probed(settings, ready=ready)).report


async def answer_probed(
    settings: Settings, *, ready: Callable[[Sequence[Listening]], object] | None = None
) -> Probed:
    """`answer`, with the run's whole evidence (every call received) beside its report."""
    from probe.run.answer import receive_calls

    evidence, report = await receive_calls(settings, _refuse, ready)
    return Probed(report, evidence)


async def run(kind: ProbeKind, targets: Sequence[str], settings: Settings | None = None) -> Probed:
    """One probe of `kind`, with its evidence: `options` of every target, `failover` of
    the targets as an endpoint list in list order (`failover_probed` takes priorities
    and weights), `invite` a test call through the one target `settings.call` says."""
    if kind == "options":
        return await options_probed(targets, settings)
    if kind == "failover":
        return await failover_probed(targets, settings)
    if kind == "invite":
        if len(targets) != 1:
            raise SettingsError(f"a test call goes through one target, not {len(targets)}")
        if settings is None:
            raise SettingsError("a test call needs settings.call (at least who to call: to=...)")
        return await call_probed(targets[0], settings)
    raise SettingsError(f"probe kind {kind!r}: options, failover or invite")


def judge(
    evidence: RunEvidence | Path,
    settings: Settings | None = None,
    *,
    now: dt.datetime | None = None,
) -> Report:
    """Judge a saved run (or a saved capture audit, `sipprobe.capture/1`) again, offline,
    under `settings` (its TLS policy, accepted answers and thresholds): no socket, no DNS.
    Certificates are judged at `now`, by default when the run started; the run's own
    trust anchors unless `settings` names others."""
    from probe.run.commands import judge_saved, load_run
    from probe.run.pcap import is_capture_evidence, judge_saved_capture

    if isinstance(evidence, Path) and is_capture_evidence(evidence):
        return judge_saved_capture(evidence, _refuse, settings, now)
    if isinstance(evidence, Path):
        run = load_run(evidence, _refuse)
        return judge_saved(run, evidence, settings or Settings(), now, _refuse)
    return judge_saved(evidence, "the evidence", settings or Settings(), now, _refuse)


def audit(
    capture: Path,
    settings: Settings | None = None,
    *,
    now: dt.datetime | None = None,
    max_flows: int = 100_000,
    evidence_out: Path | None = None,
    expect_srtp: bool = False,
    srtp_keys: Path | None = None,
) -> Report:
    """Audit a packet capture (pcap or pcapng) and judge it, as `sipprobe pcap` does:
    cleartext SIP, SDES keys exposed, media RTP or SRTP (`expect_srtp`: plain RTP fails
    anywhere; `srtp_keys`: a key file to authenticate SRTP with), each TLS handshake. A TLS
    1.2 chain is judged under `settings`' TLS policy and trust anchors (the system store by
    default), at `now`, by default the moment of its handshake. Needs the `[pcap]` extra; a
    file that is no capture raises SettingsError, as an unusable setting does. Synchronous:
    it reads a file. (Not named `pcap`: probe.pcap is the package that does the work.)"""
    from probe.pcap.analysis import AuditLimits
    from probe.run.pcap import PcapRequest, audit_and_judge

    try:
        limits = AuditLimits(max_flows=max_flows)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    request = PcapRequest(
        capture,
        limits,
        evidence_out,
        settings or Settings(),
        now,
        expect_srtp=expect_srtp,
        srtp_keys=srtp_keys,
    )
    return audit_and_judge(request, _refuse)
