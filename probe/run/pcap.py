"""`sipprobe pcap FILE`: audit a capture, save its evidence when asked, judge it.

The file is opened before anything else: one that is missing, is no capture, or needs
the `[pcap]` extra that is not installed is a usage error (exit 2) with one sentence.
A capture that is damaged part-way is audited up to the damage, and its findings say
what was not read. SIGINT, SIGTERM and SIGHUP stop the reading where it is and the
partial audit is reported as such (exit 128 + N); a second signal exits at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from probe.cli.signals import handling_stop_signals
from probe.evidence.capture import CaptureEvidence
from probe.pcap.analysis import AuditLimits
from probe.report.exit_codes import EXIT_SIGNAL_BASE, signal_name
from probe.report.model import Report
from probe.settings import Settings
from probe.verdict.capture import capture_report

if TYPE_CHECKING:
    from probe.evidence.run import TrustRecord
    from probe.verdict.checks.policy import OptionsPolicy

__all__ = [
    "PcapRequest",
    "audit_and_judge",
    "is_capture_evidence",
    "judge_saved_capture",
    "run_pcap_command",
]

if TYPE_CHECKING:
    from probe.pcap.media_audit import MediaOptions

UsageError = Callable[[str], NoReturn]


@dataclass(frozen=True, slots=True)
class PcapRequest:
    """What `sipprobe pcap` was asked to audit, and how."""

    capture: Path
    limits: AuditLimits = field(default_factory=AuditLimits)
    evidence_out: Path | None = None
    settings: Settings = field(default_factory=Settings)
    """Its TLS settings count: the policy and trust anchors (`--ca`, `--trust`) that a
    chain seen in the capture is judged by, as a live probe's would be."""
    now: str | dt.datetime | None = None
    """`--now`: the instant certificates are judged at (ISO 8601 text as typed, or an
    instant); by default the moment of each handshake in the capture."""
    expect_srtp: bool = False
    """Every media flow must be SRTP (`--expect-srtp`): plain RTP fails."""
    srtp_keys: Path | None = None
    """A key file (`--srtp-keys`, format in probe.pcap.srtp_auth) to authenticate SRTP."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[Callable[[], int | None]]:
    """While auditing: the first stop signal is remembered (the loop stops at its next
    look), a second one exits at once. Signals ignored at start stay ignored; off the
    main thread nothing is installed."""
    received: list[int] = []

    def on_signal(number: int, _frame: object) -> None:
        if received:
            with contextlib.suppress(OSError):
                os.write(2, f"sipprobe: {signal_name(number)} again: exiting now\n".encode())
            os._exit(EXIT_SIGNAL_BASE + number)
        received.append(number)

    with handling_stop_signals(on_signal):
        yield lambda: received[0] if received else None


def audit_file(
    request: PcapRequest,
    usage: UsageError,
    stop_requested: Callable[[], int | None] = lambda: None,
) -> CaptureEvidence:
    """The capture's evidence, or a usage error for a file that cannot be audited."""
    from probe.pcap.audit import audit_capture
    from probe.pcap.reader import CaptureError

    media = media_options(request, usage)
    path, name = request.capture, None
    if str(path) == "-":  # tcpdump -w - | sipprobe pcap -
        path, name = Path("/dev/stdin"), "standard input"
    try:
        return audit_capture(
            path, name=name, limits=request.limits, stop_requested=stop_requested, media=media
        )
    except CaptureError as exc:
        usage(str(exc))


def media_options(request: PcapRequest, usage: UsageError) -> MediaOptions:
    """What the media analysis is given: the keys of `--srtp-keys` (read before the
    capture, so a bad key file is refused at once, and never quoted) and `--expect-srtp`."""
    from probe.pcap.media_audit import MediaOptions
    from probe.pcap.srtp_auth import KeyFileError, load_key_file

    if request.srtp_keys is None:
        return MediaOptions(expect_srtp=request.expect_srtp)
    try:
        keys = load_key_file(request.srtp_keys)
    except KeyFileError as exc:
        usage(f"--srtp-keys {exc}")
    try:
        import pylibsrtp  # noqa: F401
    except ImportError:
        usage("--srtp-keys needs the srtp extra: pip install 'sipprobe[srtp]'")
    return MediaOptions(expect_srtp=request.expect_srtp, keys=keys, key_file=str(request.srtp_keys))


def check_evidence_path(path: Path | None, usage: UsageError) -> None:
    if path is None:
        return
    if path.is_dir():
        usage(f"--evidence-out {path}: is a directory")
    if not path.parent.is_dir():
        usage(f"--evidence-out {path}: the directory {path.parent} does not exist")


def has_chain(evidence: CaptureEvidence) -> bool:
    """Whether the capture holds a certificate chain to judge (a TLS 1.2 handshake's)."""
    return evidence.tls is not None and any(s.presented_chain for s in evidence.tls.sessions)


def capture_policy(
    settings: Settings,
    now: str | dt.datetime | None,
    usage: UsageError,
    *,
    anchors_wanted: bool = True,
    record: TrustRecord | None = None,
    saved_as: str | None = None,
) -> tuple[OptionsPolicy, list[str]]:
    """The policy a capture's chains are judged by, and notes on it. The anchors are the
    ones `settings` names (the system store by default); for a saved audit (`saved_as`),
    the ones it recorded unless `settings` names others (probe.run.trust)."""
    from probe.run.commands import OptionsRequest, build_policy, load_anchors, parse_instant

    request = OptionsRequest(targets=(), settings=settings)
    policy = build_policy(request, False, usage)
    notes: list[str] = []
    if anchors_wanted:
        if saved_as is None:
            anchors = load_anchors(request, usage)
        else:
            from probe.run.trust import recorded_anchors

            anchors, notes = recorded_anchors(record, request, usage, name=saved_as)
        policy = replace(policy, anchors=anchors)
    if now is not None:
        policy = policy.at(parse_instant(now, usage) if isinstance(now, str) else now)
        assert policy.now is not None
        notes.append(
            f"certificates judged at {policy.now.isoformat(timespec='seconds')}, not at the "
            "time of each handshake"
        )
    return policy, notes


def audit_and_judge(
    request: PcapRequest,
    usage: UsageError,
    stop_requested: Callable[[], int | None] = lambda: None,
) -> Report:
    """Audit the capture, save its evidence when asked (first: it is worth keeping
    whatever the verdict), and judge it. No signal handler, no change to the collector:
    what the library calls (probe.api.audit)."""
    check_evidence_path(request.evidence_out, usage)
    # The policy first: trust anchors that cannot be loaded are refused before reading.
    policy, policy_notes = capture_policy(request.settings, request.now, usage)
    evidence = audit_file(request, usage, stop_requested)
    if request.evidence_out is not None:
        from probe.evidence.capture_file import write_capture

        try:
            write_capture(request.evidence_out, _with_trust(evidence, policy, request))
        except OSError as exc:
            usage(f"--evidence-out {request.evidence_out}: {exc.strerror or exc}")
    return capture_report(evidence, notes=[*policy_notes, *_notes(evidence)], policy=policy)


def _with_trust(
    evidence: CaptureEvidence, policy: OptionsPolicy, request: PcapRequest
) -> CaptureEvidence:
    """The evidence with the anchors its chains were judged against, when it has any."""
    if policy.anchors is None or not has_chain(evidence):
        return evidence
    from probe.evidence.trust import record_trust
    from probe.run.commands import OptionsRequest
    from probe.run.trust import store_kind

    store = store_kind(OptionsRequest(targets=(), settings=request.settings))
    return replace(evidence, trust=record_trust(policy.anchors, store, None))


def run_pcap_command(request: PcapRequest, *, on_usage_error: UsageError) -> Report:
    """`sipprobe pcap`: the audit with the command line's signal handling, and the
    collector run rarely while the flows of a large capture are alive."""
    from probe.run.commands import steady_heap

    with _stop_on_signals() as stop_requested, steady_heap():
        return audit_and_judge(request, on_usage_error, stop_requested)


def _notes(evidence: CaptureEvidence) -> list[str]:
    notes = []
    counts = evidence.counts
    if counts.flows_evicted:
        notes.append(
            f"{counts.flows_evicted} flows were closed early to stay within "
            f"{evidence.limits.max_flows} open flows (--max-flows); each was still audited"
        )
    if evidence.stop_signal is not None:
        notes.append(
            f"audit interrupted by {signal_name(evidence.stop_signal)} after "
            f"{counts.records} packets: the report is partial"
        )
    return notes


def is_capture_evidence(path: Path) -> bool:
    """Whether `path` holds a capture audit's evidence (a file that cannot be read is
    left to the run-evidence reader, which says why)."""
    from probe.evidence.capture_file import is_capture_document

    try:
        return is_capture_document(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def judge_saved_capture(
    path: Path,
    usage: UsageError,
    settings: Settings | None = None,
    now: str | dt.datetime | None = None,
) -> Report:
    """`sipprobe judge` on a capture audit's evidence: judged again, nothing read but it,
    under `settings`' TLS policy, its chains against the anchors the audit recorded unless
    `settings` names others, at `now` when given."""
    from probe.evidence.capture_file import load_capture
    from probe.evidence.file import EvidenceError

    try:
        evidence = load_capture(path)
    except EvidenceError as exc:
        usage(str(exc))
    policy, policy_notes = capture_policy(
        settings or Settings(),
        now,
        usage,
        anchors_wanted=has_chain(evidence),
        record=evidence.trust,
        saved_as=str(path),
    )
    notes = [
        f"judged again from {path} (audited {evidence.started_at})",
        *policy_notes,
        *_notes(evidence),
    ]
    report = capture_report(evidence, notes=notes, policy=policy)
    # As for a saved run: the exit code says how judging went, not that the audit once
    # was interrupted (its note and its findings say so).
    return replace(report, interrupted=False)
