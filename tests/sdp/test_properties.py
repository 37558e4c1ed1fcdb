"""Property tests: parse_sdp and parse_crypto raise nothing but SdpError on junk, and
whatever parses serialises back to the same description.

The example count comes from SIPPROBE_FUZZ_EXAMPLES (default 300).
"""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.sdp import (
    SUITE_KEY_BYTES,
    SdpError,
    build_offer,
    parse_crypto,
    parse_fingerprint,
    parse_sdp,
    redact,
)

from .samples import KEY30, VALID

pytestmark = pytest.mark.fuzz

FUZZ = settings(
    max_examples=int(os.environ.get("SIPPROBE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SDP_ALPHABET = st.sampled_from(
    [*"vosiuepcbtrzkamx= :/|;.-^\r\n\t0123456789", "IN", "IP4", "IP6", "RTP/SAVP", "inline:"]
)
sdp_like_text = st.lists(SDP_ALPHABET, max_size=200).map("".join)
crypto_like_text = st.lists(
    st.sampled_from(
        [
            "1",
            "0",
            " ",
            "\t",
            "AES_CM_128_HMAC_SHA1_80",
            "inline:",
            KEY30,
            "|",
            "2^31",
            ":",
            ";",
            "=",
            "4",
            "KDR=1",
            "A",
            "+",
            "/",
            "x_m:",
        ]
    ),
    max_size=20,
).map("".join)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A valid sample with a few lines deleted, duplicated, swapped or edited."""
    lines = draw(st.sampled_from(sorted(VALID.values()))).split(b"\r\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "edit", "insert"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "edit" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + draw(st.binary(max_size=3)) + lines[i][k + 1 :]
        else:
            lines.insert(i, draw(sdp_like_text).encode())
    return b"\r\n".join(lines)


def check_sdp(data: bytes | str) -> None:
    try:
        parsed = parse_sdp(data)
    except SdpError as exc:
        error: SdpError | None = exc
    else:
        error = None
    if error is not None:
        assert error.line is None or str(error).startswith(f"line {error.line}: ")
        return
    assert parse_sdp(parsed.to_bytes(reveal_keys=True)) == parsed
    redacted = parsed.to_bytes().decode()
    assert redact(redacted) == redacted
    for media in parsed.media:  # the lazy views must not raise once parse_sdp accepted
        _ = (media.crypto, media.fingerprints, media.setup, media.direction)
        _ = (parsed.effective_fingerprints(media), parsed.effective_setup(media))


@FUZZ
@given(st.binary(max_size=600))
def test_parse_sdp_bytes(data: bytes) -> None:
    check_sdp(data)


@FUZZ
@given(st.one_of(st.text(max_size=300), sdp_like_text))
def test_parse_sdp_text(text: str) -> None:
    check_sdp(text)


@FUZZ
@given(mutated_samples())
def test_parse_sdp_mutations(data: bytes) -> None:
    check_sdp(data)


@FUZZ
@given(st.one_of(st.text(max_size=200), crypto_like_text))
def test_parse_crypto(text: str) -> None:
    try:
        crypto = parse_crypto(text)
    except SdpError as exc:
        message = str(exc)
        assert KEY30 not in message
        return
    assert parse_crypto(crypto.to_attribute_value(reveal=True)).key_salt == crypto.key_salt
    assert KEY30 not in repr(crypto) + str(crypto)


@FUZZ
@given(st.text(max_size=120))
def test_parse_fingerprint(text: str) -> None:
    with contextlib.suppress(SdpError):
        parse_fingerprint(text)


@FUZZ
@given(
    kind=st.sampled_from(["sdes", "rtp"]),
    address=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
    .filter(lambda ip: not ip.is_multicast)
    .map(str),
    port=st.integers(1, 65535),
    session_id=st.integers(0, 2**64),
    suites=st.lists(st.sampled_from(sorted(SUITE_KEY_BYTES)), min_size=1, unique=True),
    seed=st.binary(min_size=1, max_size=8),
)
def test_offers_round_trip(
    kind: str, address: str, port: int, session_id: int, suites: list[str], seed: bytes
) -> None:
    def random_bytes(n: int) -> bytes:
        return (seed * n)[:n]

    offer = build_offer(
        kind,  # type: ignore[arg-type]
        address=address,
        port=port,
        session_id=session_id,
        suites=suites,
        random_bytes=random_bytes,
    )
    assert parse_sdp(offer.to_bytes(reveal_keys=True)) == offer
