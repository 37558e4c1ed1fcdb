"""Failover checks over every probed target of an endpoint list, in the provider's order:
`failover.order`, `failover.primary`, `failover.redundancy`.

The order is the provider's: list order (origination URIs as configured), priority then
weight (Twilio 0–65535 and Amazon Chime 1–100, lowest first; RFC 2782 semantics), a fixed
order (Teams: sip → sip2 → sip3), or DNS SRV. Each endpoint contributes its targets in the
order RFC 3263 location gave them. A target is healthy when a provider's client would
complete a call set-up there now: it connects, TLS and the certificate verify, and OPTIONS
is answered with an accepted final response (RFC 3261 §11; a 5xx means "try the next
one", §21.5.4). Pure: judged from target results, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from probe.evidence.run import Endpoint, OrderMode
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, TargetResult

# Failing any of these means a provider's client would not place a call on the target.
HEALTH_CHECKS = (
    CheckId.DNS_RESOLVE,
    CheckId.NET_CONNECT,
    CheckId.TLS_HANDSHAKE,
    CheckId.TLS_VERSION,
    CheckId.TLS_CHAIN,
    CheckId.TLS_IDENTITY,
    CheckId.TLS_CLIENT_CERT,
    CheckId.SIP_OPTIONS,
)
TRUNK = "trunk"
"""The `target` of trunk-wide findings."""


@dataclass(frozen=True, slots=True)
class OrderedTarget:
    """One probed target, where it stands in the provider's order."""

    endpoint: Endpoint
    result: TargetResult
    group: str
    """What makes it a separate endpoint: the endpoint host or the SRV target behind it."""
    share: float | None = None
    """Share of traffic within its priority, for weighted choices (RFC 2782)."""
    priority: int | None = None
    """The priority that ordered it: configured, or from its SRV record."""
    weight: int | None = None


def provider_order(endpoints: Sequence[Endpoint], mode: OrderMode) -> list[Endpoint]:
    """The order the provider tries the endpoints in.

    With priorities the lowest number goes first (Twilio, Chime); equal priorities share
    traffic by weight, so they are listed heaviest first, then as configured.
    """
    if mode == "priority":
        return sorted(
            endpoints,
            key=lambda e: (
                e.priority if e.priority is not None else 1 << 20,
                -(e.weight or 0),
                e.position,
            ),
        )
    return sorted(endpoints, key=lambda e: e.position)


def weight_shares(endpoints: Sequence[Endpoint]) -> dict[int, float]:
    """Each endpoint's share of calls among endpoints of its priority (by position)."""
    shares: dict[int, float] = {}
    by_priority: dict[int | None, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_priority.setdefault(endpoint.priority, []).append(endpoint)
    for group in by_priority.values():
        total = sum(e.weight or 0 for e in group)
        for endpoint in group:
            shares[endpoint.position] = (endpoint.weight or 0) / total if total else 1 / len(group)
    return shares


def health(result: TargetResult) -> tuple[bool, str]:
    """(healthy, why) for one target: the first failing health check names the reason."""
    by_check = {finding.check: finding for finding in result.findings}
    for check in HEALTH_CHECKS:
        finding = by_check.get(check)
        if finding is not None and finding.status in (Status.FAIL, Status.ERROR):
            return False, f"{check}: {finding.summary}"
    options = by_check.get(CheckId.SIP_OPTIONS)
    if options is None or options.status is not Status.PASS:
        why = options.summary if options is not None else "OPTIONS was not answered"
        return False, f"{CheckId.SIP_OPTIONS}: {why}"
    return True, "healthy"


def _rtt(result: TargetResult) -> float | None:
    for finding in result.findings:
        if finding.check == CheckId.SIP_OPTIONS:
            value = finding.details.get("rtt_ms")
            return float(value) if isinstance(value, int | float) else None
    return None


def _leaf_key(result: TargetResult) -> str | None:
    for finding in result.findings:
        if finding.check == CheckId.TLS_CHAIN:
            leaf = finding.details.get("leaf")
            if isinstance(leaf, dict):
                key = leaf.get("public_key_sha256")
                return str(key) if key else None
    return None


def _where(target: OrderedTarget) -> str:
    return f"{target.endpoint.host} ({target.result.target.endpoint})"


def judge_failover(ordered: Sequence[OrderedTarget], *, mode: OrderMode) -> list[Finding]:
    """The three trunk-wide findings, from targets already in provider order."""
    rows: list[JsonValue] = []
    states = []
    for rank, target in enumerate(ordered, start=1):
        healthy, why = health(target.result)
        states.append((target, healthy, why))
        rows.append(
            {
                "rank": rank,
                "endpoint": target.endpoint.uri,
                "group": target.group,
                "target": target.result.target.label,
                "priority": target.priority,
                "weight": target.weight,
                "share": None if target.share is None else round(target.share, 4),
                "healthy": healthy,
                "reason": why,
                "rtt_ms": _rtt(target.result),
            }
        )
    return [
        _order_finding(states, rows, mode),
        _primary_finding(states),
        _redundancy_finding(states),
    ]


_State = tuple[OrderedTarget, bool, str]


def _order_finding(states: list[_State], rows: list[JsonValue], mode: OrderMode) -> Finding:
    details: dict[str, JsonValue] = {"mode": mode, "order": rows}
    if not states:
        return Finding(CheckId.FAILOVER_ORDER, Status.FAIL, TRUNK, "no targets to try", details)
    down = [target for target, healthy, _why in states if not healthy]
    rank, landing = next(
        ((rank, t) for rank, (t, healthy, _why) in enumerate(states, start=1) if healthy),
        (0, None),
    )
    details["lands_on"] = landing.result.target.label if landing is not None else None
    down_text = f"{len(down)} of {len(states)} targets down"
    if down:
        down_text += " (" + ", ".join(_where(target) for target in down) + ")"
    if landing is None:
        return Finding(
            CheckId.FAILOVER_ORDER,
            Status.FAIL,
            TRUNK,
            f"no target is healthy: calls fail everywhere; {down_text}",
            details,
        )
    return Finding(
        CheckId.FAILOVER_ORDER,
        Status.PASS,
        TRUNK,
        f"calls land on {_where(landing)}, #{rank} in the provider's order; {down_text}",
        details,
    )


def _primary_finding(states: list[_State]) -> Finding:
    if not states:
        return Finding(CheckId.FAILOVER_PRIMARY, Status.FAIL, TRUNK, "no primary to check")
    primary = states[0][0].endpoint
    own = [(t, healthy, why) for t, healthy, why in states if t.endpoint == primary]
    landing = next((t for t, healthy, _why in states if healthy), None)
    details: dict[str, JsonValue] = {
        "primary": primary.uri,
        "lands_on": landing.result.target.label if landing is not None else None,
    }
    first, first_healthy, first_why = own[0]
    if first_healthy:
        return Finding(
            CheckId.FAILOVER_PRIMARY,
            Status.PASS,
            TRUNK,
            f"the primary {primary.host} is healthy and takes the calls ({_where(first)})",
            details,
        )
    reason = first_why.split(": ", 1)[-1]
    elsewhere = (
        f"calls land on {_where(landing)}" if landing is not None else "no target is healthy"
    )
    if landing is not None and landing.endpoint == primary:
        return Finding(
            CheckId.FAILOVER_PRIMARY,
            Status.WARN,
            TRUNK,
            f"the primary's first address is down ({_where(first)}: {reason}); {elsewhere}",
            details,
        )
    return Finding(
        CheckId.FAILOVER_PRIMARY,
        Status.FAIL,
        TRUNK,
        f"the primary {primary.host} is down ({reason}); {elsewhere}",
        details,
    )


def _redundancy_finding(states: list[_State]) -> Finding:
    healthy = [target for target, ok, _why in states if ok]
    groups: dict[str, list[OrderedTarget]] = {}
    for target in healthy:
        groups.setdefault(target.group, []).append(target)
    configured = sorted({target.group for target, _ok, _why in states})
    details: dict[str, JsonValue] = {
        "healthy_groups": sorted(groups),
        "configured_groups": configured,
    }
    # Fake redundancy: different endpoints that are the same machine or the same key.
    by_address: dict[str, set[str]] = {}
    by_key: dict[str, set[str]] = {}
    for target, _ok, _why in states:
        address = target.result.target.address
        if address is not None:
            by_address.setdefault(address, set()).add(target.group)
        key = _leaf_key(target.result)
        if key is not None:
            by_key.setdefault(key, set()).add(target.group)
    shared_addresses = {a: sorted(g) for a, g in by_address.items() if len(g) > 1}
    shared_keys = {k: sorted(g) for k, g in by_key.items() if len(g) > 1}
    details |= {"shared_addresses": shared_addresses, "shared_keys": shared_keys}
    if shared_addresses:
        address, names = next(iter(shared_addresses.items()))
        return Finding(
            CheckId.FAILOVER_REDUNDANCY,
            Status.FAIL,
            TRUNK,
            f"fake redundancy: {' and '.join(names)} are the same address {address}; "
            "one failure takes them all down",
            details,
        )
    if len(groups) < 2:
        only = next(iter(groups), None)
        summary = (
            f"no failover path: only {only} is healthy"
            if only is not None
            else "no failover path: no endpoint is healthy"
        )
        if len(configured) < 2:
            summary = "no failover path: only one endpoint is configured"
        return Finding(CheckId.FAILOVER_REDUNDANCY, Status.FAIL, TRUNK, summary, details)
    summary = f"{len(groups)} independent healthy endpoints: {', '.join(groups)}"
    if shared_keys:
        names = next(iter(shared_keys.values()))
        return Finding(
            CheckId.FAILOVER_REDUNDANCY,
            Status.WARN,
            TRUNK,
            f"{summary}; but {' and '.join(names)} present the same certificate key "
            "(one compromise or renewal mistake hits all)",
            details,
        )
    return Finding(CheckId.FAILOVER_REDUNDANCY, Status.PASS, TRUNK, summary, details)
