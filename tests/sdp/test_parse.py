"""parse_sdp on valid descriptions (what it keeps) and invalid ones (what it says, where)."""

from __future__ import annotations

import pytest

from probe.sdp import SdpError, SessionDescription, Timing, parse_sdp

from .samples import HEAD, KEY30, SHA256_FP, TIMES, TWILIO_ANSWER, TWO_MEDIA, VALID, sdp


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_descriptions_parse_and_round_trip(name: str) -> None:
    parsed = parse_sdp(VALID[name])
    assert isinstance(parsed, SessionDescription)
    assert parse_sdp(parsed.to_bytes(reveal_keys=True)) == parsed
    # str input is the same as its UTF-8 bytes
    assert parse_sdp(VALID[name].decode()) == parsed


def test_twilio_answer_fields() -> None:
    parsed = parse_sdp(TWILIO_ANSWER)
    assert parsed.version == 0
    assert parsed.origin.username == "root"
    assert parsed.origin.session_id == 1460184476
    assert parsed.origin.address == "54.172.60.1"
    assert parsed.session_name == "Twilio Media Gateway"
    assert parsed.connection == "54.172.60.1"
    assert parsed.times == (Timing(0, 0),)
    (audio,) = parsed.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        15366,
        "RTP/SAVP",
        ("0", "101"),
    )
    assert audio.is_secure_profile
    assert audio.direction == "sendrecv"
    assert parsed.effective_connection(audio) == "54.172.60.1"
    (crypto,) = audio.crypto
    assert (crypto.tag, crypto.suite, crypto.lifetime, crypto.mki) == (
        1,
        "AES_CM_128_HMAC_SHA1_80",
        "2^31",
        None,
    )
    assert len(crypto.key_salt) == 30
    assert audio.attribute_values("ptime") == ("20",)
    assert audio.has_attribute("sendrecv")


def test_teams_offer_has_tag_zero_and_two_suites() -> None:
    audio = parse_sdp(VALID["teams"]).media[0]
    assert [(c.tag, c.suite) for c in audio.crypto] == [
        (0, "AES_CM_128_HMAC_SHA1_32"),
        (1, "AES_CM_128_HMAC_SHA1_80"),
    ]
    assert audio.formats[0] == "111"
    assert parse_sdp(VALID["teams"]).bandwidths == ("CT:10000000",)


def test_multiple_media_with_their_own_connections() -> None:
    parsed = parse_sdp(TWO_MEDIA)
    assert parsed.connection is None
    audio, video = parsed.media
    assert parsed.effective_connection(audio) == "198.51.100.1"
    assert parsed.effective_connection(video) == "198.51.100.2"
    assert audio.direction == "recvonly"
    assert audio.crypto[0].suite == "AES_256_CM_HMAC_SHA1_80"
    assert len(audio.crypto[0].key_salt) == 46
    assert audio.bandwidths == ("AS:64",)
    assert video.port == 0
    assert not video.is_secure_profile
    assert parsed.information == "A call"
    assert parsed.emails == ("alice@example.com (Alice)",)
    assert parsed.phones == ("+1 617 555-6011",)
    assert parsed.attributes == (("group", "BUNDLE 0"),)
    assert parsed.first_media("video") is video


def test_ipv6_and_session_level_fingerprint() -> None:
    parsed = parse_sdp(VALID["ipv6_dtls"])
    (audio,) = parsed.media
    assert parsed.connection == "2001:db8::1"
    assert parsed.origin.addrtype == "IP6"
    assert audio.fingerprint is None  # it is at session level
    (fingerprint,) = parsed.effective_fingerprints(audio)
    assert fingerprint.hash_function == "sha-256"
    assert fingerprint.value == SHA256_FP
    assert audio.setup == "passive"
    assert parsed.effective_setup(audio) == "passive"
    assert audio.is_secure_profile
    assert b"c=IN IP6 2001:db8::1\r\n" in parsed.to_bytes()


def test_times_repeats_zone_and_discarded_key() -> None:
    parsed = parse_sdp(TIMES)
    first, second = parsed.times
    assert first.repeats == ("604800 3600 0 90000",)
    assert first.zone == "3730928400 -1h 3749680800 0"
    assert second == Timing(3724484400, 3724488000, ("7d 1h 0 25h",))
    assert parsed.connection == "233.252.0.1/127/3"
    assert parsed.media[0].port_count == 2
    # RFC 8866 §5.12: k= MUST be discarded.
    assert b"k=" not in parsed.to_bytes(reveal_keys=True)


def test_lf_endings_equal_crlf() -> None:
    assert parse_sdp(VALID["lf_endings"]) == parse_sdp(TWILIO_ANSWER)


def test_session_name_of_one_space_is_allowed() -> None:
    assert (
        parse_sdp(sdp(head=["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s= ", "t=0 0"])).session_name == " "
    )


def test_unknown_attributes_and_fqdn_connection_are_kept() -> None:
    parsed = parse_sdp(
        sdp("m=audio 4000 RTP/AVP 0", "c=IN IP4 media.example.com", "a=x-custom:some value")
    )
    assert parsed.media[0].connection == "media.example.com"
    assert parsed.media[0].attributes == (("x-custom", "some value"),)


ORIG = "o=- 1 1 IN IP4 192.0.2.1"
C = "c=IN IP4 192.0.2.1"
M = "m=audio 4000 RTP/SAVP 0"
CRYPTO = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"

INVALID = [
    # (id, lines, line number, words in the message)
    ("missing_v", [ORIG, "s=-", C, "t=0 0"], 1, "missing v= line"),
    ("v_1", ["v=1", ORIG, "s=-", C, "t=0 0"], 1, "only v=0"),
    ("missing_o", ["v=0", "s=-", C, "t=0 0"], 2, "missing o= line"),
    ("missing_s", ["v=0", ORIG, C, "t=0 0"], 3, "missing s= line"),
    ("empty_s", ["v=0", ORIG, "s=", C, "t=0 0"], 3, "MUST NOT be empty"),
    ("missing_t", ["v=0", ORIG, "s=-", C, M], 5, "missing t= line before m="),
    ("m_before_t", ["v=0", ORIG, "s=-", C, M, "t=0 0"], 5, "missing t= line"),
    ("c_after_t", ["v=0", ORIG, "s=-", "t=0 0", C], 5, "out of order"),
    ("two_s", ["v=0", ORIG, "s=-", "s=x", C, "t=0 0"], 4, "more than one s="),
    ("two_session_c", [*HEAD, C], 6, "out of order"),
    ("r_before_t", ["v=0", ORIG, "s=-", C, "r=7d 1h 0", "t=0 0"], 5, "must follow a t="),
    ("unknown_letter", [*HEAD, "x=1"], 6, "unknown type letter 'x'"),
    ("upper_letter", [*HEAD, "A=1"], 6, "unknown type letter 'A'"),
    ("no_equals", [*HEAD, "a foo"], 6, "not a <type>=<value>"),
    ("space_before_equals", [*HEAD, "a =foo"], 6, "not a <type>=<value>"),
    ("empty_line", ["v=0", ORIG, "", "s=-", C, "t=0 0"], 3, "empty line"),
    ("bad_port", [*HEAD, "m=audio 65536 RTP/AVP 0"], 6, "port 65536"),
    ("port_text", [*HEAD, "m=audio http RTP/AVP 0"], 6, "not a decimal"),
    ("port_count_0", [*HEAD, "m=audio 4000/0 RTP/AVP 0"], 6, "number of ports"),
    ("no_formats", [*HEAD, "m=audio 4000 RTP/AVP"], 6, "m= needs"),
    ("bad_payload_type", [*HEAD, "m=audio 4000 RTP/AVP 128"], 6, "payload type"),
    ("text_payload_type", [*HEAD, "m=audio 4000 RTP/SAVP description"], 6, "payload type"),
    ("double_space", [*HEAD, "m=audio  4000 RTP/AVP 0"], 6, "single spaces"),
    ("no_connection", [*HEAD[:3], "t=0 0", "m=audio 4000 RTP/AVP 0"], 5, "no c= line"),
    ("second_media_no_c", [*HEAD[:3], "t=0 0", M, C, "m=video 0 RTP/AVP 31"], 7, "no c="),
    ("two_media_c", [*HEAD, M, C, C], 8, "more than one c="),
    ("t_in_media", [*HEAD, M, "t=0 0"], 7, "not allowed in a media"),
    ("c_after_a_in_media", [*HEAD, M, "a=sendrecv", C], 8, "out of order"),
    ("o_five_fields", ["v=0", "o=- 1 IN IP4 192.0.2.1", "s=-", C, "t=0 0"], 2, "o= needs"),
    ("o_text_id", ["v=0", "o=- x 1 IN IP4 h", "s=-", C, "t=0 0"], 2, "sess-id"),
    ("c_atm", ["v=0", ORIG, "s=-", "c=ATM NSAP 1", "t=0 0"], 4, "IN IP4 or IN IP6"),
    ("c_bad_ipv4", ["v=0", ORIG, "s=-", "c=IN IP4 300.1.1.1", "t=0 0"], 4, "IPv4"),
    ("c_ipv4_as_ip6", ["v=0", ORIG, "s=-", "c=IN IP6 192.0.2.1", "t=0 0"], 4, "not an IP6"),
    ("c_bad_ipv6", ["v=0", ORIG, "s=-", "c=IN IP6 2001:db8:::1", "t=0 0"], 4, "IPv6"),
    ("c_unicast_ttl", ["v=0", ORIG, "s=-", "c=IN IP4 192.0.2.1/127", "t=0 0"], 4, "multicast only"),
    ("c_multicast_no_ttl", ["v=0", ORIG, "s=-", "c=IN IP4 233.252.0.1", "t=0 0"], 4, "TTL"),
    ("c_ttl_256", ["v=0", ORIG, "s=-", "c=IN IP4 233.252.0.1/256", "t=0 0"], 4, "0-255"),
    ("t_one_field", ["v=0", ORIG, "s=-", C, "t=0"], 5, "t= needs"),
    ("b_bad", [*HEAD[:4], "b=AS", "t=0 0"], 5, "b= needs"),
    ("z_odd", [*HEAD, "z=1 2 3"], 6, "z= needs"),
    ("attr_bad_name", [*HEAD, "a=foo bar"], 6, "not a token"),
    ("attr_empty_value", [*HEAD, "a=foo:"], 6, "is empty"),
    ("session_crypto", [*HEAD, CRYPTO], 6, "media-level"),
    ("two_directions", [*HEAD, M, "a=sendonly", "a=recvonly"], 8, "more than one direction"),
    ("direction_value", [*HEAD, M, "a=sendrecv:yes"], 7, "takes no value"),
    ("two_setup", [*HEAD, M, "a=setup:active", "a=setup:passive"], 8, "more than one a=setup"),
    ("bad_setup", [*HEAD, M, "a=setup:both"], 7, "a=setup value"),
    ("bad_fingerprint", [*HEAD, M, "a=fingerprint:sha-256 AB:CD"], 7, "32 bytes"),
    ("bad_base64", [*HEAD, M, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!"], 7, "base64"),
    (
        "short_key",
        [*HEAD, M, f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30[:-4]}"],
        7,
        "got 27",
    ),
    (
        "tag_10_digits",
        [*HEAD, M, f"a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"],
        7,
        "crypto tag",
    ),
]


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [pytest.param(lines, line, words, id=name) for name, lines, line, words in INVALID],
)
def test_invalid_descriptions_name_the_line(lines: list[str], line: int, words: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(sdp(*lines, head=[]))
    assert info.value.line == line
    assert words in info.value.detail
    assert str(info.value).startswith(f"line {line}: ")
    assert KEY30 not in str(info.value)


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        pytest.param(b"", None, "empty description", id="empty"),
        pytest.param(b"\r\n\r\n", None, "empty description", id="blank"),
        pytest.param(sdp() + b"a=x\rb\r\n", 6, "bare CR", id="bare_cr"),
        pytest.param(sdp() + b"a=x\x00\r\n", 6, "NUL", id="nul"),
        pytest.param(sdp() + b"a=caf\xe9\r\n", 6, "UTF-8", id="latin1"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 1, None, id="tls_hello"),
        pytest.param(b"SIP/2.0 200 OK\r\n", 1, "<type>=<value>", id="sip_line"),
        pytest.param(sdp().replace(b"\r\n", b"\r\n\r\n", 1), 2, "empty line", id="blank_inside"),
    ],
)
def test_invalid_bytes(data: bytes, line: int | None, words: str | None) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(data)
    assert info.value.line == line
    if words:
        assert words in info.value.detail


def test_surrogate_text_is_an_sdp_error() -> None:
    with pytest.raises(SdpError, match="UTF-8"):
        parse_sdp("v=0\ud800\r\n")


def test_mixed_line_endings_are_accepted() -> None:
    mixed = TWILIO_ANSWER.replace(b"\r\n", b"\n", 3)
    assert parse_sdp(mixed) == parse_sdp(TWILIO_ANSWER)
