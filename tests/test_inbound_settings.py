"""The inbound and STIR sections of the one settings model, and the one place they are
checked (probe.inbound_settings): listeners parsed, every problem at once, each naming its
option; the policy and the expectation the answer run is judged by."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from probe.errors import SettingsError
from probe.evidence.inbound import InboundExpectation
from probe.inbound_settings import (
    InboundProblem,
    InboundSettingsError,
    ListenSpec,
    ListenSpecError,
    check_inbound,
    identity_verified,
    inbound_expectation,
    inbound_policy,
    inbound_problems,
    load_peer_anchors,
    parse_listen,
)
from probe.settings import DEFAULT_LISTEN, InboundSettings, Settings, StirSettings
from probe.tls.lab import LabFiles
from probe.verdict.checks.policy import InboundPolicy

CERT = Path("listen.pem")


def problems_of(**flat: Any) -> dict[str, list[InboundProblem]]:
    """The problems of settings built from flat names, by setting."""
    found: dict[str, list[InboundProblem]] = {}
    for problem in inbound_problems(Settings.from_flat({"listen_cert": CERT, **flat})):
        found.setdefault(problem.setting, []).append(problem)
    return found


# --- the settings model ------------------------------------------------------------------


def test_the_receiving_sections_exist_only_when_named() -> None:
    assert Settings().inbound is None
    assert Settings().stir is None
    settings = Settings.from_flat(timeout=2)
    assert (settings.inbound, settings.stir) == (None, None)
    settings = Settings.from_flat(listen=("tcp:127.0.0.1:0",), expect=3)
    assert settings.inbound == InboundSettings(listen=("tcp:127.0.0.1:0",), expect=3)
    assert settings.stir is None
    settings = Settings.from_flat(sti_trust=Path("sti.pem"))
    assert settings.stir == StirSettings(sti_trust=Path("sti.pem"))
    assert settings.inbound is None


def test_with_flat_changes_one_setting_of_a_present_section_and_keeps_the_rest() -> None:
    settings = Settings.from_flat(listen=("udp:127.0.0.1:5070",), hold=5.0, timeout=3)
    changed = settings.with_flat({"hold": 1.0, "sti_freshness": 30})
    assert changed.inbound is not None
    assert changed.stir is not None
    assert changed.inbound.listen == ("udp:127.0.0.1:5070",)
    assert changed.inbound.hold == 1.0
    assert changed.stir.sti_freshness == 30
    assert changed.run.timeout == 3


def test_flat_reads_an_absent_section_as_its_defaults() -> None:
    settings = Settings()
    assert settings.flat("listen") == (DEFAULT_LISTEN,)
    assert settings.flat("require_srtp") is True
    assert settings.flat("sti_freshness") == 60
    assert Settings.from_flat(within=5.0).flat("within") == 5.0


def test_every_flat_name_belongs_to_one_section_only() -> None:
    from probe.settings import (
        InboundSettings,
        LocateSettings,
        RunSettings,
        SipSettings,
        StirSettings,
        TlsSettings,
    )

    names = [
        f.name
        for kind in (
            TlsSettings,
            SipSettings,
            LocateSettings,
            RunSettings,
            InboundSettings,
            StirSettings,
        )
        for f in fields(kind)
    ]
    assert len(names) == len(set(names))
    assert {"listen", "listen_cert", "expect_peer", "sti_trust", "sti_min_attest"} <= set(
        Settings.flat_names()
    )
    with pytest.raises(KeyError):
        Settings.from_flat(listen_port=5061)


def test_the_default_listener_is_tls_on_5061_on_every_ipv4_address() -> None:
    assert DEFAULT_LISTEN == "tls:0.0.0.0:5061"
    plan = check_inbound(Settings.from_flat(listen_cert=CERT))
    assert plan.listen == (ListenSpec("tls", "0.0.0.0", 5061),)


# --- listeners ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tls:0.0.0.0:5061", ListenSpec("tls", "0.0.0.0", 5061)),
        ("tcp:127.0.0.1:5080", ListenSpec("tcp", "127.0.0.1", 5080)),
        ("udp:192.0.2.7", ListenSpec("udp", "192.0.2.7", 5060)),
        ("tls:192.0.2.7", ListenSpec("tls", "192.0.2.7", 5061)),
        ("TLS:[::]:5061", ListenSpec("tls", "::", 5061)),
        ("tcp:[2001:db8::5]", ListenSpec("tcp", "2001:db8::5", 5060)),
        ("tls:[::1]:0", ListenSpec("tls", "::1", 0)),
        ("udp:127.0.0.1:65535", ListenSpec("udp", "127.0.0.1", 65535)),
        # SIP over WebSocket: RFC 6455 §3's ports, as for the outbound direction.
        ("wss:0.0.0.0", ListenSpec("wss", "0.0.0.0", 443)),
        ("ws:127.0.0.1", ListenSpec("ws", "127.0.0.1", 80)),
        ("WSS:[::1]:8443", ListenSpec("wss", "::1", 8443)),
        ("ws:127.0.0.1:0", ListenSpec("ws", "127.0.0.1", 0)),
    ],
)
def test_listen_specs_parse(text: str, expected: ListenSpec) -> None:
    assert parse_listen(text) == expected
    assert parse_listen(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0.0.0.0:5061", "transport tls, tcp, udp, ws or wss"),
        ("sctp:127.0.0.1:5060", "transport tls, tcp, udp, ws or wss"),
        ("wsss:127.0.0.1:443", "transport tls, tcp, udp, ws or wss"),
        ("tls", "transport tls, tcp, udp, ws or wss"),
        ("wss:", "no address"),
        ("tls:", "no address"),
        ("tls:sbc.example.net:5061", "is not an IP address"),
        ("tls:localhost", "is not an IP address"),
        ("tls:::1", "IPv6 address goes in brackets"),
        ("tls:[::1:5061", "closing ]"),
        ("tls:[::1]5061", "after the ] comes :PORT"),
        ("tls:[127.0.0.1]:5061", "not an IPv6 address"),
        ("tls:127.0.0.1:65536", "out of range 0-65535"),
        ("tls:127.0.0.1:-1", "is not a number"),
        ("tls:127.0.0.1:50x", "is not a number"),
        ("tls:127.0.0.1:", "is not a number"),
        ("tls:127.0.0.1:٥٠٦١", "is not a number"),
    ],
)
def test_bad_listen_specs_say_why(text: str, why: str) -> None:
    with pytest.raises(ListenSpecError, match=why):
        parse_listen(text)
    found = problems_of(listen=(text,), require_tls=False)["listen"]
    assert found[0].position == 0
    assert found[0].value == text
    assert str(found[0]).startswith(f"--listen {text}: ")


def test_no_listener_at_all_is_a_problem() -> None:
    assert "at least one" in problems_of(listen=())["listen"][0].message


@pytest.mark.parametrize(
    ("listen", "clash"),
    [
        (("tls:0.0.0.0:5061", "tcp:127.0.0.1:5061"), True),  # both TCP, wildcard covers
        (("tcp:127.0.0.1:5060", "tcp:127.0.0.1:5060"), True),
        (("tls:127.0.0.1:5061", "tls:127.0.0.2:5061"), False),
        (("tcp:127.0.0.1:5060", "udp:127.0.0.1:5060"), False),  # SIP's usual pair
        (("tls:0.0.0.0:5061", "tls:[::]:5061"), False),  # another family
        (("tls:127.0.0.1:0", "tcp:127.0.0.1:0"), False),  # each picks its own port
        (("tls:0.0.0.0:5061", "wss:127.0.0.1:5061"), True),  # WSS listens on TCP too
        (("ws:127.0.0.1:8080", "wss:127.0.0.1:8080"), True),
        (("wss:127.0.0.1:5061", "udp:127.0.0.1:5061"), False),
        (("tls:127.0.0.1:5061", "wss:127.0.0.1"), False),  # 5061 and 443
    ],
)
def test_listeners_that_cannot_both_bind_are_refused(listen: tuple[str, str], clash: bool) -> None:
    found = problems_of(listen=listen).get("listen", [])
    assert bool(found) is clash
    if clash:
        assert found[0].position == 1
        assert "one socket cannot listen twice" in found[0].message


# --- the rules between settings --------------------------------------------------------


def test_a_tls_listener_needs_our_certificate() -> None:
    settings = Settings.from_flat(listen=("tls:127.0.0.1:5061",))
    with pytest.raises(InboundSettingsError) as caught:
        check_inbound(settings)
    assert [p.setting for p in caught.value.problems] == ["listen_cert"]
    assert "--listen-cert" in str(caught.value)
    assert "tls:127.0.0.1:5061" in str(caught.value)
    assert isinstance(caught.value, SettingsError)
    # A key alone is not a certificate either.
    found = inbound_problems(settings.with_flat({"listen_key": Path("k.pem")}))
    assert {p.setting for p in found} == {"listen_cert", "listen_key"}
    # Without a TLS listener no certificate is needed.
    plain = Settings.from_flat(listen=("udp:127.0.0.1:5060",), require_tls=False)
    assert inbound_problems(plain) == []
    plain = Settings.from_flat(listen=("ws:127.0.0.1:8080",), require_tls=False)
    assert inbound_problems(plain) == []


def test_a_wss_listener_needs_our_certificate_as_tls_does() -> None:
    settings = Settings.from_flat(listen=("wss:127.0.0.1:8443",))
    with pytest.raises(InboundSettingsError) as caught:
        check_inbound(settings)
    assert [p.setting for p in caught.value.problems] == ["listen_cert"]
    assert "wss:127.0.0.1:8443" in str(caught.value)
    # With it, a WSS listener alone satisfies --require-tls and the client-certificate
    # settings: its caller runs TLS under the WebSocket.
    plan = check_inbound(
        settings.with_flat(
            {"listen_cert": CERT, "require_client_cert": True, "expect_peer": ("a.example",)}
        )
    )
    assert plan.listen == (ListenSpec("wss", "127.0.0.1", 8443),)


def test_client_certificate_settings_need_a_tls_listener() -> None:
    found = problems_of(
        listen=("tcp:127.0.0.1:5060",),
        require_tls=False,
        require_client_cert=True,
        expect_peer=("sip.pstnhub.microsoft.com",),
        peer_ca=Path("ca.pem"),
    )
    assert set(found) == {"require_client_cert", "expect_peer", "peer_ca"}
    assert all("no listener is tls: or wss:" in p[0].message for p in found.values())


def test_requiring_tls_with_only_plain_listeners_can_only_fail_so_it_is_refused() -> None:
    found = problems_of(listen=("tcp:127.0.0.1:5060", "udp:127.0.0.1:5060"))
    assert "do not require TLS" in found["require_tls"][0].message
    assert "require_tls" not in problems_of(listen=("tls:127.0.0.1:5061", "udp:127.0.0.1:5060"))
    # Plain WebSocket is no TLS either (RFC 7118 §5.2.1: only WSS runs over TLS).
    found = problems_of(listen=("ws:127.0.0.1:8080",))
    assert "add a tls: or wss: listener" in found["require_tls"][0].message
    assert "require_tls" not in problems_of(listen=("wss:127.0.0.1:8443",))


@pytest.mark.parametrize(
    ("setting", "value", "why"),
    [
        ("expect", 0, "at least 1"),
        ("expect", -2, "at least 1"),
        ("expect", True, "at least 1"),
        ("within", 0.0, "above 0"),
        ("within", -1.0, "above 0"),
        ("within", math.inf, "above 0"),
        ("within", math.nan, "above 0"),
        ("hold", -0.5, "0 or more"),
        ("hold", math.nan, "0 or more"),
    ],
)
def test_numbers_out_of_range_name_their_option(setting: str, value: object, why: str) -> None:
    found = problems_of(**{setting: value})[setting]
    assert why in found[0].message
    assert str(found[0]).startswith(f"--{setting} {value}: ")


def test_numbers_at_their_limits_are_fine() -> None:
    assert problems_of(expect=1, within=0.001, hold=0.0) == {}


@pytest.mark.parametrize(
    "name", ["sip:sip.pstnhub.microsoft.com", "sip.example.net:5061", "", "a b", "-bad.example"]
)
def test_expected_peer_names_must_be_host_names(name: str) -> None:
    found = problems_of(expect_peer=("sip.pstnhub.microsoft.com", name))["expect_peer"]
    assert len(found) == 1
    assert found[0].position == 1
    assert "not a host name" in found[0].message


def test_every_problem_is_reported_at_once() -> None:
    settings = Settings.from_flat(
        listen=("tls:sbc.example.net:5061", "udp:127.0.0.1:70000"),
        expect=0,
        within=-1.0,
        sti_freshness=0,
    )
    with pytest.raises(InboundSettingsError) as caught:
        check_inbound(settings)
    settings_named = [problem.setting for problem in caught.value.problems]
    assert settings_named.count("listen") == 2
    assert {"expect", "within", "sti_freshness", "sti_trust"} <= set(settings_named)
    assert len(str(caught.value).splitlines()) == len(caught.value.problems)


# --- STIR -------------------------------------------------------------------------------------


def test_identity_is_verified_when_asked_or_when_a_stir_setting_is_given() -> None:
    assert not identity_verified(Settings())
    assert not identity_verified(Settings.from_flat(listen_cert=CERT))
    assert identity_verified(Settings.from_flat(verify_identity=True))
    assert identity_verified(Settings.from_flat(sti_freshness=30))


def test_verifying_identity_needs_the_sti_trust_list() -> None:
    found = problems_of(verify_identity=True)["sti_trust"]
    assert "STI-CA trust list" in found[0].message
    found = problems_of(sti_required=False)["sti_trust"]
    assert found
    plan = check_inbound(Settings.from_flat(listen_cert=CERT, sti_trust=Path("sti.pem")))
    assert plan.stir == StirSettings(sti_trust=Path("sti.pem"))
    assert plan.expectation.verify_identity is True
    plan = check_inbound(Settings.from_flat(listen_cert=CERT))
    assert plan.stir is None
    assert plan.expectation.verify_identity is False


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("sti_fetch_timeout", 0.0),
        ("sti_fetch_timeout", math.nan),
        ("sti_fetch_timeout", math.inf),
        ("sti_fetch_timeout", 20.5),
        ("sti_freshness", 0),
        ("sti_freshness", 2.5),
        ("sti_min_attest", "D"),
    ],
)
def test_stir_settings_out_of_range_name_their_option(setting: str, value: object) -> None:
    found = problems_of(sti_trust=Path("sti.pem"), **{setting: value})
    assert list(found) == [setting]
    assert str(found[setting][0]).startswith("--" + setting.replace("_", "-"))


# --- what the answer run is judged by ----------------------------------------------------


def test_the_plan_policy_and_expectation_carry_the_settings() -> None:
    settings = Settings.from_flat(
        listen=("tls:127.0.0.1:0", "udp:127.0.0.1:0"),
        listen_cert=CERT,
        expect_peer=("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"),
        require_client_cert=True,
        require_srtp=False,
        require_tls=False,
        expect=2,
        within=30,
        hold=0.5,
        verify_media=True,
        min_tls="1.3",
        warn_days=40,
        critical_days=10,
        accept_wildcard=True,
        insecure=True,
    )
    plan = check_inbound(settings)
    assert plan.listen == (ListenSpec("tls", "127.0.0.1", 0), ListenSpec("udp", "127.0.0.1", 0))
    assert plan.expectation == InboundExpectation(
        calls=2, within_s=30.0, verify_media=True, verify_identity=False, hold_s=0.5
    )
    assert inbound_expectation(settings) == plan.expectation
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    policy = inbound_policy(settings, now=now)
    assert isinstance(policy, InboundPolicy)
    assert policy.expect_peer == ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com")
    assert (policy.require_client_cert, policy.require_srtp, policy.require_tls) == (
        True,
        False,
        False,
    )
    assert policy.tls.min_version == "1.3"
    assert (policy.tls.warn_days, policy.tls.critical_days) == (40, 10)
    assert policy.tls.accept_wildcards is True
    assert policy.tls.insecure is True
    assert policy.now == now
    assert policy.anchors is None


def test_the_defaults_make_the_strict_policy() -> None:
    policy = inbound_policy(Settings())
    assert (policy.require_srtp, policy.require_tls, policy.require_client_cert) == (
        True,
        True,
        False,
    )
    assert inbound_expectation(Settings()) == InboundExpectation()


def test_peer_anchors_come_from_peer_ca(lab: LabFiles, tmp_path: Path) -> None:
    anchors = load_peer_anchors(Settings.from_flat(peer_ca=lab.ca))
    assert len(anchors.certificates) == 1
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    for path in (junk, tmp_path / "missing.pem"):
        with pytest.raises(InboundSettingsError, match=r"^--peer-ca: "):
            load_peer_anchors(Settings.from_flat(peer_ca=path))


def test_a_fetch_may_not_outlast_the_answer_runs_identity_check() -> None:
    # A fetch that outlasted it would leave the call unverified, not judged 436.
    from probe.answer.call import IDENTITY_SECONDS
    from probe.inbound_settings import MAX_STI_FETCH_TIMEOUT

    assert MAX_STI_FETCH_TIMEOUT < IDENTITY_SECONDS
