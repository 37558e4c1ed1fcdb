"""`sipprobe invite` inputs refused or normalised before any packet is sent."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import NoReturn

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.net.media import MEDIA_SUITES
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, callee_uri, sdes_suites
from probe.sdp import SUITE_KEY_BYTES
from probe.settings import CallSettings
from probe.sip import Request, StreamFramer, build_response, parse_uri


class Refused(Exception):
    pass


def refuse(message: str) -> NoReturn:
    raise Refused(message)


def suites_of(*given: str, **options: object) -> tuple[str, ...]:
    common = OptionsRequest(targets=["sip:127.0.0.1;transport=tls"])
    return sdes_suites(
        InviteRequest(common, CallSettings(to="sip:bob@127.0.0.1", suites=given, **options)),  # type: ignore[arg-type]
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


@pytest.mark.parametrize(
    ("to", "next_hop", "called"),
    [
        ("+15550100", "sip:127.0.0.1:5070;transport=tcp", "sip:+15550100@127.0.0.1;user=phone"),
        ("+1-555-0100", "sips:sbc.example.test", "sips:+1-555-0100@sbc.example.test;user=phone"),
        ("alice", "sip:[::1]:5060", "sip:alice@[::1]"),
        ("15550100", "sip:sbc.example.test", "sip:15550100@sbc.example.test"),
    ],
)
def test_a_number_or_user_part_is_called_at_the_targets_host(
    to: str, next_hop: str, called: str
) -> None:
    uri, note = callee_uri(to, parse_uri(next_hop))
    assert uri == called
    assert note == f"--to {to} is called as {called}"
    assert str(parse_uri(uri)) == called


def test_a_full_uri_in_to_is_kept() -> None:
    assert callee_uri("sip:bob@b.test", parse_uri("sip:a.test")) == ("sip:bob@b.test", None)
    assert callee_uri("tel:+15550100", parse_uri("sip:a.test")) == ("tel:+15550100", None)


@pytest.fixture
def busy_uas() -> Iterator[tuple[int, list[str]]]:
    """A TCP UAS on loopback that answers every INVITE 486 Busy Here; yields its port and
    the Request-URIs it received."""
    seen: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError), server.accept()[0] as connection:
            framer = StreamFramer()
            while data := connection.recv(65536):
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    if isinstance(message, Request) and message.method == "INVITE":
                        seen.append(str(message.uri))
                        busy = build_response(message, 486, "Busy Here", to_tag="busy")
                        connection.sendall(busy.to_bytes())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1]), seen
    server.close()
    thread.join(10)


def test_to_a_bare_number_places_the_call_and_says_how(busy_uas: tuple[int, list[str]]) -> None:
    port, seen = busy_uas
    target = f"sip:127.0.0.1:{port};transport=tcp"
    options = ["--to", "+15550100", "--offer", "rtp", "--timeout", "2", "--format", "json"]
    result = CliRunner().invoke(cli, ["invite", target, *options])
    assert result.exit_code in (0, 1), result.output
    assert seen == ["sip:+15550100@127.0.0.1;user=phone"]
    report = json.loads(result.stdout)
    assert "--to +15550100 is called as sip:+15550100@127.0.0.1;user=phone" in report["notes"]
