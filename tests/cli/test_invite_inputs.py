"""`sipprobe invite` inputs refused or normalised before any packet is sent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import NoReturn

import pytest
from click.testing import CliRunner

from probe.app import OptionsRequest
from probe.app_invite import InviteRequest, sdes_suites
from probe.cli import cli
from probe.net.media import MEDIA_SUITES
from probe.sdp import SUITE_KEY_BYTES


class Refused(Exception):
    pass


def refuse(message: str) -> NoReturn:
    raise Refused(message)


def suites_of(*given: str, **options: object) -> tuple[str, ...]:
    common = OptionsRequest(targets=["sip:127.0.0.1;transport=tls"])
    return sdes_suites(
        InviteRequest(common, to="sip:bob@127.0.0.1", suites=given, **options),  # type: ignore[arg-type]
        refuse,
    )


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener that would see any connection the command opened."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.setblocking(False)
        yield server


def invite_args(port: int, *options: str) -> list[str]:
    return ["invite", f"sip:127.0.0.1:{port};transport=tls", "--to", "sip:bob@127.0.0.1", *options]


def nothing_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def test_suite_names_in_any_case_mean_the_registered_name() -> None:
    assert suites_of("aes_cm_128_hmac_sha1_32", " AEAD_aes_256_GCM ") == (
        "AES_CM_128_HMAC_SHA1_32",
        "AEAD_AES_256_GCM",
    )


def test_no_suite_keeps_the_default_offer() -> None:
    assert suites_of() == ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")


@pytest.mark.parametrize(
    ("given", "options", "message"),
    [
        (("AES_CM_129_HMAC_SHA1_80",), {}, "not an SDES crypto-suite; known: AES_CM_128"),
        (("",), {}, "not an SDES crypto-suite"),
        (("AES_CM_128_HMAC_SHA1_80", "aes_cm_128_hmac_sha1_80"), {}, "given twice"),
        (("AES_CM_128_HMAC_SHA1_80",), {"offer": "dtls"}, "--offer dtls has none"),
        (("AES_256_CM_HMAC_SHA1_80",), {"verify_media": True}, "--verify-media cannot check"),
    ],
)
def test_unusable_suites_are_refused(
    given: tuple[str, ...], options: dict[str, object], message: str
) -> None:
    with pytest.raises(Refused, match=message):
        suites_of(*given, **options)


def test_every_known_suite_is_accepted_and_media_needs_one_libsrtp_does() -> None:
    assert suites_of(*SUITE_KEY_BYTES) == tuple(SUITE_KEY_BYTES)
    assert set(MEDIA_SUITES) <= set(SUITE_KEY_BYTES)
    assert suites_of("AES_256_CM_HMAC_SHA1_80", MEDIA_SUITES[0], verify_media=True)


def test_unknown_suite_exits_2_listing_the_known_ones_before_connecting(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    result = CliRunner().invoke(
        cli,
        invite_args(port, "--suite", "AES_CM_128_HMAC_SHA1_81"),
    )
    assert result.exit_code == 2, result.output
    assert "--suite 'AES_CM_128_HMAC_SHA1_81' is not an SDES crypto-suite" in result.output
    for name in SUITE_KEY_BYTES:
        assert name in result.output
    assert nothing_connected(listener)


def test_verify_media_with_only_suites_libsrtp_cannot_do_exits_2(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = CliRunner().invoke(
        cli,
        invite_args(port, "--suite", "AES_256_CM_HMAC_SHA1_80", "--verify-media"),
    )
    assert result.exit_code == 2, result.output
    assert "--verify-media cannot check AES_256_CM_HMAC_SHA1_80" in result.output
    assert nothing_connected(listener)
