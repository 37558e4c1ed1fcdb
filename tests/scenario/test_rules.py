"""Rules across fields and the providers' documented limits: each problem at its key."""

from __future__ import annotations

import pytest

from tests.scenario.helpers import load_text, problems, two_endpoints


def test_a_valid_two_endpoint_scenario_loads() -> None:
    scenario = load_text(two_endpoints())
    assert scenario.order_mode == "list"
    assert scenario.provider_order() == [0, 1]


# --- cross-field rules -------------------------------------------------------------------


def test_weight_needs_a_priority() -> None:
    assert problems(two_endpoints(first="weight = 5", second="weight = 5")) == [
        "t.toml:8 endpoint[0].weight: a weight needs a priority: weights share traffic "
        "among endpoints of the same priority (RFC 2782)",
        "t.toml:13 endpoint[1].weight: a weight needs a priority: weights share traffic "
        "among endpoints of the same priority (RFC 2782)",
    ]


def test_priorities_on_every_endpoint_or_none() -> None:
    assert problems(two_endpoints(first="priority = 1")) == [
        't.toml:10 endpoint[1]: this endpoint has no priority: order.mode = "priority" '
        "orders every endpoint by it"
    ]


def test_weights_on_every_endpoint_or_none() -> None:
    text = two_endpoints(first="priority = 1\nweight = 3", second="priority = 2")
    assert problems(text) == [
        "t.toml:11 endpoint[1]: the other endpoints have weights: give one to each"
    ]


def test_priority_mode_needs_priorities() -> None:
    text = two_endpoints(tail='[order]\nmode = "priority"\n')
    assert problems(text) == [
        't.toml:15 order.mode: order.mode = "priority" needs a priority on every endpoint'
    ]


def test_srv_mode_needs_bare_names_and_no_priorities() -> None:
    text = two_endpoints(
        first="priority = 1", second="priority = 2", tail='[order]\nmode = "srv"\n'
    )
    lines = problems(text)
    assert lines[0].startswith('t.toml:6 endpoint[0].uri: order.mode = "srv", but an explicit port')
    assert "RFC 3263 §4.2" in lines[0]
    assert (
        't.toml:8 endpoint[0].priority: order.mode = "srv" takes the priority from the SRV'
        in (lines[1])
    )
    assert len(lines) == 4
    ok = load_text(
        '[trunk]\nname = "x"\n[order]\nmode = "srv"\n[[endpoint]]\nuri = "sips:trunk.example.net"\n'
    )
    assert ok.order_mode == "srv"


def test_critical_days_at_most_warn_days() -> None:
    text = two_endpoints(tail="[tls]\nwarn_days = 5\ncritical_days = 10\n")
    assert problems(text) == [
        "t.toml:16 tls.critical_days: critical_days (10) must not exceed warn_days (5): "
        "a certificate warns first, then fails"
    ]


@pytest.mark.parametrize(
    ("given", "missing"), [("client_cert", "client_key"), ("client_key", "client_cert")]
)
def test_client_cert_and_key_together(given: str, missing: str) -> None:
    text = two_endpoints(tail=f'[tls]\n{given} = "c.pem"\n')
    (line,) = problems(text)
    assert line.startswith(f"t.toml:14 tls.{missing}: {given} needs {missing}")


def test_failover_primary_and_invite_via_must_name_an_endpoint() -> None:
    text = two_endpoints(
        tail='[invite]\nto = "sip:+1@a.example.net"\nvia = "c"\n[failover]\nprimary = "nowhere"\n'
    )
    assert problems(text) == [
        "t.toml:16 invite.via: 'c' names no endpoint (a region, URI or host: a, b, "
        "sip:a.example.net:5061;transport=tls, ...)",
        "t.toml:18 failover.primary: 'nowhere' names no endpoint (a region, URI or host: a, b, "
        "sip:a.example.net:5061;transport=tls, ...)",
    ]


def test_endpoints_are_named_by_region_uri_or_host() -> None:
    for name in ("b", "sip:b.example.net:5061;transport=tls", "B.example.net"):
        scenario = load_text(two_endpoints(tail=f'[failover]\nprimary = "{name}"\n'))
        assert scenario.intended_primary == 1


def test_role_primary_contradicting_failover_primary() -> None:
    text = two_endpoints(first='role = "primary"', tail='[failover]\nprimary = "b"\n')
    assert problems(text) == [
        "t.toml:8 endpoint[0].role: role = \"primary\" contradicts failover.primary = 'b'"
    ]


def test_invite_checks() -> None:
    lines = problems(
        two_endpoints(
            tail='[invite]\nto = "sip:+1@a.example.net"\noffer = "dtls"\n'
            'suites = ["AES_CM_128_HMAC_SHA1_80"]\n'
        )
    )
    assert lines == ["t.toml:17 invite.suites: suites choose SDES keys (RFC 4568); offer is dtls"]
    lines = problems(
        two_endpoints(
            tail='[invite]\nto = "sip:+1@a.example.net"\n'
            'suites = ["AES_CM_128_HMAC_SHA1_80", "ROT13"]\n'
        )
    )
    assert lines[0].startswith("t.toml:16 invite.suites[1]: unknown SRTP suite (RFC 4568")
    assert problems(two_endpoints(tail='[invite]\nfrom = "x"\n')) == [
        "t.toml:14 invite.to: required key missing",
        "t.toml:15 invite.from: not a SIP URI: invalid SIP URI 'x': no 'sip:' or 'sips:' scheme "
        "at offset 0",
    ]


def test_field_limits_match_the_command_line() -> None:
    lines = problems(
        two_endpoints(
            tail=(
                '[options]\naccept = "5xx"\ninterval = -1.0\n'
                '[run]\ntimeout = 0.0\nconcurrency = 0\ndns_server = "dns.example"\n'
            )
        )
    )
    assert [line.split(":", 2)[1].split(" ")[1] for line in lines] == [
        "options.accept",
        "options.interval",
        "run.timeout",
        "run.concurrency",
        "run.dns_server",
    ]
    assert "5xx answers are always unhealthy (RFC 3261 §21.5.4)" in lines[0]


def test_endpoint_uri_transport() -> None:
    (line,) = problems(
        two_endpoints().replace("a.example.net:5061;transport=tls", "a.example.net;transport=sctp")
    )
    assert line == "t.toml:6 endpoint[0].uri: transport=sctp is not tls, tcp, udp, ws or wss"


# --- provider limits -----------------------------------------------------------------------


def test_twilio_limits() -> None:
    text = two_endpoints(
        trunk='provider = "twilio"',
        first="priority = 0\nweight = 0",
        second="priority = 65535\nweight = 65535",
    ).replace("sip:b.example.net:5061", "sips:b.example.net:5061")
    assert problems(text) == [
        "t.toml:9 endpoint[0].weight: [twilio.weight] Twilio takes a weight of 1–65535 (the "
        "share of load within a priority) (Twilio OriginationUrl resource, "
        "/sip-trunking/api/origination-urls)",
        "t.toml:12 endpoint[1].uri: [twilio.scheme] Twilio does not support sips: URIs; write "
        "sip:…;transport=tls (Twilio OriginationUrl resource, /sip-trunking/api/origination-urls)",
    ]
    text = two_endpoints(trunk='provider = "twilio"', first="priority = 1", second="priority = 2")
    assert load_text(text).order_mode == "priority"
    lines = problems(text + '[order]\nmode = "list"\n')
    assert lines[0].startswith(
        "t.toml:15 order.mode: [twilio.order] Twilio tries endpoints by priority"
    )


def test_generic_priority_limit_is_16_bits() -> None:
    (line,) = problems(two_endpoints(first="priority = 65536", second="priority = 1"))
    assert line == "t.toml:8 endpoint[0].priority: Input should be less than or equal to 65535"


def test_chime_limits() -> None:
    text = two_endpoints(
        trunk='provider = "chime"',
        first="priority = 0\nweight = 101",
        second="priority = 100\nweight = 1",
    )
    lines = problems(text)
    assert lines == [
        "t.toml:8 endpoint[0].priority: [chime.priority] Amazon Chime takes a priority of 1–100 "
        "(1 is tried first) (Amazon Chime SDK OriginationRoute, API_voice-chime_OriginationRoute)",
        "t.toml:9 endpoint[0].weight: [chime.weight] Amazon Chime takes a weight of 1–100 (the "
        "share of calls among equal priorities) (Amazon Chime SDK OriginationRoute, "
        "API_voice-chime_OriginationRoute)",
    ]


def test_chime_at_most_ten_routes() -> None:
    routes = "".join(
        f'[[endpoint]]\nuri = "sip:r{i}.example.net:5061;transport=tls"\n' for i in range(11)
    )
    lines = problems(f'[trunk]\nname = "x"\nprovider = "chime"\n{routes}')
    assert lines == [
        "t.toml:24 endpoint[10]: [chime.routes] a Voice Connector has at most 10 origination "
        "routes; this scenario has 11 (Amazon Chime SDK OriginationRoute, "
        "API_voice-chime_OriginationRoute)"
    ]
    assert (
        len(
            load_text(
                f'[trunk]\nname = "x"\nprovider = "chime"\n{routes[: routes.rindex("[[")]}'
            ).endpoints
        )
        == 10
    )


def test_teams_limits() -> None:
    text = two_endpoints(trunk='provider = "teams"')
    assert load_text(text).order_mode == "fixed"
    bad = text.replace("sip:a.example.net:5061;transport=tls", "sips:a.example.net:5061").replace(
        "sip:b.example.net:5061;transport=tls", "sip:b.example.net:5060"
    )
    lines = problems(bad)
    assert [line.split(" ", 2)[1] for line in lines] == [
        "endpoint[0].uri:",
        "endpoint[1].uri:",
        "endpoint[1].uri:",
    ]
    assert "[teams.scheme] Microsoft Teams does not support sips: URIs" in lines[0]
    assert "[teams.port] the SIP proxies listen on port 5061, not 5060" in lines[1]
    assert "[teams.transport] signalling to the SIP proxies is TLS only" in lines[2]
    assert all("(Microsoft Teams Direct Routing, direct-routing-plan.md)" in line for line in lines)
