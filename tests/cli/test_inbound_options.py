"""The option sets of a command that receives calls (`inbound_options`, `stir_options`),
on a throwaway click command: their names are the settings' flat names, their defaults the
settings' own, and a STIR option turns verification on only when it is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from probe.cli.common import (
    INBOUND_KEYS,
    STIR_KEYS,
    inbound_options,
    stir_options,
    take_inbound,
)
from probe.inbound_settings import InboundSettingsError, ListenSpec, check_inbound
from probe.settings import InboundSettings, Settings, StirSettings


def built(args: list[str]) -> tuple[Settings, dict[str, Any]]:
    """The Settings a command with both option sets builds from `args`, and what was left."""
    seen: dict[str, Any] = {}

    @click.command()
    @click.option("--timeout", type=float, default=5.0)
    @inbound_options
    @stir_options
    def answer(**values: Any) -> None:
        flat = take_inbound(values)
        seen["settings"] = Settings.from_flat({**flat, **values})
        seen["left"] = values

    result = CliRunner().invoke(answer, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen["settings"], seen["left"]


def test_the_options_are_the_settings_flat_names() -> None:
    seen: dict[str, Any] = {}

    @click.command()
    @inbound_options
    @stir_options
    def answer(**values: Any) -> None:
        seen.update(values)

    CliRunner().invoke(answer, [], catch_exceptions=False)
    assert set(seen) == set(INBOUND_KEYS) | set(STIR_KEYS)
    assert set(seen) <= Settings.flat_names()


def test_without_options_the_settings_are_the_defaults() -> None:
    settings, left = built([])
    assert settings.inbound == InboundSettings()
    assert settings.stir is None
    assert left == {"timeout": 5.0}


def test_every_inbound_option_reaches_its_setting() -> None:
    settings, _ = built(
        [
            "--listen",
            "tls:127.0.0.1:5071",
            "--listen",
            "udp:[::1]:5070",
            "--listen-cert",
            "ours.pem",
            "--listen-key",
            "ours.key",
            "--peer-ca",
            "provider-ca.pem",
            "--expect-peer",
            "sip.pstnhub.microsoft.com",
            "--expect-peer",
            "sip2.pstnhub.microsoft.com",
            "--require-client-cert",
            "--no-require-srtp",
            "--no-require-tls",
            "--expect",
            "3",
            "--within",
            "12.5",
            "--hold",
            "0",
            "--verify-media",
            "--timeout",
            "2",
        ]
    )
    assert settings.inbound == InboundSettings(
        listen=("tls:127.0.0.1:5071", "udp:[::1]:5070"),
        listen_cert=Path("ours.pem"),
        listen_key=Path("ours.key"),
        peer_ca=Path("provider-ca.pem"),
        expect_peer=("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"),
        require_client_cert=True,
        require_srtp=False,
        require_tls=False,
        expect=3,
        within=12.5,
        hold=0.0,
        verify_media=True,
        verify_identity=False,
    )
    assert settings.run.timeout == 2.0
    assert settings.stir is None
    plan = check_inbound(settings)
    assert plan.listen == (ListenSpec("tls", "127.0.0.1", 5071), ListenSpec("udp", "::1", 5070))


def test_a_stir_option_given_turns_verification_on_with_the_others_defaulted() -> None:
    settings, _ = built(["--listen-cert", "ours.pem", "--sti-trust", "sti-ca.pem"])
    assert settings.stir == StirSettings(sti_trust=Path("sti-ca.pem"))
    assert check_inbound(settings).expectation.verify_identity is True


def test_every_stir_option_reaches_its_setting() -> None:
    settings, _ = built(
        [
            "--sti-trust",
            "sti-ca.pem",
            "--sti-cert-dir",
            "certs",
            "--sti-fetch-ca",
            "web-ca.pem",
            "--sti-fetch-timeout",
            "0.5",
            "--sti-freshness",
            "30",
            "--sti-optional",
            "--sti-min-attest",
            "B",
        ]
    )
    assert settings.stir == StirSettings(
        sti_trust=Path("sti-ca.pem"),
        sti_cert_dir=Path("certs"),
        sti_fetch_ca=Path("web-ca.pem"),
        sti_fetch_timeout=0.5,
        sti_freshness=30,
        sti_required=False,
        sti_min_attest="B",
    )
    settings, _ = built(["--sti-required"])
    assert settings.stir == StirSettings(sti_required=True)


def test_verify_identity_without_a_trust_list_is_refused_naming_the_option() -> None:
    settings, _ = built(["--listen-cert", "ours.pem", "--verify-identity"])
    assert settings.stir is None
    with pytest.raises(InboundSettingsError, match="--sti-trust"):
        check_inbound(settings)


def test_limits_are_checked_in_one_place_not_by_click() -> None:
    settings, _ = built(["--expect", "0", "--within", "-1", "--listen", "tls:sbc.example:5061"])
    with pytest.raises(InboundSettingsError) as caught:
        check_inbound(settings)
    message = str(caught.value)
    assert "--expect 0: at least 1 call" in message
    assert "--within -1.0: a number of seconds above 0" in message
    assert "--listen tls:sbc.example:5061: 'sbc.example' is not an IP address" in message


def test_the_help_explains_each_option() -> None:
    @click.command()
    @inbound_options
    @stir_options
    def answer(**values: Any) -> None:
        pass

    text = CliRunner().invoke(answer, ["--help"], terminal_width=200).output
    for option in (
        "--listen TRANSPORT:ADDRESS[:PORT]",
        "--listen-cert PEM",
        "--expect-peer NAME",
        "--require-srtp / --no-require-srtp",
        "--sti-trust PATH",
        "--sti-required / --sti-optional",
        "--sti-min-attest [A|B|C]",
    ):
        assert option in text
    assert "tls:0.0.0.0:5061" in text  # the default listener is shown
