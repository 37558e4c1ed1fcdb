"""A scenario → the command-line requests of `probe.run.commands` that the runner executes.

The scenario only fills in what a user would otherwise type: the run's `Settings` from its
[tls], [options] and [run] tables, `OptionsRequest` (every endpoint, with those
settings), `FailoverRequest` (the same endpoints with their priorities, weights and order
mode), and, when `[invite]` is present and names a real destination, an `InviteRequest`
through one endpoint. `probe.run.commands` still validates all of it before any
connection is opened.

`sipprobe check` takes every connection option the other commands take; one given on the
command line overrides the scenario's setting for that run (`with_overrides`), and the
report says which setting it replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from probe.run.commands import FailoverRequest, OptionsRequest
from probe.run.invite import InviteRequest
from probe.scenario.inbound import SCENARIO_KEYS as INBOUND_KEYS
from probe.scenario.inbound import inbound_settings
from probe.scenario.model import ENV_CREDENTIALS, Scenario
from probe.settings import (
    CallSettings,
    LocateSettings,
    RunSettings,
    Settings,
    SipSettings,
    TlsSettings,
)

_PROVIDER_NAMES = {
    "twilio": "Twilio Elastic SIP Trunking",
    "teams": "Microsoft Teams Direct Routing",
    "chime": "Amazon Chime SDK Voice Connector",
    "dialogflow": "Google Dialogflow CX telephony",
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


def scenario_settings(scenario: Scenario) -> Settings:
    """The scenario's [tls], [options] and [run] tables as the run's settings, and its
    [inbound] table (with [inbound.stir]) as their inbound and STIR sections."""
    tls, options, run = scenario.tls, scenario.options, scenario.run
    inbound, stir = (
        inbound_settings(scenario.inbound) if scenario.inbound is not None else (None, None)
    )
    return Settings(
        tls=TlsSettings(
            trust=tls.trust,
            cert=_path(tls.client_cert),
            key=_path(tls.client_key),
            sni=tls.sni,
            min_version=tls.min_version,
            warn_days=tls.warn_days,
            critical_days=tls.critical_days,
            accept_wildcard=tls.accept_wildcard,
            accept_srv_target_identity=tls.accept_srv_target_identity,
            enumerate=tls.enumerate,
        ),
        sip=SipSettings(accept=options.accept, count=options.count, interval=options.interval),
        locate=LocateSettings(pins=tuple(run.resolve), dns_server=run.dns_server, seed=run.seed),
        run=RunSettings(timeout=run.timeout, concurrency=run.concurrency),
        inbound=inbound,
        stir=stir,
    )


def options_request(scenario: Scenario) -> OptionsRequest:
    return OptionsRequest(
        targets=tuple(endpoint.uri for endpoint in scenario.endpoints),
        settings=scenario_settings(scenario),
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
    call = CallSettings(
        to=invite.to,
        from_=invite.from_,
        offer=invite.offer,
        suites=tuple(invite.suites),
        hangup=invite.hangup,
        # `env`: probe.run.commands reads SIPPROBE_AUTH_USER / SIPPROBE_AUTH_PASSWORD itself.
        auth_file=None if invite.credentials == ENV_CREDENTIALS else Path(invite.credentials),
        auth_source="credentials file",
        answer_timeout=invite.answer_timeout,
        verify_media=invite.verify_media,
    )
    return InviteRequest(replace(common, targets=(scenario.endpoints[position].uri,)), call)


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


# Where the command line's options live in a scenario file, for the note that says what
# an option replaced. Options without an entry (--insecure, --max-time, --deadline,
# --rate, --per-target, --evidence-out) have no scenario setting: they only add.
_SCENARIO_KEYS = {
    "pins": "run.resolve",
    "ca": "tls.trust",
    "trust": "tls.trust",
    "cert": "tls.client_cert",
    "key": "tls.client_key",
    "sni": "tls.sni",
    "min_tls": "tls.min_version",
    "timeout": "run.timeout",
    "warn_days": "tls.warn_days",
    "critical_days": "tls.critical_days",
    "accept_wildcard": "tls.accept_wildcard",
    "accept_srv_target_identity": "tls.accept_srv_target_identity",
    "enumerate_tls": "tls.enumerate",
    "accept": "options.accept",
    "concurrency": "run.concurrency",
    "dns_server": "run.dns_server",
    "seed": "run.seed",
    **{name: ".".join(key) for name, key in INBOUND_KEYS.items() if name != "verify_identity"},
}
_OPTION_NAMES = {"pins": "--resolve", "enumerate_tls": "--enumerate", "deadlines": "--deadline"}


def _option(name: str) -> str:
    return _OPTION_NAMES.get(name, "--" + name.replace("_", "-"))


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _override_note(common: OptionsRequest, given: Mapping[str, Any]) -> str | None:
    replaced = []
    for name, value in given.items():
        key = _SCENARIO_KEYS.get(name)
        if key is None or (name in ("ca", "trust", "key", "listen_key") and value is None):
            continue
        settings = common.settings
        before: Any = settings.tls.trust if name in ("ca", "trust") else settings.flat(name)
        replaced.append(f"{_option(name)} {_shown(value)} (scenario {key}: {_shown(before)})")
    if not replaced:
        return None
    return "the command line overrides the scenario for this run: " + "; ".join(replaced)


def call_evidence_path(path: Path) -> Path:
    """Where `check` saves the test call's evidence: beside the failover run's file."""
    return path.with_name(f"{path.stem}.call{path.suffix or '.json'}")


def inbound_evidence_path(path: Path) -> Path:
    """Where `check --inbound` saves the calls it received: beside the failover run's file."""
    return path.with_name(f"{path.stem}.inbound{path.suffix or '.json'}")


def with_overrides(requests: ScenarioRequests, given: Mapping[str, Any]) -> ScenarioRequests:
    """The scenario's requests with the command line's options (`OptionsRequest` fields,
    only those the user gave) in place of its own settings, for every request of the run.

    The anchors are one choice: `--ca` or `--trust` replaces the scenario's `tls.trust`
    whichever of the two it is. `--cert` without `--key` drops the scenario's key too (the
    PEM then holds the key), and likewise `--listen-cert` without `--listen-key`.
    `--resolve` pins come before the scenario's, so for the same NAME:PORT the command
    line's wins (the first matching pin is used, as curl does).
    """
    known = Settings.flat_names()
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"not an option of a scenario's run: {', '.join(unknown)}")
    if not given:
        return requests
    common = requests.options
    changes = dict(given)
    if "ca" in changes or "trust" in changes:
        changes = {"ca": None, "trust": None, **changes}
    if "cert" in changes:
        changes = {"key": None, **changes}
    if "listen_cert" in changes:
        changes = {"listen_key": None, **changes}
    if "pins" in changes:
        changes["pins"] = (*changes["pins"], *common.settings.locate.pins)
    merged = replace(common, settings=common.settings.with_flat(changes))
    note = _override_note(common, given)
    notes = [*requests.failover.extra_notes, *([note] if note else [])]
    invite = requests.invite
    if invite is not None:
        out = merged.settings.run.evidence_out
        call_out = None if out is None else call_evidence_path(out)
        invite = replace(
            invite,
            common=replace(
                merged,
                targets=invite.common.targets,
                settings=merged.settings.with_flat({"evidence_out": call_out}),
            ),
        )
        if out is not None:
            notes.append(
                f"--evidence-out: the failover check saved to {out}, "
                f"the test call to {call_evidence_path(out)}"
            )
    failover = replace(requests.failover, common=merged, extra_notes=tuple(notes))
    skipped = (requests.invite_skipped,) if requests.invite_skipped else ()
    return replace(
        requests,
        options=merged,
        failover=failover,
        invite=invite,
        notes=(*notes, *skipped),
    )
