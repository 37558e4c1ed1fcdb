"""A scenario → the probe.run.commands requests the runner executes."""

from __future__ import annotations

from pathlib import Path

from probe.run.commands import FailoverRequest, OptionsRequest
from probe.run.invite import InviteRequest
from probe.scenario import load_builtin
from probe.scenario.requests import build_requests
from probe.settings import Settings
from tests.scenario.helpers import load_text, two_endpoints

FULL = """
[trunk]
name = "acme-us"
provider = "twilio"

[[endpoint]]
uri = "sip:us-south.example.net;transport=tls"
region = "us-south"
priority = 20
weight = 1

[[endpoint]]
uri = "sip:us-east.example.net;transport=tls"
region = "us-east"
priority = 10
weight = 60

[tls]
trust = "ca.pem"
min_version = "1.3"
warn_days = 40
critical_days = 10
sni = "trunk.example.net"
client_cert = "client.pem"
client_key = "client.key"
accept_wildcard = true
enumerate = true

[options]
accept = "2xx,405"
max_rtt_ms = 250
count = 3
interval = 0.5

[invite]
to = "sip:+15550100@example.net"
from = "sip:probe@acme.example"
offer = "sdes"
suites = ["AES_CM_128_HMAC_SHA1_32"]
hangup = "on-early-media"
credentials = "trunk.auth"
answer_timeout = 12.5
verify_media = true

[failover]
primary = "us-east"

[run]
timeout = 2.5
concurrency = 4
dns_server = "127.0.0.1:5353"
seed = 7
resolve = ["us-south.example.net:5061:127.0.0.1"]
"""


def test_every_key_reaches_its_request(tmp_path: Path) -> None:
    scenario = load_text(FULL, base_dir=tmp_path)
    requests = scenario.to_requests()
    assert requests.options == OptionsRequest(
        targets=(
            "sip:us-south.example.net;transport=tls",
            "sip:us-east.example.net;transport=tls",
        ),
        settings=Settings.from_flat(
            pins=("us-south.example.net:5061:127.0.0.1",),
            trust=str(tmp_path / "ca.pem"),
            cert=tmp_path / "client.pem",
            key=tmp_path / "client.key",
            sni="trunk.example.net",
            min_tls="1.3",
            timeout=2.5,
            warn_days=40,
            critical_days=10,
            accept_wildcard=True,
            enumerate_tls=True,
            accept="2xx,405",
            count=3,
            interval=0.5,
            concurrency=4,
            dns_server="127.0.0.1:5353",
            seed=7,
        ),
    )
    failover = requests.failover
    assert isinstance(failover, FailoverRequest)
    assert failover.common is requests.options
    assert (failover.priorities, failover.weights, failover.order) == (
        (20, 10),
        (1, 60),
        "priority",
    )
    assert failover.extra_notes == (
        "scenario acme-us (Twilio Elastic SIP Trunking), from t.toml",
        "intended primary: us-east (sip:us-east.example.net;transport=tls)",
    )
    invite = requests.invite
    assert isinstance(invite, InviteRequest)
    # Through the first endpoint in provider order: us-east has the lower priority.
    assert invite.common.targets == ("sip:us-east.example.net;transport=tls",)
    assert invite.common.settings.locate.pins == requests.options.settings.locate.pins
    assert (
        invite.call.to,
        invite.call.from_,
        invite.call.offer,
        invite.call.suites,
        invite.call.hangup,
    ) == (
        "sip:+15550100@example.net",
        "sip:probe@acme.example",
        "sdes",
        ("AES_CM_128_HMAC_SHA1_32",),
        "on-early-media",
    )
    assert invite.call.auth_file == tmp_path / "trunk.auth"
    assert (invite.call.answer_timeout, invite.call.verify_media) == (12.5, True)
    assert requests.invite_skipped is None


def test_defaults_match_the_command_line_defaults() -> None:
    requests = load_text(two_endpoints()).to_requests()
    defaults = OptionsRequest(
        targets=requests.options.targets, settings=Settings.from_flat(trust="system")
    )
    assert requests.options == defaults
    assert (requests.failover.priorities, requests.failover.weights) == ((), ())
    assert requests.failover.order == "list"
    assert requests.invite is None


def test_invite_via_and_env_credentials() -> None:
    text = two_endpoints(tail='[invite]\nto = "sip:+1@b.example.net"\nvia = "b"\n')
    invite = load_text(text).to_requests().invite
    assert invite is not None
    assert invite.common.targets == ("sip:b.example.net:5061;transport=tls",)
    assert invite.call.auth_file is None  # probe.run.commands reads SIPPROBE_AUTH_USER/PASSWORD
    assert invite.call.suites == ()  # probe.run.commands's default suites


def test_srv_mode_is_list_order_over_the_uris() -> None:
    scenario = load_text(
        '[trunk]\nname = "x"\n[order]\nmode = "srv"\n'
        '[[endpoint]]\nuri = "sips:a.example.net"\n[[endpoint]]\nuri = "sips:b.example.net"\n'
    )
    failover = build_requests(scenario).failover
    assert failover.order == "list"
    assert failover.extra_notes[1].startswith("order srv: each URI's SRV records order")


def test_placeholder_destination_is_never_dialled() -> None:
    scenario = load_builtin("ibm-voice-agent-srtp")
    requests = scenario.to_requests()
    assert requests.invite is None
    assert requests.invite_skipped is not None
    assert "placeholder" in requests.invite_skipped
    assert requests.invite_skipped in requests.notes
    real = scenario.with_invite_to("sip:+15550123@us-south.voiceagent.cloud.ibm.com")
    assert real.source == "builtin:ibm-voice-agent-srtp"
    invite = real.to_requests().invite
    assert invite is not None
    assert invite.call.to == "sip:+15550123@us-south.voiceagent.cloud.ibm.com"
    assert invite.common.targets == ("sip:us-south.voiceagent.cloud.ibm.com;transport=tls",)
    assert invite.call.suites == ("AES_CM_128_HMAC_SHA1_80",)


def test_no_failover_path_required_is_noted() -> None:
    text = two_endpoints(tail="[failover]\nrequire_failover_path = false\n")
    notes = load_text(text).to_requests().notes
    assert "the scenario does not require a failover path" in notes
