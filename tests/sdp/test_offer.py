"""build_offer: the three offer kinds, round trips, and keys kept off every printout."""

from __future__ import annotations

import base64
import re

import pytest

from probe.sdp import (
    Fingerprint,
    SdpBuildError,
    SessionDescription,
    build_offer,
    parse_sdp,
    redact,
)

from .samples import KEY30, SHA256_FP, TWILIO_ANSWER, counting_bytes

FINGERPRINT = Fingerprint("sha-256", SHA256_FP)


def offer(kind: str = "sdes", **kwargs: object) -> SessionDescription:
    arguments: dict[str, object] = {
        "address": "192.0.2.10",
        "port": 40000,
        "session_id": 7,
        "random_bytes": counting_bytes(),
    }
    arguments.update(kwargs)
    return build_offer(kind, **arguments)  # type: ignore[arg-type]


def keys_of(sdp: SessionDescription) -> list[str]:
    return [base64.b64encode(c.key_salt).decode() for m in sdp.media for c in m.crypto]


def test_sdes_offer_shape() -> None:
    sdp = offer()
    assert sdp.origin.username == "sipprobe"
    assert (sdp.origin.session_id, sdp.origin.session_version) == (7, 7)
    assert sdp.connection == "192.0.2.10"
    (audio,) = sdp.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        40000,
        "RTP/SAVP",
        ("0", "8", "101"),
    )
    assert audio.attribute_values("rtpmap") == (
        "0 PCMU/8000",
        "8 PCMA/8000",
        "101 telephone-event/8000",
    )
    assert audio.attribute_values("fmtp") == ("101 0-16",)
    assert audio.direction == "sendrecv"
    assert not audio.has_attribute("rtcp-mux")
    assert [(c.tag, c.suite, len(c.key_salt)) for c in audio.crypto] == [
        (1, "AES_CM_128_HMAC_SHA1_80", 30),
        (2, "AES_CM_128_HMAC_SHA1_32", 30),
    ]
    assert all(c.mki is None and c.lifetime is None for c in audio.crypto)
    first, second = audio.crypto
    assert first.key_salt != second.key_salt  # a fresh key per suite


def test_keys_come_from_random_bytes() -> None:
    calls: list[int] = []

    def random_bytes(n: int) -> bytes:
        calls.append(n)
        return bytes([len(calls)]) * n

    sdp = offer(suites=("AES_256_CM_HMAC_SHA1_80", "AEAD_AES_128_GCM"), random_bytes=random_bytes)
    assert calls == [46, 28]
    assert [c.key_salt for c in sdp.media[0].crypto] == [b"\x01" * 46, b"\x02" * 28]


@pytest.mark.parametrize("kind", ["sdes", "dtls", "rtp"])
@pytest.mark.parametrize("address", ["192.0.2.10", "2001:db8::10"])
def test_round_trip(kind: str, address: str) -> None:
    fingerprint = FINGERPRINT if kind == "dtls" else None
    sdp = offer(kind, address=address, fingerprint=fingerprint)
    wire = sdp.to_bytes(reveal_keys=True)
    assert parse_sdp(wire) == sdp
    assert wire.endswith(b"\r\n")
    assert b"\n" not in wire.replace(b"\r\n", b"")
    version = "IP6" if ":" in address else "IP4"
    assert f"c=IN {version} {address}\r\n".encode() in wire
    assert f"o=sipprobe 7 7 IN {version} {address}\r\n".encode() in wire


def test_dtls_offer() -> None:
    audio = offer("dtls", fingerprint=FINGERPRINT).media[0]
    assert audio.proto == "UDP/TLS/RTP/SAVP"
    assert audio.fingerprint == FINGERPRINT
    assert audio.setup == "actpass"
    assert audio.crypto == ()


def test_rtp_offer() -> None:
    audio = offer("rtp").media[0]
    assert audio.proto == "RTP/AVP"
    assert not audio.is_secure_profile
    assert audio.crypto == ()


def test_redacted_output_has_no_key_bytes() -> None:
    sdp = offer()
    keys = keys_of(sdp)
    assert len(keys) == 2
    wire = sdp.to_bytes(reveal_keys=True).decode()
    assert all(key in wire for key in keys)
    for text in (sdp.to_bytes().decode(), str(sdp), repr(sdp), repr(sdp.media), repr(sdp.media[0])):
        for key in keys:
            assert key not in text
            assert key[:16] not in text
        assert "inline:<redacted" in text
    assert sdp.to_bytes().decode().count("inline:<redacted>") == 2


def test_parsed_answer_reprs_are_redacted() -> None:
    sdp = parse_sdp(TWILIO_ANSWER)
    for text in (repr(sdp), str(sdp), repr(sdp.media[0].crypto), str(sdp.media[0].crypto[0])):
        assert KEY30 not in text


INVITE = (
    "INVITE sip:+15550100@trunk.example.com;transport=tls SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 999\r\n"
    "\r\n"
)


def test_redact_a_whole_sip_message() -> None:
    sdp = offer(suites=("AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32"))
    keys = keys_of(sdp)
    message = INVITE + sdp.to_bytes(reveal_keys=True).decode()
    cleaned = redact(message)
    for key in keys:
        assert key not in cleaned
    assert cleaned.count("inline:<redacted>") == 2
    # Everything else is untouched.
    assert re.sub(r"inline:[^\r\n|;]+", "inline:<redacted>", message) == cleaned
    assert redact(cleaned) == cleaned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"inline:{KEY30}|2^31|1:1", "inline:<redacted>|2^31|1:1"),
        (f"INLINE:{KEY30};inline:{KEY30}", "INLINE:<redacted>;inline:<redacted>"),
        (f"'a=crypto:1 X inline:{KEY30}'", "'a=crypto:1 X inline:<redacted>'"),
        (f'"inline:{KEY30}"', '"inline:<redacted>"'),
        (f"inline:{KEY30} KDR=1", "inline:<redacted> KDR=1"),
        ("inline:<redacted 30 bytes>", "inline:<redacted 30 bytes>"),
        ("no keys here", "no keys here"),
        ("inline:", "inline:"),
    ],
)
def test_redact_cases(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"address": "pbx.example.com"}, "not an IP address"),
        ({"address": "233.252.0.1"}, "unicast"),
        ({"address": "fe80::1%eth0"}, "unicast"),
        ({"port": 0}, "1..65535"),
        ({"port": 65536}, "1..65535"),
        ({"session_id": -1}, "non-negative"),
        ({"suites": ()}, "non-empty"),
        ({"suites": "AES_CM_128_HMAC_SHA1_80"}, "non-empty sequence"),
        ({"suites": ("NOT_A_SUITE",)}, "unknown crypto-suite"),
        ({"suites": ("AES_CM_128_HMAC_SHA1_80",) * 2}, "repeat"),
        ({"random_bytes": lambda n: b"\x00" * (n - 1)}, "did not return"),
        ({"fingerprint": FINGERPRINT}, "only belongs in a dtls offer"),
    ],
)
def test_build_errors(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SdpBuildError, match=words):
        offer("sdes", **kwargs)


def test_dtls_needs_a_fingerprint_and_kind_is_checked() -> None:
    with pytest.raises(SdpBuildError, match="needs the fingerprint"):
        offer("dtls")
    with pytest.raises(SdpBuildError, match="offer kind"):
        offer("zrtp")
