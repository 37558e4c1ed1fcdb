"""The SDP types: validation on construction (no injection into the wire form), the
media properties, and the session-level fallbacks."""

from __future__ import annotations

import pytest

from probe.sdp import (
    MediaDescription,
    Origin,
    SdpBuildError,
    SdpError,
    SessionDescription,
    Timing,
    parse_sdp,
)

ORIGIN = Origin("sipprobe", 1, 1, "IN", "IP4", "192.0.2.1")


def media(**kwargs: object) -> MediaDescription:
    fields: dict[str, object] = {
        "media": "audio",
        "port": 4000,
        "proto": "RTP/AVP",
        "formats": ("0",),
        "connection": "192.0.2.1",
    }
    fields.update(kwargs)
    return MediaDescription(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": -1},
        {"port": 65536},
        {"port": True},
        {"port_count": 0},
        {"media": "audio video"},
        {"proto": "RTP AVP"},
        {"formats": ()},
        {"formats": ("0 8",)},
        {"connection": "192.0.2.1\r\nm=video 1 RTP/AVP 0"},
        {"attributes": (("sendrecv\r\na=x", None),)},
        {"attributes": (("x", "y\r\nk=clear:secret"),)},
        {"attributes": (("x", "nul\x00"),)},
        {"attributes": ("sendrecv",)},
        {"information": "two\nlines"},
        {"bandwidths": ("AS:64\r\n",)},
    ],
)
def test_media_refuses_what_would_corrupt_the_wire(kwargs: dict[str, object]) -> None:
    with pytest.raises(SdpBuildError):
        media(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": 1},
        {"session_name": ""},
        {"session_name": "x\r\ny"},
        {"times": ()},
        {"media": (media(connection=None),)},
        {"emails": ("a@b\n",)},
        {"origin": "o=- 1 1 IN IP4 1.2.3.4"},
    ],
)
def test_session_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"origin": ORIGIN, "session_name": "-"}
    fields.update(kwargs)
    with pytest.raises(SdpBuildError):
        SessionDescription(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"username": "two words"},
        {"session_id": -1},
        {"session_version": "1"},
        {"nettype": "I N"},
        {"address": ""},
    ],
)
def test_origin_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "username": "-",
        "session_id": 1,
        "session_version": 1,
        "nettype": "IN",
        "addrtype": "IP4",
        "address": "192.0.2.1",
    }
    fields.update(kwargs)
    with pytest.raises(SdpBuildError):
        Origin(**fields)  # type: ignore[arg-type]


def test_timing_validation() -> None:
    with pytest.raises(SdpBuildError):
        Timing(-1, 0)
    with pytest.raises(SdpBuildError):
        Timing(0, 0, ("1 2 3\n",))


@pytest.mark.parametrize(
    ("proto", "secure"),
    [
        ("RTP/AVP", False),
        ("RTP/AVPF", False),
        ("RTP/SAVP", True),
        ("RTP/SAVPF", True),
        ("UDP/TLS/RTP/SAVP", True),
        ("UDP/TLS/RTP/SAVPF", True),
        ("TCP/DTLS/SCTP", True),
        ("udp", False),
    ],
)
def test_is_secure_profile(proto: str, secure: bool) -> None:
    assert media(proto=proto).is_secure_profile is secure


def test_effective_connection_prefers_media_level() -> None:
    session = SessionDescription(
        ORIGIN,
        "-",
        connection="192.0.2.1",
        media=(media(connection=None), media(connection="2001:db8::5")),
    )
    first, second = session.media
    assert session.effective_connection(first) == "192.0.2.1"
    assert session.effective_connection(second) == "2001:db8::5"
    assert b"c=IN IP6 2001:db8::5\r\n" in session.to_bytes()


def test_directions_and_session_setup_fallback() -> None:
    assert media().direction == "sendrecv"
    assert media(attributes=(("inactive", None),)).direction == "inactive"
    session = SessionDescription(ORIGIN, "-", attributes=(("setup", "active"),), media=(media(),))
    assert session.media[0].setup is None
    assert session.effective_setup(session.media[0]) == "active"


def test_lazy_crypto_errors_are_sdp_errors() -> None:
    built = media(
        proto="RTP/SAVP", attributes=(("crypto", "1 AES_CM_128_HMAC_SHA1_80 inline:AA=="),)
    )
    with pytest.raises(SdpError, match="needs 30 bytes"):
        _ = built.crypto
    with pytest.raises(SdpError):
        _ = media(attributes=(("crypto", None),)).crypto
    with pytest.raises(SdpError):
        _ = media(attributes=(("setup", "sideways"),)).setup


def test_hand_built_description_parses_back() -> None:
    session = SessionDescription(
        ORIGIN,
        "Call",
        connection="192.0.2.1",
        times=(Timing(1, 2, ("7d 1h 0",), "1 -1h"),),
        attributes=(("tool", "x"),),
        media=(media(port_count=2, information="main", bandwidths=("AS:64",)),),
        information="info",
        uri="http://example.com/",
        emails=("a@example.com",),
        phones=("+1 555",),
        bandwidths=("CT:100",),
    )
    assert parse_sdp(session.to_bytes()) == session
