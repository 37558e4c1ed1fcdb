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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from probe.errors import SettingsError
from probe.settings import Settings

if TYPE_CHECKING:
    import datetime as dt

    from probe.evidence.run import OrderMode, RunEvidence
    from probe.report.model import Report

__all__ = ["audit", "call", "failover", "judge", "options"]


def _refuse(message: str) -> NoReturn:
    raise SettingsError(message)


async def options(targets: Sequence[str], settings: Settings | None = None) -> Report:
    """Probe each target URI: locate it (RFC 3263), connect, judge TLS and its
    certificate, send OPTIONS; every target judged, one report."""
    from probe.run.commands import OptionsRequest, judge_collected, options_collection, prepare

    request = OptionsRequest(targets=tuple(targets), settings=settings or Settings())
    run = prepare(request, _refuse)
    evidence = await options_collection(run)
    return judge_collected(evidence, run, run.notes, request, _refuse)


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
    evidence = await failover_collection(request, run, _refuse)
    return judge_collected(evidence, run, run.notes, common, _refuse)


async def call(target: str, settings: Settings) -> Report:
    """Place a test call through `target` as `settings.call` says (who is called, the
    SRTP offer, media verified or not) and judge it: the answer, the SDP, the teardown."""
    from probe.run.commands import OptionsRequest, judge_collected, options_collection
    from probe.run.invite import InviteRequest, prepare_call

    if settings.call is None:
        raise SettingsError("a test call needs settings.call (at least who to call: to=...)")
    common = OptionsRequest(targets=(target,), settings=settings)
    run, probe_settings, notes = prepare_call(InviteRequest(common, settings.call), _refuse)
    evidence = await options_collection(run, probe_settings, command="invite")
    return judge_collected(evidence, run, notes, common, _refuse)


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
        return judge_saved_capture(evidence, _refuse)
    if isinstance(evidence, Path):
        run = load_run(evidence, _refuse)
        return judge_saved(run, evidence, settings or Settings(), now, _refuse)
    return judge_saved(evidence, "the evidence", settings or Settings(), now, _refuse)


def audit(
    capture: Path,
    *,
    max_flows: int = 100_000,
    evidence_out: Path | None = None,
) -> Report:
    """Audit a packet capture (pcap or pcapng) and judge it, as `sipprobe pcap` does:
    cleartext SIP, SDES keys exposed. Needs the `[pcap]` extra; a file that is no capture
    raises SettingsError, as an unusable setting does. Synchronous: it reads a file.
    (Not named `pcap`: probe.pcap is the package that does the work.)"""
    from probe.pcap.analysis import AuditLimits
    from probe.run.pcap import PcapRequest, audit_and_judge

    try:
        limits = AuditLimits(max_flows=max_flows)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return audit_and_judge(PcapRequest(capture, limits, evidence_out), _refuse)
