"""Rules across fields, and the providers' documented limits, checked on a valid scenario.

Each rule returns every problem it finds, located at the key to change. A provider rule's
message names the rule (`[chime.priority]`) and the document it comes from, so a reader
can check the limit rather than trust it. Sources (research/anchors.md §3):

- Twilio: OriginationUrl resource, docs.twilio.com /sip-trunking/api/origination-urls
  (`sip_url` must use the `sip:` scheme, `sips:` is not supported; priority 0–65535,
  lowest first; weight 1–65535 shares load within a priority).
- Amazon Chime SDK Voice Connector: OriginationRoute, docs.aws.amazon.com
  /chime-sdk/latest/APIReference/API_voice-chime_OriginationRoute.html (priority 1–100,
  1 first; weight 1–100; at most 10 routes per Voice Connector).
- Microsoft Teams Direct Routing: MicrosoftDocs `Teams/direct-routing-plan.md` and
  "Direct Routing – SIP protocol" (SIPS URIs are not supported; TLS to port 5061 of
  sip/sip2/sip3.pstnhub.microsoft.com, in that fixed order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probe.scenario.model import Endpoint, Located, Scenario

TWILIO_SOURCE = "Twilio OriginationUrl resource, /sip-trunking/api/origination-urls"
CHIME_SOURCE = "Amazon Chime SDK OriginationRoute, API_voice-chime_OriginationRoute"
TEAMS_SOURCE = "Microsoft Teams Direct Routing, direct-routing-plan.md"

CHIME_MAX_ROUTES = 10
TEAMS_PORT = 5061

# (provider, field) → (lowest, highest, what the number means)
_RANGES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("twilio", "weight"): (1, 65535, "the share of load within a priority"),
    ("chime", "priority"): (1, 100, "1 is tried first"),
    ("chime", "weight"): (1, 100, "the share of calls among equal priorities"),
}
_SOURCES = {"twilio": TWILIO_SOURCE, "chime": CHIME_SOURCE, "teams": TEAMS_SOURCE}
_NAMES = {"twilio": "Twilio", "chime": "Amazon Chime", "teams": "Microsoft Teams"}


def _provider_rule(provider: str, rule: str, text: str) -> str:
    return f"[{provider}.{rule}] {text} ({_SOURCES[provider]})"


def check_rules(scenario: Scenario) -> list[Located]:
    """Every cross-field and provider problem of a scenario whose fields are valid."""
    return [
        *_ordering(scenario),
        *_references(scenario),
        *_provider_limits(scenario),
    ]


def _ordering(scenario: Scenario) -> list[Located]:
    """Priorities and weights, as RFC 2782 and the providers use them."""
    problems: list[Located] = []
    endpoints = scenario.endpoints
    with_priority = [e.priority is not None for e in endpoints]
    mode = scenario.order_mode
    for i, endpoint in enumerate(endpoints):
        # RFC 2782: weight only orders targets of equal priority.
        if endpoint.weight is not None and endpoint.priority is None:
            problems.append(
                (
                    ("endpoint", i, "weight"),
                    "a weight needs a priority: weights share traffic among endpoints of "
                    "the same priority (RFC 2782)",
                    endpoint.weight,
                )
            )
        elif endpoint.priority is None and any(with_priority):
            why = (
                'order.mode = "priority" orders every endpoint by it'
                if mode == "priority"
                else "give every endpoint a priority, or none"
            )
            problems.append((("endpoint", i), f"this endpoint has no priority: {why}", None))
    if mode == "priority" and not any(with_priority):
        problems.append(
            (
                ("order", "mode"),
                'order.mode = "priority" needs a priority on every endpoint',
                mode,
            )
        )
    weighted = [e.weight is not None for e in endpoints]
    if any(weighted) and not all(weighted):
        for i, endpoint in enumerate(endpoints):
            if endpoint.weight is None and endpoint.priority is not None:
                problems.append(
                    (("endpoint", i), "the other endpoints have weights: give one to each", None)
                )
    if mode == "srv":
        problems.extend(_srv(endpoints))
    return problems


def _srv(endpoints: list[Endpoint]) -> list[Located]:
    """In SRV mode the DNS orders the targets, so nothing here may bypass or override it."""
    problems: list[Located] = []
    for i, endpoint in enumerate(endpoints):
        uri = endpoint.sip_uri
        if uri.port is not None or uri.host_kind != "name":
            # RFC 3263 §4.2: an explicit port or an IP literal means no SRV lookup.
            problems.append(
                (
                    ("endpoint", i, "uri"),
                    'order.mode = "srv", but an explicit port or IP address skips the SRV '
                    "lookup (RFC 3263 §4.2): give a bare name",
                    endpoint.uri,
                )
            )
        for key in ("priority", "weight"):
            if getattr(endpoint, key) is not None:
                problems.append(
                    (
                        ("endpoint", i, key),
                        f'order.mode = "srv" takes the {key} from the SRV records (RFC 2782)',
                        getattr(endpoint, key),
                    )
                )
    return problems


def _references(scenario: Scenario) -> list[Located]:
    """`failover.primary` and `invite.via` must designate a configured endpoint."""
    problems: list[Located] = []
    choices = ", ".join(
        sorted({e.region for e in scenario.endpoints if e.region} | {scenario.endpoints[0].uri})
    )
    primary = scenario.failover.primary
    if primary is not None:
        named = scenario.find(primary)
        if not named:
            problems.append(
                (
                    ("failover", "primary"),
                    f"{primary!r} names no endpoint (a region, URI or host: {choices}, ...)",
                    primary,
                )
            )
        else:
            for i, endpoint in enumerate(scenario.endpoints):
                if endpoint.role == "primary" and i not in named:
                    problems.append(
                        (
                            ("endpoint", i, "role"),
                            f'role = "primary" contradicts failover.primary = {primary!r}',
                            endpoint.role,
                        )
                    )
    invite = scenario.invite
    if invite is not None and invite.via is not None and not scenario.find(invite.via):
        problems.append(
            (
                ("invite", "via"),
                f"{invite.via!r} names no endpoint (a region, URI or host: {choices}, ...)",
                invite.via,
            )
        )
    return problems


def _provider_limits(scenario: Scenario) -> list[Located]:
    provider = scenario.trunk.provider
    if provider not in _SOURCES:
        return []
    name = _NAMES[provider]
    problems: list[Located] = []
    for i, endpoint in enumerate(scenario.endpoints):
        for key in ("priority", "weight"):
            limits = _RANGES.get((provider, key))
            value = getattr(endpoint, key)
            if limits is not None and value is not None and not limits[0] <= value <= limits[1]:
                low, high, meaning = limits
                problems.append(
                    (
                        ("endpoint", i, key),
                        _provider_rule(
                            provider, key, f"{name} takes a {key} of {low}–{high} ({meaning})"
                        ),
                        value,
                    )
                )
        uri = endpoint.sip_uri
        if provider in ("twilio", "teams") and uri.scheme == "sips":
            problems.append(
                (
                    ("endpoint", i, "uri"),
                    _provider_rule(
                        provider,
                        "scheme",
                        f"{name} does not support sips: URIs; write sip:…;transport=tls",
                    ),
                    endpoint.uri,
                )
            )
        if provider == "teams":
            problems.extend(_teams_uri(i, endpoint))
    mode = scenario.order.mode
    if (
        provider in ("twilio", "chime")
        and mode not in (None, "priority")
        and any(e.priority is not None for e in scenario.endpoints)
    ):
        problems.append(
            (
                ("order", "mode"),
                _provider_rule(
                    provider,
                    "order",
                    f"{name} tries endpoints by priority, then weight: "
                    f'order.mode = "{scenario.order.mode}" contradicts the priorities given',
                ),
                scenario.order.mode,
            )
        )
    if provider == "chime" and len(scenario.endpoints) > CHIME_MAX_ROUTES:
        problems.append(
            (
                ("endpoint", CHIME_MAX_ROUTES),
                _provider_rule(
                    "chime",
                    "routes",
                    f"a Voice Connector has at most {CHIME_MAX_ROUTES} origination routes; "
                    f"this scenario has {len(scenario.endpoints)}",
                ),
                None,
            )
        )
    return problems


def _teams_uri(i: int, endpoint: Endpoint) -> list[Located]:
    """Teams: TLS to port 5061 (the SBC → SIP proxy leg is TLS only)."""
    uri = endpoint.sip_uri
    problems: list[Located] = []
    if uri.port is not None and uri.port != TEAMS_PORT:
        problems.append(
            (
                ("endpoint", i, "uri"),
                _provider_rule(
                    "teams",
                    "port",
                    f"the SIP proxies listen on port {TEAMS_PORT}, not {uri.port}",
                ),
                endpoint.uri,
            )
        )
    if uri.scheme == "sip" and uri.transport != "tls":
        problems.append(
            (
                ("endpoint", i, "uri"),
                _provider_rule(
                    "teams",
                    "transport",
                    "signalling to the SIP proxies is TLS only: add ;transport=tls",
                ),
                endpoint.uri,
            )
        )
    return problems
