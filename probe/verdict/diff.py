"""`sipprobe diff`: what changed between two saved runs, target by target.

Targets are matched by their label (`name (address:port/transport)`). For each, the
comparison covers first what a person acts on: the target's verdict (FAIL → PASS), whether
it went down or came up (health as the failover checks define it), whether it is in only
one of the runs; then what drifts between regions or across a change window: the leaf
certificate (SHA-256 of its DER, and its expiry), the TLS version and cipher, the final
answer and its round-trip time. The calls a trunk placed to us (an answer run, `check
--inbound`) are compared call by call (probe.verdict.diff_inbound). For the run as a
whole: where calls land first (the
first healthy target in the order a caller tries them) and, for two `failover` runs, the
provider's order of the targets; and the trust anchors, when the runs used different ones.
Each run is judged under the default policy with the trust anchors it used itself (the
caller passes one policy per run), so a lab run stays judged by the lab's CA. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from probe.evidence.model import ProbeEvidence
from probe.evidence.run import ProbedTarget, RunEvidence
from probe.verdict.checks import OptionsPolicy
from probe.verdict.checks.failover import TRUNK, health
from probe.verdict.findings import CheckId, JsonValue, TargetResult
from probe.verdict.judging import judge_target

__all__ = ["RTT_MIN_CHANGE_MS", "RTT_MIN_RATIO", "SCHEMA", "Change", "diff_document", "diff_runs"]

SCHEMA = "sipprobe.diff/1"
# An RTT wobbles from run to run; only a change that is both large relative to the old
# value and large in absolute terms says something about the path.
RTT_MIN_RATIO = 0.5
RTT_MIN_CHANGE_MS = 5.0


@dataclass(frozen=True, slots=True)
class Change:
    target: str
    """The target's label, or `trunk` for the failover order."""
    what: str
    """`target`, `verdict`, `health`, `certificate`, `tls.version`, `tls.cipher`,
    `sip.status`, `sip.rtt`, `calls.land`, `failover.order` or `trust`; for a received
    call also `client_certificate`, `transport`, `stir.attest` or `stir.verifier`."""
    before: JsonValue
    after: JsonValue
    summary: str
    """One line for a person, starting with the target."""

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "target": self.target,
            "what": self.what,
            "before": self.before,
            "after": self.after,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class _Facts:
    """What is compared for one target."""

    sha256: str | None
    not_after: str | None
    version: str | None
    cipher: str | None
    status: str | None
    rtt_ms: float | None
    healthy: bool
    why: str
    verdict: str


def _certificate(evidence: ProbeEvidence) -> tuple[str | None, str | None]:
    if evidence.tls is None or not evidence.tls.presented_chain:
        return None, None
    return leaf_facts(evidence.tls.presented_chain[0])


def leaf_facts(leaf: bytes) -> tuple[str, str | None]:
    """What a diff compares of a leaf certificate: the SHA-256 of its DER, and its expiry
    (None when it cannot be read)."""
    from cryptography import x509  # only runs with certificates need it

    try:
        expires: str | None = x509.load_der_x509_certificate(leaf).not_valid_after_utc.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    except ValueError:
        expires = None
    return hashlib.sha256(leaf).hexdigest(), expires


def _answer(evidence: ProbeEvidence, result: TargetResult) -> tuple[str | None, float | None]:
    """The final answer (or answers, for `--count`) and the RTT, as judged."""
    if evidence.call is not None:
        code = evidence.call.final_status
        return ("no final response" if code is None else str(code)), None
    finding = next((f for f in result.findings if f.check == CheckId.SIP_OPTIONS), None)
    if finding is None or not evidence.exchanges:
        return None, None
    details = finding.details
    rtt = details.get("rtt_ms")
    if isinstance(rtt, dict):  # --count: the average
        rtt = rtt.get("avg")
    rtt_ms = float(rtt) if isinstance(rtt, int | float) else None
    codes = details.get("codes")
    if isinstance(codes, dict):  # --count: answers per status code, then the unanswered
        seen = list(codes) + (["no answer"] if details.get("lost") else [])
        return ", ".join(seen), rtt_ms
    code = details.get("status_code")
    return ("no answer" if code is None else str(code)), rtt_ms


def _facts(run: RunEvidence, index: int, probed: ProbedTarget, policy: OptionsPolicy) -> _Facts:
    result = judge_target(run.uris[index].locate, probed, policy)
    healthy, why = health(result)
    evidence = probed.evidence
    verdict = result.verdict.value
    if evidence is None:
        return _Facts(None, None, None, None, None, None, healthy, why, verdict)
    sha256, not_after = _certificate(evidence)
    tls = evidence.tls
    status, rtt = _answer(evidence, result)
    return _Facts(
        sha256,
        not_after,
        tls.version if tls is not None else None,
        tls.cipher if tls is not None else None,
        status,
        rtt,
        healthy,
        why,
        verdict,
    )


def _by_label(run: RunEvidence, policy: OptionsPolicy) -> dict[str, _Facts]:
    if policy.now is None:
        policy = policy.at(dt.datetime.fromisoformat(run.started_at))
    facts: dict[str, _Facts] = {}
    for index, entry in enumerate(run.uris):
        for probed in entry.targets:
            label = probed.target.label
            number = 2
            while label in facts:  # the same target twice in one run: keep both apart
                label, number = f"{probed.target.label} #{number}", number + 1
            facts[label] = _facts(run, index, probed, policy)
    return facts


def _order(run: RunEvidence) -> list[str] | None:
    if run.failover is None:
        return None
    return [
        run.uris[place.uri_index].targets[place.target_index].target.label
        for place in run.failover.order
    ]


def _landing(run: RunEvidence, facts: dict[str, _Facts]) -> str | None:
    """Where calls land first: the first healthy target in the provider's order (a
    `failover` run) or in the order RFC 3263 gives a caller (URI order, then location
    order). None when no target is healthy."""
    order = _order(run)
    labels = order if order is not None else list(facts)
    # Labels made unique by _by_label (`#2`) only follow the first of their name.
    return next((label for label in labels if label in facts and facts[label].healthy), None)


def _trust(run: RunEvidence) -> str | None:
    record = run.settings.trust
    if record is None:
        return None
    # A PEM file is named by what it holds, not where it was (the same CA moved is no change).
    if record.pem is not None:
        return f"{record.store}: {hashlib.sha256(record.pem.encode()).hexdigest()[:16]}"
    return record.store


def _landing_change(before: str | None, after: str | None) -> Change | None:
    if before == after:
        return None
    was, now = before or "nowhere (no healthy target)", after or "nowhere (no healthy target)"
    return Change(TRUNK, "calls.land", before, after, f"{TRUNK}: calls land first on {was} → {now}")


def short_sha256(sha256: str | None) -> str:
    """A certificate's digest as a line shows it."""
    return "none" if sha256 is None else f"sha256 {sha256[:16]}…"


def _rtt_change(label: str, before: float | None, after: float | None) -> Change | None:
    if before is None or after is None:
        return None
    change = after - before
    if abs(change) <= RTT_MIN_CHANGE_MS or abs(change) <= RTT_MIN_RATIO * before:
        return None
    percent = f" ({100 * change / before:+.0f}%)" if before > 0 else ""
    return Change(
        label,
        "sip.rtt",
        round(before, 3),
        round(after, 3),
        f"{label}: RTT {before:.1f} → {after:.1f} ms{percent}",
    )


def _compare(label: str, a: _Facts, b: _Facts) -> Iterable[Change]:
    if a.verdict != b.verdict:
        yield Change(
            label,
            "verdict",
            a.verdict,
            b.verdict,
            f"{label}: verdict {a.verdict.upper()} → {b.verdict.upper()}",
        )
    if a.healthy != b.healthy:
        summary = (
            f"{label}: went down: {b.why}" if a.healthy else f"{label}: came up (was: {a.why})"
        )
        yield Change(label, "health", a.healthy, b.healthy, summary)
    if a.sha256 != b.sha256:
        yield Change(
            label,
            "certificate",
            {"sha256": a.sha256, "not_after": a.not_after},
            {"sha256": b.sha256, "not_after": b.not_after},
            f"{label}: certificate changed: {short_sha256(a.sha256)} → {short_sha256(b.sha256)}"
            f" (not after {a.not_after or 'n/a'} → {b.not_after or 'n/a'})",
        )
    for what, name, old, new in (
        ("tls.version", "TLS version", a.version, b.version),
        ("tls.cipher", "cipher", a.cipher, b.cipher),
        ("sip.status", "answer", a.status, b.status),
    ):
        if old != new:
            yield Change(
                label, what, old, new, f"{label}: {name} {old or 'none'} → {new or 'none'}"
            )
    rtt = _rtt_change(label, a.rtt_ms, b.rtt_ms)
    if rtt is not None:
        yield rtt


def diff_runs(
    before: RunEvidence,
    after: RunEvidence,
    policy: OptionsPolicy,
    *,
    after_policy: OptionsPolicy | None = None,
) -> list[Change]:
    """Every change from `before` to `after`; empty when nothing that matters changed.

    `before` is judged under `policy`, `after` under `after_policy` (default: the same);
    each run at its own start (unless the policy's `now` is set), as it was originally.
    """
    old = _by_label(before, policy)
    new = _by_label(after, after_policy or policy)
    changes: list[Change] = []
    for label, facts in old.items():
        if label not in new:
            summary = f"{label}: in the first run only (gone; was {facts.verdict.upper()})"
            changes.append(Change(label, "target", "probed", None, summary))
        else:
            changes.extend(_compare(label, facts, new[label]))
    for label, facts in new.items():
        if label not in old:
            summary = f"{label}: in the second run only (new; {facts.verdict.upper()})"
            changes.append(Change(label, "target", None, "probed", summary))
    landing = _landing_change(_landing(before, old), _landing(after, new))
    if landing is not None:
        changes.append(landing)
    old_trust, new_trust = _trust(before), _trust(after)
    if old_trust is not None and new_trust is not None and old_trust != new_trust:
        was = before.settings.trust.source if before.settings.trust else old_trust
        now = after.settings.trust.source if after.settings.trust else new_trust
        changes.append(
            Change(TRUNK, "trust", old_trust, new_trust, f"{TRUNK}: trust anchors {was} → {now}")
        )
    if before.inbound is not None or after.inbound is not None:
        changes.extend(_calls_changed(before, after, policy, after_policy or policy))
    old_order, new_order = _order(before), _order(after)
    if old_order is not None and new_order is not None and old_order != new_order:
        changes.append(
            Change(
                TRUNK,
                "failover.order",
                list(old_order),
                list(new_order),
                f"{TRUNK}: failover order {', '.join(old_order)} → {', '.join(new_order)}",
            )
        )
    return changes


def _calls_changed(
    before: RunEvidence, after: RunEvidence, policy: OptionsPolicy, after_policy: OptionsPolicy
) -> Iterable[Change]:
    """The received calls' changes (probe.verdict.diff_inbound), each run's judged at its
    own start unless the policy says when."""
    # Imported here: diff_inbound builds on this module, and only answer runs need it.
    from probe.verdict.diff_inbound import call_facts, compare_calls

    facts = []
    for run, run_policy in ((before, policy), (after, after_policy)):
        if run_policy.now is None:
            run_policy = run_policy.at(dt.datetime.fromisoformat(run.started_at))
        facts.append({} if run.inbound is None else call_facts(run.inbound, run_policy))
    return compare_calls(facts[0], facts[1])


def diff_document(changes: Iterable[Change]) -> dict[str, JsonValue]:
    """The JSON form: `{"schema": "sipprobe.diff/1", "changes": [...]}`."""
    return {"schema": SCHEMA, "changes": [change.to_dict() for change in changes]}
