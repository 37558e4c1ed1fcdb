"""What judging one run remembers between its targets, owned by the run's judge.

A sweep's endpoints mostly present one chain for one name: judging it (parsing, path
building, every certificate check) costs more than the rest of a target's client work,
so a run judges each distinct set of inputs once. The table is made by the run's judge
(`probe.verdict.judging.TargetJudge`, or `judge_run` for what is judged after the collection) and
dropped with it; nothing of it outlives the run. Light on purpose: making one imports no
cryptography, which a run without TLS never needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from probe.verdict.findings import Finding

if TYPE_CHECKING:
    from probe.tls.trust import TrustAnchors
    from probe.verdict.checks.policy import TlsPolicy


@dataclass(frozen=True, slots=True)
class CertificateInputs:
    """Everything of a target's evidence the certificate judgement reads: the chain as
    presented, the URI host it must prove (RFC 5922 §7.2), the SNI sent and the SRV
    target. A verdict is a function of these, the TLS policy, the anchors and the
    instant, nothing else; a judgement that reads more evidence must add it here, which
    keys the table by it."""

    presented_chain: tuple[bytes, ...]
    host: str
    sni: str | None
    srv_target: str | None = None
    """The SRV target behind the address, for `--accept-srv-target-identity`."""


@dataclass(slots=True)
class CertificateVerdicts:
    """The certificate verdicts one run reached, by inputs, policy and instant. Bound to
    the run's trust anchors: a judgement against other anchors does not use it."""

    anchors: TrustAnchors | None
    reached: dict[tuple[CertificateInputs, TlsPolicy, dt.datetime], list[Finding]] = field(
        default_factory=dict
    )
