"""`sipprobe diff` for the calls a trunk placed to us (`sipprobe answer`, `check --inbound`).

Calls are matched by their order of arrival (`inbound call 1`, `inbound call 2`...): a
caller's address and port change from one run to the next, so the report's labels, which
carry them, cannot match. For each call the comparison covers its verdict, then what
drifts on the provider's side: over which transport it came, the TLS version and cipher,
the client certificate the caller presented (SHA-256 of the leaf's DER, and its expiry:
a provider's certificate rotation shows here), the final answer we gave, and the
STIR/SHAKEN attestation and what a verifier would have answered. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from probe.verdict.checks.policy import InboundPolicy, OptionsPolicy
from probe.verdict.diff import Change, leaf_facts, short_sha256
from probe.verdict.findings import JsonValue

if TYPE_CHECKING:
    from probe.evidence.inbound import InboundCall, InboundEvidence


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What is compared for one received call."""

    verdict: str
    transport: str
    version: str | None
    cipher: str | None
    client_sha256: str | None
    client_not_after: str | None
    answer: str
    attest: str | None
    verifier: str | None
    """What a STIR verifier would have answered (`438 Invalid Identity Header`), or
    `accepts` when it would have accepted; None when Identity was not verified."""


def call_facts(inbound: InboundEvidence, policy: OptionsPolicy) -> dict[str, CallFacts]:
    """Each received call's facts, by `inbound call N`; judged as `sipprobe answer` judges
    them by default, with `policy`'s TLS policy, trust anchors and instant."""
    from probe.verdict.checks.inbound import judge_call

    judging = InboundPolicy(tls=policy.tls, anchors=policy.anchors, now=policy.now)
    facts: dict[str, CallFacts] = {}
    for call in inbound.calls:
        result = judge_call(call, inbound, judging)
        facts[f"inbound call {call.number}"] = _facts(call, result.verdict.value)
    return facts


def _facts(call: InboundCall, verdict: str) -> CallFacts:
    tls = call.tls
    sha256, not_after = _leaf(tls.client_chain if tls is not None else ())
    stir = call.stir
    attest = verifier = None
    if stir is not None:
        judged = stir.judged
        attest = judged.claims.attest if judged is not None else None
        response = stir.response  # 428 for a request without Identity, when required
        verifier = "accepts" if response is None else str(response)
    answer = "no final response" if call.final_status is None else str(call.final_status)
    return CallFacts(
        verdict,
        call.transport,
        tls.version if tls is not None else None,
        tls.cipher if tls is not None else None,
        sha256,
        not_after,
        answer,
        attest,
        verifier,
    )


def _leaf(chain: tuple[bytes, ...]) -> tuple[str | None, str | None]:
    return leaf_facts(chain[0]) if chain else (None, None)


def compare_calls(before: dict[str, CallFacts], after: dict[str, CallFacts]) -> Iterator[Change]:
    """Every change between the calls of two runs, call by call."""
    for label, facts in before.items():
        if label not in after:
            summary = f"{label}: in the first run only (not received; was {facts.verdict.upper()})"
            yield Change(label, "target", "received", None, summary)
        else:
            yield from _compare(label, facts, after[label])
    for label, facts in after.items():
        if label not in before:
            summary = f"{label}: in the second run only (new; {facts.verdict.upper()})"
            yield Change(label, "target", None, "received", summary)


def _compare(label: str, a: CallFacts, b: CallFacts) -> Iterable[Change]:
    if a.verdict != b.verdict:
        summary = f"{label}: verdict {a.verdict.upper()} → {b.verdict.upper()}"
        yield Change(label, "verdict", a.verdict, b.verdict, summary)
    if (a.client_sha256, a.client_not_after) != (b.client_sha256, b.client_not_after):
        yield Change(
            label,
            "client_certificate",
            {"sha256": a.client_sha256, "not_after": a.client_not_after},
            {"sha256": b.client_sha256, "not_after": b.client_not_after},
            f"{label}: the caller's certificate changed: {short_sha256(a.client_sha256)} → "
            f"{short_sha256(b.client_sha256)} (not after {a.client_not_after or 'n/a'} → "
            f"{b.client_not_after or 'n/a'})",
        )
    for what, name, shown in _COMPARED:
        old: JsonValue = getattr(a, name)
        new: JsonValue = getattr(b, name)
        if old != new:
            summary = f"{label}: {shown} {old or 'none'} → {new or 'none'}"
            yield Change(label, what, old, new, summary)


_COMPARED = (
    ("transport", "transport", "transport"),
    ("tls.version", "version", "TLS version"),
    ("tls.cipher", "cipher", "cipher"),
    ("sip.status", "answer", "our answer"),
    ("stir.attest", "attest", "attestation"),
    ("stir.verifier", "verifier", "a STIR verifier's answer"),
)
"""What a change is called, the CallFacts field it compares, and how a person reads it."""
