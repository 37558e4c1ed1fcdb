"""The evidence of a whole run: every target's ProbeEvidence, with where it came from.

A run is what `options`, `failover`, `invite` and `answer` collected before any
judgement: the RFC 3263 plan of each URI, the evidence of each located target, the collect
settings, for `failover` the provider's order of the targets, and for `answer` the calls
received (probe.evidence.inbound). Policy (accepted codes, expiry
thresholds, `--insecure`) is deliberately absent: it is what `sipprobe judge` may change.
The trust anchors are the exception: which store the run judged chains against is part of
what it concluded (a lab CA is in no system store), so `RunSettings.trust` records it and
`sipprobe judge` and `diff` use the same anchors unless told otherwise. Plain frozen data;
nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from probe.evidence.model import ProbeEvidence, Target
from probe.locate.records import LocatedTarget, LocateResult

if TYPE_CHECKING:
    # Only an answer run holds calls: the evidence codec reads the type when it meets one
    # (DEFERRED_TYPES), so a run that only probes never loads it, nor STIR's model.
    from probe.evidence.inbound import InboundEvidence

OrderMode = Literal["list", "priority", "fixed"]
"""How a provider orders its endpoints: as listed, by priority then weight, or by fixed
names (Teams' sip → sip2 → sip3)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One configured endpoint: an origination URI with its provider attributes."""

    uri: str
    host: str
    position: int
    """Where it stands in the configured list, from 0."""
    priority: int | None = None
    weight: int | None = None


__all__ = [
    "CallPlan",
    "FailoverEvidence",
    "Placement",
    "ProbedTarget",
    "ProbedUri",
    "RunCommand",
    "RunEvidence",
    "RunSettings",
    "TrustRecord",
]

RunCommand = Literal["options", "failover", "invite", "answer", "check"]
"""What collected the run: `answer` received calls (its `inbound` part), `check` ran a
scenario in both directions."""
StopReason = Literal["interrupted", "max_time"]
"""Why a run ended before every target finished: Ctrl-C, or the run-wide deadline."""


@dataclass(frozen=True, slots=True)
class ProbedTarget:
    """One located target and what was collected there.

    A URI that located nothing still gets one entry, `unresolved`, so the report can name
    it; it was never probed, so it has no evidence.
    """

    located: LocatedTarget | None = None
    evidence: ProbeEvidence | None = None
    unresolved: Target | None = None
    stopped: StopReason | None = None
    """Why this target's probe did not finish, when the run was cut short; its evidence
    then holds only the target."""

    def __post_init__(self) -> None:
        if (self.evidence is None) == (self.unresolved is None):
            raise ValueError("a probed target has either evidence or an unresolved target")

    @property
    def target(self) -> Target:
        # The evidence's target, not the planned one: the collect layer fills in the SNI.
        if self.evidence is not None:
            return self.evidence.target
        assert self.unresolved is not None
        return self.unresolved


@dataclass(frozen=True, slots=True)
class ProbedUri:
    """One URI as given, its RFC 3263 plan, and its targets in location order."""

    uri: str
    locate: LocateResult
    targets: tuple[ProbedTarget, ...]
    endpoint: Endpoint | None = None
    """`failover`: the endpoint as configured (position, priority, weight)."""
    redirected_from: str | None = None
    """`--follow-redirects`: the URI whose 3xx answer named this one."""


@dataclass(frozen=True, slots=True)
class Placement:
    """`failover`: one target's place in the provider's order, and why it is there."""

    uri_index: int
    """Which entry of `RunEvidence.uris`."""
    target_index: int
    """Which of that URI's targets."""
    group: str
    """What makes it a separate endpoint: the endpoint host or the SRV target behind it."""
    share: float | None = None
    priority: int | None = None
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class FailoverEvidence:
    mode: OrderMode
    order: tuple[Placement, ...]
    """Every target, first tried first."""


@dataclass(frozen=True, slots=True)
class CallPlan:
    """`invite`: the test call that was asked for; credentials only as "were there any"."""

    to: str
    from_uri: str | None
    offer_kind: str
    suites: tuple[str, ...]
    hangup: str
    answer_timeout_s: float
    verify_media: bool = False
    allow_cleartext_keys: bool = False
    credentials: bool = False


TrustStoreKind = Literal["system", "mozilla", "path"]
"""`--trust system`, `--trust mozilla` (certifi), or a PEM file or directory (`--ca`)."""


@dataclass(frozen=True, slots=True)
class TrustRecord:
    """The trust anchors the run judged presented chains against. Certificates only:
    a certificate is public, and nothing here can hold a private key."""

    store: TrustStoreKind
    source: str
    """As the report's tls.chain details name it, e.g. `file lab/ca.pem (1 certificate)`."""
    used_sha256: tuple[str, ...] = ()
    """SHA-256 (hex, of the DER) of each anchor a presented chain was verified to."""
    pem: str | None = None
    """`path`: every certificate of the file or directory, PEM, so the run can be judged
    again where that file is not (or has changed). None for the system and Mozilla
    stores, which the judging side has of its own."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How the evidence was collected: what a later reader needs to interpret it."""

    timeout_s: float
    count: int = 1
    interval_s: float = 1.0
    enumerate_tls: bool = False
    sni: str | None = None
    """`--sni` when given; each target's evidence holds the SNI actually sent."""
    offered_min_tls: str = "1.2"
    """The lowest TLS version our side offered (the judged minimum is policy)."""
    client_cert: bool = False
    client_certificate: bytes | None = None
    """The leaf (DER) of the client certificate offered for mutual TLS, when one was: the
    identity a provider matches our Contact against (Teams), public, never its key."""
    pins: tuple[str, ...] = ()
    dns_server: str | None = None
    seed: int | None = None
    concurrency: int = 50
    call: CallPlan | None = None
    trust: TrustRecord | None = None
    """The anchors chains were judged against; None in files written before they were
    recorded, and in runs that loaded none (no TLS target)."""


@dataclass(frozen=True, slots=True)
class RunEvidence:
    command: RunCommand
    started_at: str
    """ISO 8601 UTC, to the millisecond: also the instant certificates are judged at."""
    duration_ms: float
    settings: RunSettings
    uris: tuple[ProbedUri, ...]
    failover: FailoverEvidence | None = None
    stopped: StopReason | None = None
    """Set when the run was cut short (Ctrl-C, `--max-time`): some targets did not finish."""
    max_time_s: float | None = None
    """The run-wide deadline (`--max-time`), when one was set."""
    stop_signal: int | None = None
    """The number of the signal that interrupted the run (SIGINT, SIGTERM, SIGHUP), when
    a signal did. Also set, with `stopped` None, for a signal that came as the run ended:
    nothing was cut short, but the command stopped after this run."""
    inbound: InboundEvidence | None = None
    """`answer` (and a `check` that received calls): what the listener saw of the calls a
    trunk placed to us; None in every other run, and in files written before it existed."""

    def __post_init__(self) -> None:
        try:
            started = dt.datetime.fromisoformat(self.started_at)
        except (TypeError, ValueError):
            raise ValueError(f"started_at {self.started_at!r} is not an ISO 8601 time") from None
        if started.utcoffset() is None:
            raise ValueError(f"started_at {self.started_at!r} has no UTC offset")
        if self.failover is None:
            return
        for number, place in enumerate(self.failover.order):
            if not 0 <= place.uri_index < len(self.uris):
                raise ValueError(f"failover.order[{number}] names URI #{place.uri_index}")
            targets = self.uris[place.uri_index].targets
            if not 0 <= place.target_index < len(targets):
                raise ValueError(
                    f"failover.order[{number}] names target #{place.target_index} of a URI"
                    f" with {len(targets)}"
                )
            if self.uris[place.uri_index].endpoint is None:
                raise ValueError(f"failover.order[{number}] names a URI without an endpoint")

    def probed(self) -> list[ProbedTarget]:
        """Every target in URI order, then location order."""
        return [probed for entry in self.uris for probed in entry.targets]
