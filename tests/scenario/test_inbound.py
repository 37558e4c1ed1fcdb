"""A scenario's `[inbound]` and `[inbound.stir]`: loaded into Settings.inbound and
Settings.stir, held to the same rules as the command line (each problem at its line and
key), overridden by the command line, and absent from a scenario that has no table."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.evidence.inbound import InboundExpectation
from probe.inbound_settings import InboundSettingsError, ListenSpec, check_inbound, inbound_policy
from probe.scenario import ScenarioError, load, load_builtin, load_scenario
from probe.scenario.loader import _known_keys
from probe.scenario.requests import scenario_settings, with_overrides
from probe.settings import InboundSettings, Settings, StirSettings
from tests.scenario.helpers import load_text, problems, toml, two_endpoints

REPO = Path(__file__).resolve().parents[2]

FULL = two_endpoints(
    tail="""
    [inbound]
    listen = ["tls:0.0.0.0:5061", "udp:[::1]:5070"]
    cert = "certs/sbc.pem"
    key = "certs/sbc.key"
    peer_ca = "certs/provider-roots.pem"
    expect_peer = ["sip.provider.example", "sip2.provider.example"]
    require_client_cert = true
    require_srtp = false
    require_tls = false
    expect = 2
    within = 90
    hold = 0.5
    verify_media = true

    [inbound.stir]
    trust = "sti/trust.pem"
    cert_dir = "sti/certs"
    fetch_ca = "/etc/ssl/roots.pem"
    fetch_timeout = 1.5
    freshness = 30
    required = false
    min_attest = "B"
    """
)


def test_a_full_inbound_table_becomes_the_inbound_and_stir_settings(tmp_path: Path) -> None:
    scenario = load_text(FULL, base_dir=tmp_path)
    settings = scenario_settings(scenario)
    assert settings.inbound == InboundSettings(
        listen=("tls:0.0.0.0:5061", "udp:[::1]:5070"),
        listen_cert=tmp_path / "certs/sbc.pem",
        listen_key=tmp_path / "certs/sbc.key",
        peer_ca=tmp_path / "certs/provider-roots.pem",
        expect_peer=("sip.provider.example", "sip2.provider.example"),
        require_client_cert=True,
        require_srtp=False,
        require_tls=False,
        expect=2,
        within=90.0,
        hold=0.5,
        verify_media=True,
        verify_identity=True,
    )
    assert settings.stir == StirSettings(
        sti_trust=tmp_path / "sti/trust.pem",
        sti_cert_dir=tmp_path / "sti/certs",
        sti_fetch_ca=Path("/etc/ssl/roots.pem"),
        sti_fetch_timeout=1.5,
        sti_freshness=30,
        sti_required=False,
        sti_min_attest="B",
    )
    # Every request of the run carries them, the way the command line's settings do.
    requests = scenario.to_requests()
    assert requests.options.settings.inbound == settings.inbound
    assert requests.failover.common.settings.stir == settings.stir


def test_the_scenarios_settings_pass_the_one_check_and_make_the_plan_and_policy(
    tmp_path: Path,
) -> None:
    settings = scenario_settings(load_text(FULL, base_dir=tmp_path))
    plan = check_inbound(settings)
    assert plan.listen == (ListenSpec("tls", "0.0.0.0", 5061), ListenSpec("udp", "::1", 5070))
    assert plan.expectation == InboundExpectation(
        calls=2, within_s=90.0, verify_media=True, verify_identity=True, hold_s=0.5
    )
    assert plan.stir == settings.stir
    policy = inbound_policy(settings)
    assert policy.expect_peer == ("sip.provider.example", "sip2.provider.example")
    assert (policy.require_client_cert, policy.require_srtp, policy.require_tls) == (
        True,
        False,
        False,
    )


def test_an_empty_inbound_table_means_the_defaults() -> None:
    scenario = load_text(two_endpoints(tail='[inbound]\ncert = "/etc/sbc.pem"\n'))
    settings = scenario_settings(scenario)
    assert settings.inbound == InboundSettings(listen_cert=Path("/etc/sbc.pem"))
    assert settings.stir is None
    plan = check_inbound(settings)
    assert plan.stir is None
    assert plan.expectation == InboundExpectation()


def test_without_inbound_the_settings_are_exactly_as_before() -> None:
    scenario = load_text(two_endpoints())
    assert scenario.inbound is None
    settings = scenario_settings(scenario)
    assert settings.inbound is None
    assert settings.stir is None
    with_table = scenario_settings(load_text(FULL))
    # Nothing else moves when [inbound] is added.
    assert (with_table.tls, with_table.sip, with_table.locate, with_table.run) == (
        settings.tls,
        settings.sip,
        settings.locate,
        settings.run,
    )


def test_our_certificate_may_come_from_the_command_line_and_the_run_asks_for_it() -> None:
    scenario = load_text(two_endpoints(tail="[inbound]\n"))
    settings = scenario_settings(scenario)
    with pytest.raises(InboundSettingsError) as caught:
        check_inbound(settings)
    assert [p.setting for p in caught.value.problems] == ["listen_cert"]
    assert str(caught.value).startswith("--listen-cert: a TLS listener (tls:0.0.0.0:5061)")
    assert check_inbound(settings.with_flat({"listen_cert": Path("sbc.pem")})).listen


# --- every problem, at its line and key --------------------------------------------------

BAD = """
[trunk]
name = "t"

[[endpoint]]
uri = "sip:a.example.net:5061;transport=tls"

[inbound]
listen = [
  "tls:0.0.0.0:5061",
  "tls:sbc.example.net:5061",
  "tcp:127.0.0.1:70000",
]
expect = 0
within = -1
hold = nan
require_srtp = "yes"
expect_peers = ["sip.provider.example"]

[inbound.stir]
freshness = 0
fetch_timeout = inf
min_attest = "D"
"""


def test_every_field_problem_is_reported_at_once_with_its_line_and_key() -> None:
    found = problems(BAD)
    assert found == [
        "t.toml:10 inbound.listen[1]: 'sbc.example.net' is not an IP address (names are not "
        "resolved to listen: give an address of this machine, 0.0.0.0 or [::] for all)",
        "t.toml:11 inbound.listen[2]: port 70000 out of range 0-65535 (0 picks a free port)",
        "t.toml:13 inbound.expect: Input should be greater than or equal to 1",
        "t.toml:14 inbound.within: Input should be greater than 0",
        "t.toml:15 inbound.hold: Input should be a finite number",
        "t.toml:16 inbound.require_srtp: Input should be a valid boolean",
        "t.toml:17 inbound.expect_peers: unknown key 'expect_peers'; did you mean 'expect_peer'?",
        "t.toml:19 inbound.stir.trust: required key missing",
        "t.toml:20 inbound.stir.freshness: Input should be greater than or equal to 1",
        "t.toml:21 inbound.stir.fetch_timeout: Input should be a finite number",
        "t.toml:22 inbound.stir.min_attest: Input should be 'A', 'B' or 'C'",
    ]


RULES = """
[trunk]
name = "t"

[[endpoint]]
uri = "sip:a.example.net:5061;transport=tls"

[inbound]
listen = ["tcp:0.0.0.0:5060", "udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
key = "sbc.key"
expect_peer = ["sip:sip.provider.example"]
require_client_cert = true
"""


def test_the_rules_between_keys_are_the_command_lines_each_at_its_key() -> None:
    assert problems(RULES) == [
        "t.toml:7 inbound.require_tls: every listener is TCP, UDP or WS, so every call would "
        "fail for want of TLS: add a tls: or wss: listener, or do not require TLS",
        "t.toml:8 inbound.listen[2]: the same TCP port as tcp:0.0.0.0:5060: one socket "
        "cannot listen twice",
        "t.toml:9 inbound.key: a key needs its certificate chain",
        "t.toml:10 inbound.expect_peer: only a TLS caller presents a certificate, and no "
        "listener is tls: or wss:",
        "t.toml:10 inbound.expect_peer[0]: not a host name (the caller's certificate names it, "
        "RFC 5922 §7.1: e.g. sip.pstnhub.microsoft.com, without sip: or a port)",
        "t.toml:11 inbound.require_client_cert: only a TLS caller presents a certificate, and "
        "no listener is tls: or wss:",
    ]


def test_files_the_inbound_table_names_must_exist(tmp_path: Path) -> None:
    (tmp_path / "sbc.pem").write_text("ours")
    (tmp_path / "sti").mkdir()
    path = tmp_path / "acme.toml"
    path.write_text(
        toml(
            two_endpoints(
                tail="""
                [inbound]
                cert = "sbc.pem"
                key = "missing.key"
                peer_ca = "roots"

                [inbound.stir]
                trust = "sti"
                fetch_ca = "web.pem"
                """
            )
        )
    )
    load_scenario(path)  # without check_files, only the values are judged
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, check_files=True)
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}:16 inbound.key: {tmp_path / 'missing.key'} does not exist",
        f"{path}:17 inbound.peer_ca: {tmp_path / 'roots'} does not exist",
        f"{path}:21 inbound.stir.fetch_ca: {tmp_path / 'web.pem'} does not exist",
    ]
    with pytest.raises(ScenarioError) as caught:
        load(str(path))  # what `check FILE` loads with
    assert str(caught.value).splitlines() == lines


# --- built-ins and the command line ---------------------------------------------------


@pytest.mark.parametrize("name", ["teams-direct-routing", "twilio-secure-trunk"])
def test_builtins_say_what_the_provider_documents_about_its_calls(name: str) -> None:
    scenario = load_builtin(name)
    assert scenario.inbound is not None
    settings = scenario_settings(scenario)
    assert settings.inbound is not None
    assert settings.inbound.listen == ("tls:0.0.0.0:5061",)
    assert settings.inbound.require_tls is True
    assert settings.inbound.require_srtp is True
    # Nothing they do not document: no peer names, no Identity verification, no cert.
    assert settings.inbound.expect_peer == ()
    assert settings.stir is None
    assert settings.inbound.listen_cert is None
    given = settings.with_flat({"listen_cert": Path("sbc.pem")})
    assert check_inbound(given).listen == (ListenSpec("tls", "0.0.0.0", 5061),)


def test_other_builtins_have_no_inbound_table() -> None:
    for name in ("amazon-chime", "dialogflow-cx", "ibm-voice-agent", "ibm-voice-agent-srtp"):
        assert load_builtin(name).inbound is None


def test_a_copy_with_another_destination_keeps_the_inbound_table() -> None:
    scenario = load_builtin("twilio-secure-trunk")
    copy = scenario.with_invite_to("sip:+15550100@sbc.example.net")
    assert copy.inbound == scenario.inbound


def test_the_command_line_overrides_inbound_keys_and_says_so() -> None:
    requests = load_text(FULL).to_requests()
    changed = with_overrides(
        requests,
        {"listen": ("tls:127.0.0.1:0",), "listen_cert": Path("lab/server.pem"), "expect": 1},
    )
    inbound = changed.options.settings.inbound
    assert inbound is not None
    assert inbound.listen == ("tls:127.0.0.1:0",)
    assert inbound.listen_cert == Path("lab/server.pem")
    assert inbound.listen_key is None  # the scenario's key went with its certificate
    assert inbound.expect == 1
    assert inbound.expect_peer == ("sip.provider.example", "sip2.provider.example")
    assert changed.options.settings.stir is not None  # untouched
    note = next(n for n in changed.failover.extra_notes if n.startswith("the command line"))
    assert "--listen tls:127.0.0.1:0 (scenario inbound.listen: tls:0.0.0.0:5061, " in note
    assert "--listen-cert lab/server.pem (scenario inbound.cert: " in note
    assert "--expect 1 (scenario inbound.expect: 2)" in note
    # A STIR option on the command line over a scenario without [inbound.stir].
    plain = load_text(two_endpoints(tail='[inbound]\ncert = "/etc/sbc.pem"\n')).to_requests()
    stirred = with_overrides(plain, {"sti_trust": Path("sti.pem")})
    assert stirred.options.settings.stir == StirSettings(sti_trust=Path("sti.pem"))
    assert check_inbound(stirred.options.settings).expectation.verify_identity is True
    # And inbound options over a scenario without [inbound] make the section.
    bare = with_overrides(load_text(two_endpoints()).to_requests(), {"expect": 3})
    assert bare.options.settings.inbound == InboundSettings(expect=3)
    assert Settings().inbound is None


def test_the_schema_readme_documents_every_inbound_key() -> None:
    readme = (REPO / "scenarios" / "README.md").read_text(encoding="utf-8")
    assert "## `[inbound]`" in readme
    assert "### `[inbound.stir]`" in readme
    for path in (("inbound",), ("inbound", "stir")):
        for key in _known_keys(path):
            if key != "stir":
                assert f"| `{key}` |" in readme, f"{'.'.join(path)}.{key} is not documented"
