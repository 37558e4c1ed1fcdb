"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1)."""

from __future__ import annotations

import pytest

from probe.sip import NameAddr, SipBuildError, SipParseError, SipUri, parse_name_addr, parse_uri
from probe.sip.uri import redact_uri_text

VALID_URIS = [
    pytest.param(
        "sip:alice@example.com",
        {
            "scheme": "sip",
            "user": "alice",
            "host": "example.com",
            "host_kind": "name",
            "port": None,
        },
        id="plain",
    ),
    pytest.param(
        "SIPS:Bob@Example.COM.",
        {"scheme": "sips", "user": "Bob", "host": "example.com.", "host_kind": "name"},
        id="case-and-trailing-dot",
    ),
    pytest.param("sip:%41lice@h.example", {"user": "Alice"}, id="escaped-user"),
    pytest.param("sip:%C3%A9@h.example", {"user": "é"}, id="escaped-utf8-user"),
    pytest.param(
        "sip:alice:s3cr%65t@h.example", {"user": "alice", "password": "s3cret"}, id="password"
    ),
    pytest.param("sip:alice:@h.example", {"password": ""}, id="empty-password"),
    pytest.param(
        "sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone",
        {"user": "+1-212-555-1212;phone-context=example.com", "params": (("user", "phone"),)},
        id="telephone-user",
    ),
    pytest.param("sip:example.com:0005061", {"port": 5061}, id="port-leading-zeros"),
    pytest.param("sip:example.com:0", {"port": 0}, id="port-zero"),
    pytest.param("sip:example.com:65535", {"port": 65535}, id="port-max"),
    pytest.param("sip:192.0.2.1:5060", {"host": "192.0.2.1", "host_kind": "ipv4"}, id="ipv4"),
    pytest.param("sip:010.0.0.001", {"host": "10.0.0.1", "host_kind": "ipv4"}, id="ipv4-zeros"),
    pytest.param(
        "sip:[2001:DB8::1]:5061",
        {"host": "2001:db8::1", "host_kind": "ipv6", "port": 5061},
        id="ipv6",
    ),
    pytest.param("sip:[::ffff:192.0.2.1]", {"host": "::ffff:192.0.2.1"}, id="ipv6-v4-tail"),
    pytest.param("sip:a-b.c-d.example", {"host": "a-b.c-d.example"}, id="dashes"),
    pytest.param("sip:1a.example", {"host": "1a.example"}, id="digit-first-domainlabel"),
    pytest.param(
        "sip:h.example;Transport=TLS;lr;maddr=192.0.2.9",
        {"params": (("transport", "TLS"), ("lr", None), ("maddr", "192.0.2.9"))},
        id="params",
    ),
    pytest.param(
        "sip:h.example?subject=project%20x&priority=urgent&empty=",
        {"headers": (("subject", "project%20x"), ("priority", "urgent"), ("empty", ""))},
        id="headers",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID_URIS)
def test_parse_valid_uri(text, expected):
    uri = parse_uri(text)
    for field, value in expected.items():
        assert getattr(uri, field) == value, field
    # Serialising and parsing again gives the same URI.
    assert parse_uri(str(uri)) == uri


INVALID_URIS = [
    pytest.param("tel:+12125551212", "scheme 'tel'", id="tel"),
    pytest.param("http://example.com", "scheme 'http'", id="http"),
    pytest.param("example.com", "scheme", id="no-scheme"),
    pytest.param(":example.com", "scheme", id="empty-scheme"),
    pytest.param("sip:", "empty host", id="empty"),
    pytest.param("sip:alice@", "empty host", id="user-no-host"),
    pytest.param("sip:@example.com", "invalid user", id="empty-user"),
    pytest.param("sip:a@b@example.com", "second '@'", id="two-ats"),
    pytest.param("sip:alice smith@example.com", "' ' is not allowed at offset 9", id="space"),
    pytest.param("sip:alice@example.com\t", "'\\t' is not allowed", id="tab"),
    pytest.param("sip:é@example.com", "is not allowed", id="raw-non-ascii"),
    pytest.param("sip:a%4g@example.com", "invalid user", id="bad-escape"),
    pytest.param("sip:a%ff@example.com", "not valid UTF-8", id="escape-not-utf8"),
    pytest.param("sip:example.com:65536", "above 65535", id="port-too-big"),
    pytest.param("sip:example.com:000000000065536", "above 65535", id="port-too-big-zeros"),
    pytest.param("sip:example.com:", "digits expected", id="port-empty"),
    pytest.param("sip:example.com:50a", "digits expected", id="port-alpha"),
    pytest.param("sip:example.com:-1", "digits expected", id="port-negative"),
    pytest.param("sip:" + "1" * 5000 + ".123", "invalid host", id="huge-numeric-label"),
    pytest.param("sip:example.com:" + "9" * 5000, "above 65535", id="huge-port"),
    pytest.param("sip:256.1.1.1", "octet above 255", id="ipv4-octet"),
    pytest.param("sip:1.2.3", "invalid host", id="ipv4-short"),
    pytest.param("sip:exa_mple.com", "invalid host", id="underscore"),
    pytest.param("sip:-a.example.com", "invalid host", id="leading-dash"),
    pytest.param("sip:a-.example.com", "invalid host", id="trailing-dash"),
    pytest.param("sip:a..example.com", "invalid host", id="empty-label"),
    pytest.param("sip:example.123", "invalid host", id="numeric-toplabel"),
    pytest.param("sip:[2001:db8::1", "'[' without ']'", id="ipv6-unclosed"),
    pytest.param("sip:[2001:db8::g]", "invalid IPv6", id="ipv6-bad"),
    pytest.param("sip:[1:2:3:4:5:6:7:8:9]", "invalid IPv6", id="ipv6-too-long"),
    pytest.param("sip:[fe80::1%eth0]", "invalid IPv6 reference", id="ipv6-zone-percent"),
    pytest.param("sip:[fe80::1%25eth0]", "invalid IPv6", id="ipv6-zone"),
    pytest.param("sip:2001:db8::1", "invalid host '2001'", id="ipv6-unbracketed"),
    pytest.param("sip:[::1]x", "unexpected 'x'", id="junk-after-ipv6"),
    pytest.param("sip:example.com;", "invalid URI parameter", id="empty-param"),
    pytest.param("sip:example.com;lr=", "invalid URI parameter", id="empty-param-value"),
    pytest.param("sip:example.com;a=b=c", "invalid URI parameter", id="param-two-equals"),
    pytest.param("sip:example.com;a=<b>", "invalid URI parameter", id="param-angle"),
    pytest.param("sip:example.com?x", "invalid URI header", id="header-no-value"),
    pytest.param("sip:example.com?=x", "invalid URI header", id="header-no-name"),
    pytest.param("sip:example.com?a=b;c", "invalid URI header", id="header-semicolon"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_URIS)
def test_parse_invalid_uri(text, message):
    with pytest.raises(SipParseError, match=None) as info:
        parse_uri(text)
    assert message in str(info.value)
    assert "invalid SIP URI" in str(info.value)


def test_error_quotes_long_uri_in_short_form():
    with pytest.raises(SipParseError) as info:
        parse_uri("sip:" + "a" * 5000 + "!")
    assert len(str(info.value)) < 300


def test_uri_properties():
    uri = parse_uri("sip:[::1]:5061;transport=TLS;lr")
    assert uri.transport == "tls"
    assert uri.is_secure
    assert uri.param("LR") is None
    assert uri.has_param("lr")
    assert not uri.has_param("maddr")
    assert uri.param("transport") == "TLS"
    assert uri.host_port == "[::1]:5061"
    assert str(uri) == "sip:[::1]:5061;transport=TLS;lr"

    sips = parse_uri("sips:trunk.example.com")
    assert sips.is_secure
    assert sips.transport is None
    assert sips.host_port == "trunk.example.com"

    plain = parse_uri("sip:trunk.example.com;transport=tcp")
    assert not plain.is_secure


def test_str_escapes_user_and_password():
    uri = SipUri("sip", "a b@c:%", "p@ss", "example.com", "name", None)
    assert str(uri) == "sip:a%20b%40c%3A%25:p%40ss@example.com"
    assert parse_uri(str(uri)) == uri


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"scheme": "tel"}, id="scheme"),
        pytest.param({"user": ""}, id="empty-user"),
        pytest.param({"host": "Example.com"}, id="host-not-normal"),
        pytest.param({"host": "bad host"}, id="host-invalid"),
        pytest.param({"host": "192.0.2.1"}, id="kind-mismatch"),
        pytest.param({"port": 70000}, id="port"),
        pytest.param({"host_kind": "other"}, id="kind"),
    ],
)
def test_sipuri_refuses_invalid_fields(kwargs):
    fields = {"scheme": "sip", "user": None, "password": None, "host": "example.com"}
    fields |= {"host_kind": "name", "port": None} | kwargs
    with pytest.raises(SipBuildError):
        SipUri(**fields)


# --- name-addr -----------------------------------------------------------------------

VALID_NAME_ADDRS = [
    pytest.param(
        '"Display \\"quoted\\"" <sip:a@b.example>;tag=x',
        ('Display "quoted"', "sip:a@b.example", (("tag", "x"),)),
        id="escaped-quotes",
    ),
    pytest.param(
        '"back\\\\slash" <sip:a@b.example>', ("back\\slash", "sip:a@b.example", ()), id="backslash"
    ),
    pytest.param(
        "Alice   Smith <sip:a@b.example>", ("Alice Smith", "sip:a@b.example", ()), id="tokens"
    ),
    pytest.param("<sip:a@b.example>", (None, "sip:a@b.example", ()), id="bare-brackets"),
    pytest.param('""<sip:a@b.example>', ("", "sip:a@b.example", ()), id="empty-quoted"),
    pytest.param(
        '"Zoë \tX"<sip:a@b.example>', ("Zoë \tX", "sip:a@b.example", ()), id="utf8-quoted"
    ),
    pytest.param(
        "sip:a@b.example;tag=x;Expires=60",
        (None, "sip:a@b.example", (("tag", "x"), ("expires", "60"))),
        id="addr-spec-params-are-header-params",
    ),
    pytest.param(
        "<sip:a@b.example;transport=tls>;tag=x",
        (None, "sip:a@b.example;transport=tls", (("tag", "x"),)),
        id="uri-params-inside-brackets",
    ),
    pytest.param(
        '  <sip:a@b.example> ; tag = x ; q=0.5 ; +sip.instance="<urn:uuid:1>" ',
        (
            None,
            "sip:a@b.example",
            (("tag", "x"), ("q", "0.5"), ("+sip.instance", '"<urn:uuid:1>"')),
        ),
        id="spacing-and-quoted-param",
    ),
    pytest.param(
        "<sip:[::1]:5060>;received=[2001:db8::1]",
        (None, "sip:[::1]:5060", (("received", "[2001:db8::1]"),)),
        id="ipv6",
    ),
    pytest.param("sips:a@b.example", (None, "sips:a@b.example", ()), id="bare-sips"),
]


@pytest.mark.parametrize(("text", "expected"), VALID_NAME_ADDRS)
def test_parse_valid_name_addr(text, expected):
    display, uri, params = expected
    addr = parse_name_addr(text)
    assert addr.display_name == display
    assert addr.uri == parse_uri(uri)
    assert addr.params == params
    assert parse_name_addr(str(addr)) == addr


INVALID_NAME_ADDRS = [
    pytest.param("", "empty address", id="empty"),
    pytest.param('"unterminated <sip:a@b.example>', "quoted display name", id="unterminated"),
    pytest.param('"x" sip:a@b.example', "expected '<'", id="quoted-no-bracket"),
    pytest.param("<sip:a@b.example", "'<' without '>'", id="no-close"),
    pytest.param("Al@ice <sip:a@b.example>", "invalid SIP URI", id="bad-display-token"),
    pytest.param("<tel:+123>", "scheme 'tel'", id="tel"),
    pytest.param("<sip:a@b.example> junk", "invalid parameter", id="junk-after"),
    pytest.param("<sip:a@b.example>;=x", "invalid parameter", id="param-no-name"),
    pytest.param("<sip:a@b.example>;tag=", "invalid parameter", id="param-empty-value"),
    pytest.param("sip:a@b.example?x=y", "'?' in a URI outside", id="bare-with-headers"),
    pytest.param("sip:a@b.example,sip:c@d", "',' in a URI outside", id="bare-with-comma"),
    pytest.param("<sip:a@b.example>\r\n", "not allowed", id="crlf"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_NAME_ADDRS)
def test_parse_invalid_name_addr(text, message):
    with pytest.raises(SipParseError) as info:
        parse_name_addr(text)
    assert message in str(info.value)


def test_name_addr_tag_and_str():
    addr = parse_name_addr("Bob <sip:bob@b.example>;TAG=abc")
    assert addr.tag == "abc"
    assert addr.param("tag") == "abc"
    assert str(addr) == '"Bob" <sip:bob@b.example>;tag=abc'
    assert parse_name_addr("<sip:b.example>").tag is None


def test_name_addr_str_escapes_display():
    addr = NameAddr('say "hi" \\ \x01', parse_uri("sip:a@b.example"))
    assert str(addr) == '"say \\"hi\\" \\\\ \\\x01" <sip:a@b.example>'
    assert parse_name_addr(str(addr)) == addr


def test_name_addr_refuses_crlf_display():
    with pytest.raises(SipBuildError):
        NameAddr("a\r\nVia: x", parse_uri("sip:a@b.example"))


# --- passwords (§19.1.1) and escaped parameter names (§19.1.4) --------------------------


def test_a_password_is_parsed_but_never_shown() -> None:
    uri = parse_uri("sip:alice:s3cret@example.com;transport=tcp?subject=hi")
    assert uri.password == "s3cret"
    assert "s3cret" not in repr(uri)
    assert uri.redacted() == "sip:alice:***@example.com;transport=tcp?subject=hi"
    assert str(uri.without_password()) == "sip:alice@example.com;transport=tcp?subject=hi"
    assert parse_uri("sip:bob@example.com").redacted() == "sip:bob@example.com"


def test_a_parse_error_quotes_the_uri_without_its_password() -> None:
    with pytest.raises(SipParseError) as caught:
        parse_uri("sip:alice:s3cret@exa mple.com")
    assert "s3cret" not in str(caught.value)
    assert "sip:alice:***@exa mple.com" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("sip:a:pw@h", "sip:a:***@h"),
        (
            "target SIPS:a;x=y:pw@h:5061 and sip:h:5060",
            "target SIPS:a;x=y:***@h:5061 and sip:h:5060",
        ),
        ("<sip:a:p%40w@h>", "<sip:a:***@h>"),
        ("sip:host.example:5060;transport=tcp", "sip:host.example:5060;transport=tcp"),
    ],
)
def test_redact_uri_text(text: str, redacted: str) -> None:
    assert redact_uri_text(text) == redacted


def test_escaped_parameter_names_compare_unescaped() -> None:
    """§19.1.4: a character other than a reserved one equals its escape, so ;%6C%72 is
    ;lr and the two URIs are the same; an escaped reserved character stays escaped."""
    escaped = parse_uri("sip:carol@chicago.com;%6C%72;%74ransport=tcp")
    assert escaped.has_param("lr")
    assert escaped.transport == "tcp"
    assert escaped == parse_uri("sip:carol@chicago.com;lr;transport=tcp")
    assert parse_uri("sip:h;a%3bb").params == (("a%3bb", None),)


def test_an_escaped_transport_value_is_the_transport() -> None:
    assert parse_uri("sip:h;transport=%74ls").transport == "tls"
    assert parse_uri("sip:h;transport=%74ls").is_secure


def test_a_built_uri_needs_its_parameter_names_unescaped() -> None:
    with pytest.raises(SipBuildError, match="normal form 'lr'"):
        SipUri("sip", None, None, "h.example", "name", None, (("%6c%72", None),))
