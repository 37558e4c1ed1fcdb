"""SIP over WebSocket in the URI rules and the RFC 3263 planner (RFC 7118): pure, canned
answers, no socket."""

from __future__ import annotations

import pytest

from probe.locate import SrvRecord
from probe.locate.order import usable_naptrs
from probe.run.locating import TargetError, check_target_uri, known_transport
from probe.sip import parse_uri
from tests.locate.fakes import DOMAIN, asked, endpoints, naptr, planner, run

# --- what a URI means before any DNS ---------------------------------------------


@pytest.mark.parametrize(
    ("uri", "transport"),
    [
        (f"sip:{DOMAIN};transport=ws", "ws"),
        (f"sip:{DOMAIN};transport=WS", "ws"),
        (f"sip:{DOMAIN};transport=wss", "wss"),
        # RFC 7118 §5.2.2 defines transport=ws only: sips: makes it WebSocket over TLS.
        (f"sips:{DOMAIN};transport=ws", "wss"),
        (f"sips:{DOMAIN};transport=wss", "wss"),
        (f"sip:{DOMAIN}:8443;transport=%77ss", "wss"),  # §19.1.4: an escape is its char
        (f"sip:{DOMAIN};transport=tls", "tls"),
        (f"sips:{DOMAIN};transport=tcp", "tls"),
    ],
)
def test_the_transport_a_uri_means(uri: str, transport: str) -> None:
    parsed = parse_uri(uri)
    assert check_target_uri(parsed, uri) == transport
    assert known_transport(parsed) == transport


def test_wss_is_secure_and_ws_is_not() -> None:
    assert parse_uri(f"sip:{DOMAIN};transport=wss").is_secure
    assert parse_uri(f"sips:{DOMAIN};transport=ws").is_secure
    assert not parse_uri(f"sip:{DOMAIN};transport=ws").is_secure


@pytest.mark.parametrize("transport", ["udp", "sctp"])
def test_a_sips_uri_still_refuses_what_is_not_tls(transport: str) -> None:
    uri = f"sips:{DOMAIN};transport={transport}"
    with pytest.raises(TargetError, match="a sips: URI needs TLS"):
        check_target_uri(parse_uri(uri), uri)


# --- an explicit transport: its SRV name (RFC 3263 §4.2) ---------------------------


@pytest.mark.parametrize(
    ("uri", "srv_name", "transport"),
    [
        (f"sip:{DOMAIN};transport=ws", f"_sip._ws.{DOMAIN}", "ws"),
        (f"sip:{DOMAIN};transport=wss", f"_sips._ws.{DOMAIN}", "wss"),
        (f"sips:{DOMAIN};transport=ws", f"_sips._ws.{DOMAIN}", "wss"),
    ],
)
def test_a_websocket_transport_asks_its_srv_name(uri: str, srv_name: str, transport: str) -> None:
    entries = {
        (srv_name, "SRV"): [SrvRecord(0, 0, 8443, f"edge.{DOMAIN}")],
        (f"edge.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, zone = run(uri, entries)
    assert asked(zone) == [f"SRV {srv_name}", f"AAAA edge.{DOMAIN}", f"A edge.{DOMAIN}"]
    assert endpoints(result) == [f"127.0.0.5:8443/{transport}"]
    assert result.targets[0].host == DOMAIN  # the identity stays the URI's host
    assert result.transport_reason.startswith("transport=")
    assert result.problems == ()


def test_sips_with_transport_ws_says_it_means_wss() -> None:
    located, _ = run(f"sips:{DOMAIN}:4443;transport=ws", {(DOMAIN, "A"): ["127.0.0.5"]})
    assert endpoints(located) == ["127.0.0.5:4443/wss"]
    assert "WSS, as the URI is sips:" in located.transport_reason


def test_wss_published_under_the_other_spelling_is_found_and_said() -> None:
    """Zones and clients also use `_sips._wss`: tried after the derived `_sips._ws`, and
    named as a problem when it is the one that exists."""
    entries = {
        (f"_sips._wss.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 443, f"edge.{DOMAIN}")],
        (f"edge.{DOMAIN}", "A"): ["127.0.0.5"],
    }
    result, zone = run(f"sip:{DOMAIN};transport=wss", entries)
    assert asked(zone)[:2] == [f"SRV _sips._ws.{DOMAIN}", f"SRV _sips._wss.{DOMAIN}"]
    assert endpoints(result) == ["127.0.0.5:443/wss"]
    (problem,) = result.problems
    assert f"_sips._wss.{DOMAIN}, not _sips._ws.{DOMAIN}" in problem


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        (f"sip:{DOMAIN};transport=ws", "127.0.0.5:80/ws"),
        (f"sip:{DOMAIN};transport=wss", "127.0.0.5:443/wss"),
    ],
)
def test_without_srv_the_websocket_default_port(uri: str, endpoint: str) -> None:
    result, _ = run(uri, {(DOMAIN, "A"): ["127.0.0.5"]})
    assert endpoints(result) == [endpoint]
    assert "RFC 6455 §3" in result.targets[0].via[0]


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        ("sip:192.0.2.1;transport=ws", "192.0.2.1:80/ws"),
        ("sips:192.0.2.1;transport=ws", "192.0.2.1:443/wss"),
        ("sip:[2001:db8::1]:8443;transport=wss", "[2001:db8::1]:8443/wss"),
    ],
)
def test_an_ip_literal_needs_no_query(uri: str, endpoint: str) -> None:
    plan = planner(uri)
    assert plan.done
    assert endpoints(plan.result()) == [endpoint]


# --- NAPTR (RFC 3263 §4.1 with RFC 7118's services) --------------------------------


def test_naptr_d2w_records_are_followed_by_order() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(20, 10, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
            naptr(10, 10, "SIPS+D2W", f"_sips._ws.{DOMAIN}"),
        ],
        (f"_sips._ws.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 4443, f"ws.{DOMAIN}")],
        (f"ws.{DOMAIN}", "A"): ["127.0.0.8"],
    }
    result, zone = run(f"sip:{DOMAIN}", entries)
    assert asked(zone)[1] == f"SRV _sips._ws.{DOMAIN}"
    assert endpoints(result) == ["127.0.0.8:4443/wss"]
    assert "NAPTR SIPS+D2W" in result.transport_reason
    assert "→ WSS" in result.transport_reason
    assert result.targets[0].via[0].startswith('NAPTR 10 10 "s" SIPS+D2W')


def test_a_sips_uri_follows_sips_d2w_but_not_sip_d2w() -> None:
    entries = {
        (DOMAIN, "NAPTR"): [
            naptr(10, 10, "SIP+D2W", f"_sip._ws.{DOMAIN}"),
            naptr(20, 10, "SIPS+D2W", f"_sips._ws.{DOMAIN}"),
        ],
        (f"_sip._ws.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 8080, f"ws.{DOMAIN}")],
        (f"_sips._ws.{DOMAIN}", "SRV"): [SrvRecord(0, 0, 4443, f"wss.{DOMAIN}")],
        (f"ws.{DOMAIN}", "A"): ["127.0.0.8"],
        (f"wss.{DOMAIN}", "A"): ["127.0.0.9"],
    }
    sips, zone = run(f"sips:{DOMAIN}", entries)
    assert f"SRV _sip._ws.{DOMAIN}" not in asked(zone)
    assert endpoints(sips) == ["127.0.0.9:4443/wss"]
    sip, _ = run(f"sip:{DOMAIN}", entries)
    assert endpoints(sip) == ["127.0.0.8:8080/ws"]


def test_ties_prefer_tls_then_wss_then_tcp_then_ws_then_udp() -> None:
    """RFC 3403 §4.1 leaves a tie on order and preference to the client: the more secure
    transport first, plain SIP framing before WebSocket at the same security."""
    records = [
        naptr(10, 10, service, f"_x{index}.{DOMAIN}")
        for index, service in enumerate(["SIP+D2U", "SIP+D2W", "SIP+D2T", "SIPS+D2W", "SIPS+D2T"])
    ]
    usable, ignored = usable_naptrs(records, sips=False)
    assert ignored == []
    assert [choice.transport for choice in usable] == ["tls", "wss", "tcp", "ws", "udp"]
    secure, dropped = usable_naptrs(records, sips=True)
    assert [choice.transport for choice in secure] == ["tls", "wss"]
    assert len(dropped) == 3
