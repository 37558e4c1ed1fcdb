"""`sipprobe check`'s command-line options over a scenario's own settings (pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from probe.locate.pins import find_pin, parse_pin
from probe.run.commands import OptionsRequest
from probe.scenario import load
from probe.scenario.requests import call_evidence_path, with_overrides

TEAMS_PIN = "sip.pstnhub.microsoft.com:5061:127.0.0.1"


def with_settings(request: OptionsRequest, **changes: object) -> OptionsRequest:
    return replace(request, settings=request.settings.with_flat(changes))


def test_nothing_given_leaves_the_scenario_as_it_is() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    assert with_overrides(requests, {}) is requests


def test_ca_replaces_the_scenarios_trust_and_the_note_says_so() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    assert requests.options.settings.flat("trust") == "mozilla"
    changed = with_overrides(
        requests, {"ca": Path("lab/ca.pem"), "pins": (TEAMS_PIN,), "timeout": 2.0}
    )
    for common in (changed.options, changed.failover.common):
        # One choice of anchors: --ca does not sit beside the scenario's trust = "mozilla".
        assert common.settings.flat("ca") == Path("lab/ca.pem")
        assert common.settings.flat("trust") is None
        assert common.settings.flat("pins") == (TEAMS_PIN,)
        assert common.settings.flat("timeout") == 2.0
        # What the command line did not give stays the scenario's.
        assert common.settings.flat("accept_wildcard") is True
        assert common.settings.flat("enumerate_tls") is True
    note = next(n for n in changed.failover.extra_notes if n.startswith("the command line"))
    assert note == (
        "the command line overrides the scenario for this run: "
        f"--ca lab/ca.pem (scenario tls.trust: mozilla); --resolve {TEAMS_PIN} "
        "(scenario run.resolve: none); --timeout 2 (scenario run.timeout: 5)"
    )
    assert changed.notes.count(note) == 1


def test_a_command_line_pin_wins_over_the_scenarios_for_the_same_name_and_port() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    scenario_pin = "sip2.pstnhub.microsoft.com:5061:192.0.2.2"
    base = replace(requests, options=with_settings(requests.options, pins=(scenario_pin,)))
    mine = "sip2.pstnhub.microsoft.com:5061:127.0.0.2"
    changed = with_overrides(base, {"pins": (mine,)})
    # The first matching pin is the one used (probe.locate.pins.find_pin, as curl).
    assert changed.options.settings.flat("pins") == (mine, scenario_pin)
    pins = tuple(parse_pin(text) for text in changed.options.settings.flat("pins"))
    chosen = find_pin(pins, "sip2.pstnhub.microsoft.com", 5061)
    assert chosen is not None
    assert chosen.address == "127.0.0.2"


def test_trust_given_replaces_a_scenarios_ca_file_too() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    with_file = replace(requests, options=with_settings(requests.options, trust="/etc/lab.pem"))
    changed = with_overrides(with_file, {"trust": "system"})
    assert (changed.options.settings.flat("trust"), changed.options.settings.flat("ca")) == (
        "system",
        None,
    )


def test_cert_without_key_drops_the_scenarios_key() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    with_identity = replace(
        requests,
        options=with_settings(requests.options, cert=Path("sbc.pem"), key=Path("sbc.key")),
    )
    changed = with_overrides(with_identity, {"cert": Path("lab-client.pem")})
    assert (changed.options.settings.flat("cert"), changed.options.settings.flat("key")) == (
        Path("lab-client.pem"),
        None,
    )


def test_the_test_call_gets_the_options_and_its_own_evidence_file() -> None:
    scenario = load("builtin:ibm-voice-agent-srtp").with_invite_to("sip:+15550100@127.0.0.1")
    requests = scenario.to_requests()
    assert requests.invite is not None
    out = Path("/tmp/run.json")
    changed = with_overrides(requests, {"insecure": True, "evidence_out": out, "max_time": 9.0})
    assert changed.invite is not None
    call = changed.invite.common
    assert call.settings.flat("insecure") is True
    assert call.settings.flat("max_time") == 9.0
    assert call.targets == requests.invite.common.targets  # still the one endpoint
    assert changed.failover.common.settings.flat("evidence_out") == out
    assert (
        call.settings.flat("evidence_out") == call_evidence_path(out) == Path("/tmp/run.call.json")
    )
    assert any(str(call_evidence_path(out)) in note for note in changed.notes)
    # Options without a scenario setting add to it: nothing is said to be replaced.
    assert not any(note.startswith("the command line") for note in changed.notes)


def test_an_unknown_option_is_a_programming_error() -> None:
    requests = load("builtin:teams-direct-routing").to_requests()
    with pytest.raises(ValueError, match="not an option of a scenario's run: colour"):
        with_overrides(requests, {"colour": "blue"})
