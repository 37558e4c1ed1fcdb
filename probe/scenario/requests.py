"""A scenario → the command-line requests of `probe.app` that the runner executes.

The scenario only fills in what a user would otherwise type: `OptionsRequest` (every
endpoint, with the TLS, OPTIONS and run settings), `FailoverRequest` (the same endpoints
with their priorities, weights and order mode), and, when `[invite]` is present and names
a real destination, an `InviteRequest` through one endpoint. `probe.app` still validates
all of it before any connection is opened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from probe.app import FailoverRequest, OptionsRequest
from probe.app_invite import InviteRequest
from probe.scenario.model import ENV_CREDENTIALS, Scenario

_PROVIDER_NAMES = {
    "twilio": "Twilio Elastic SIP Trunking",
    "teams": "Microsoft Teams Direct Routing",
    "chime": "Amazon Chime SDK Voice Connector",
    "ibm-voice-agent": "IBM Voice Agent with Watson",
    "generic": "generic SIP trunk",
}


@dataclass(frozen=True, slots=True)
class ScenarioRequests:
    """What one scenario asks the runner to do."""

    options: OptionsRequest
    failover: FailoverRequest
    invite: InviteRequest | None
    """None without `[invite]`, or while `invite.to` is a placeholder (see `invite_skipped`)."""
    invite_skipped: str | None
    """Why a test call in the scenario will not be placed, or None."""
    notes: tuple[str, ...]


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def options_request(scenario: Scenario) -> OptionsRequest:
    tls, options, run = scenario.tls, scenario.options, scenario.run
    return OptionsRequest(
        targets=tuple(endpoint.uri for endpoint in scenario.endpoints),
        pins=tuple(run.resolve),
        trust=tls.trust,
        cert=_path(tls.client_cert),
        key=_path(tls.client_key),
        sni=tls.sni,
        min_tls=tls.min_version,
        timeout=run.timeout,
        warn_days=tls.warn_days,
        critical_days=tls.critical_days,
        accept_wildcard=tls.accept_wildcard,
        enumerate_tls=tls.enumerate,
        accept=options.accept,
        count=options.count,
        interval=options.interval,
        concurrency=run.concurrency,
        dns_server=run.dns_server,
        seed=run.seed,
    )


def _notes(scenario: Scenario) -> list[str]:
    trunk = scenario.trunk
    notes = [f"scenario {trunk.name} ({_PROVIDER_NAMES[trunk.provider]}), from {scenario.source}"]
    if scenario.order_mode == "srv":
        notes.append(
            "order srv: each URI's SRV records order its own targets (RFC 2782); "
            "the URIs are tried as listed"
        )
    primary = scenario.intended_primary
    if primary is not None:
        endpoint = scenario.endpoints[primary]
        notes.append(f"intended primary: {endpoint.region or endpoint.uri} ({endpoint.uri})")
    if not scenario.failover.require_failover_path:
        notes.append("the scenario does not require a failover path")
    return notes


def failover_request(scenario: Scenario, common: OptionsRequest) -> FailoverRequest:
    endpoints = scenario.endpoints
    # Every endpoint has a priority or none does (probe.scenario.rules), and likewise weights.
    priorities = tuple(e.priority for e in endpoints if e.priority is not None)
    weights = tuple(e.weight for e in endpoints if e.weight is not None)
    mode = scenario.order_mode
    return FailoverRequest(
        common=common,
        priorities=priorities if len(priorities) == len(endpoints) else (),
        weights=weights if len(weights) == len(endpoints) else (),
        order="list" if mode == "srv" else mode,
        extra_notes=tuple(_notes(scenario)),
    )


def invite_request(scenario: Scenario, common: OptionsRequest) -> InviteRequest | None:
    """The test call through the chosen endpoint, or None when there is none to place."""
    invite, position = scenario.invite, scenario.invite_endpoint
    if invite is None or position is None or invite.is_placeholder:
        return None
    return InviteRequest(
        common=replace(common, targets=(scenario.endpoints[position].uri,)),
        to=invite.to,
        from_=invite.from_,
        offer=invite.offer,
        suites=tuple(invite.suites),
        hangup=invite.hangup,
        # `env`: probe.app reads SIPPROBE_AUTH_USER / SIPPROBE_AUTH_PASSWORD itself.
        auth_file=None if invite.credentials == ENV_CREDENTIALS else Path(invite.credentials),
        auth_source="credentials file",
        answer_timeout=invite.answer_timeout,
        verify_media=invite.verify_media,
    )


def build_requests(scenario: Scenario) -> ScenarioRequests:
    common = options_request(scenario)
    failover = failover_request(scenario, common)
    invite = invite_request(scenario, common)
    skipped = None
    if scenario.invite is not None and scenario.invite.is_placeholder:
        skipped = (
            f"no test call: invite.to {scenario.invite.to} is a placeholder (.invalid, "
            "RFC 6761 §6.4); give the number to call (a copy of the scenario with its "
            "own invite.to, or Scenario.with_invite_to)"
        )
    notes = [*failover.extra_notes, *([skipped] if skipped else [])]
    return ScenarioRequests(common, failover, invite, skipped, tuple(notes))
