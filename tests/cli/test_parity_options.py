"""The options that match sipsak's and sipexer's (`--header`, `--from`, `--contact`,
`--user-agent`, `--source`, `-4`/`-6`) and `--ws-path`: what cannot be used is refused
before any packet, exit 2, in one sentence that names the option."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.net.connect import parse_source

TARGET = "sip:127.0.0.1:9;transport=tcp"  # never contacted: every case is refused first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--header", "Via: SIP/2.0/TCP 10.0.0.1"], "--header 'Via: SIP/2.0/TCP 10.0.0.1': Via"),
        (["--header", "l: 0"], "Content-Length cannot be added"),
        (["--header", "X-A: 1\r\nVia: evil"], "control character"),
        (["--header", "no colon"], "expected 'Name: value'"),
        (["--from", "http://example.test"], "--from: not a SIP URI"),
        (["--contact", "sip:"], "--contact: not a SIP URI"),
        (["--user-agent", " "], "--user-agent: empty"),
        (["--user-agent", "a\nb"], "--user-agent"),
        (["--ws-path", "ws"], "--ws-path 'ws' must start with /"),
        (["--ws-path", "/a b"], "--ws-path '/a b' is not a path"),
        (["--source", "example.test"], "'example.test' is not an IP address"),
        (["--source", "127.0.0.1:70000"], "the port must be a number from 0 to 65535"),
        (["--source", "192.0.2.123"], "--source 192.0.2.123: cannot bind the source address"),
        (["--source", "::1", "-4"], "an IPv6 address, but -4 was given"),
        (["-6"], "an IPv4 literal, but only IPv6 is asked for"),
        (["--source", "::1"], "an IPv4 literal, but only IPv6 is asked for"),
    ],
)
def test_what_cannot_be_used_is_refused_before_any_packet(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["options", TARGET, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_password_in_from_is_refused_and_never_printed() -> None:
    result = CliRunner().invoke(cli, ["options", TARGET, "--from", "sip:alice:s3cret@x.test"])
    assert result.exit_code == 2
    assert "password" in result.output
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("192.0.2.1", ("192.0.2.1", 0)),
        ("192.0.2.1:5070", ("192.0.2.1", 5070)),
        ("2001:db8::1", ("2001:db8::1", 0)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        ("[2001:db8::1]:5070", ("2001:db8::1", 5070)),
    ],
)
def test_a_source_is_an_address_and_a_port(text: str, parsed: tuple[str, int]) -> None:
    assert parse_source(text) == parsed


@pytest.mark.parametrize("text", ["[2001:db8::1", "[2001:db8::1]x", "192.0.2.1:", "192.0.2.1:x"])
def test_a_malformed_source_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_source(text)


def test_the_new_options_are_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["options", "--help"])
    for word in (
        "--header",
        "--from",
        "--contact",
        "--user-agent",
        "--source",
        "-4, --ipv4",
        "-6, --ipv6",
        "--keepalive",
        "--ws-path",
        "pong",
        "--trace",
    ):
        assert word in result.output, word
