"""`dns.resolve`: how a URI was located (RFC 3263), judged from the locate evidence.

One finding per located target, naming the path that led to it (NAPTR → SRV → A/AAAA,
or an IP literal, or a `--resolve` pin); for a URI that located nothing, one failing
finding that names what DNS said. Pure.
"""

from __future__ import annotations

from probe.locate.records import LocatedTarget, LocateResult
from probe.verdict.findings import CheckId, Finding, JsonValue, Status


def _answers(located: LocateResult) -> list[JsonValue]:
    return [answer.to_dict() for answer in located.answers]


def check_location(located: LocateResult, target: LocatedTarget, label: str) -> Finding | None:
    """`dns.resolve` for one target; None when no DNS was involved at all."""
    if not located.answers:
        return None  # an IP literal, or every name pinned by --resolve
    details: dict[str, JsonValue] = {
        "uri": located.uri,
        "transport_reason": located.transport_reason,
        "via": list(target.via),
        "srv_target": target.srv_target,
        "priority": target.priority,
        "weight": target.weight,
        "share": target.share,
        "problems": list(located.problems),
        "answers": _answers(located),
    }
    summary = "located via " + " → ".join(target.via)
    return Finding(CheckId.DNS_RESOLVE, Status.PASS, label, summary, details)


def check_unlocated(located: LocateResult, label: str) -> Finding:
    """`dns.resolve` failing: the URI led to no target at all."""
    why = "; ".join(located.problems) or "no address found"
    details: dict[str, JsonValue] = {
        "uri": located.uri,
        "transport_reason": located.transport_reason,
        "problems": list(located.problems),
        "answers": _answers(located),
    }
    return Finding(
        CheckId.DNS_RESOLVE, Status.FAIL, label, f"cannot locate {located.uri}: {why}", details
    )
