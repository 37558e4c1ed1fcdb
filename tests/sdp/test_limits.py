"""Every SdpLimits field: exactly at the limit is accepted, one past it is refused."""

from __future__ import annotations

import pytest

from probe.sdp import DEFAULT_SDP_LIMITS, SdpBuildError, SdpLimitError, SdpLimits, parse_sdp

from .samples import HEAD, sdp

SMALL = SdpLimits(max_bytes=300, max_lines=12, max_media=2)
LIMITS = [pytest.param(DEFAULT_SDP_LIMITS, id="default"), pytest.param(SMALL, id="small")]


def of_bytes(total: int) -> bytes:
    """A valid description of exactly ``total`` bytes (padded in an a= line)."""
    base = sdp("a=x:")
    data = sdp("a=x:" + "p" * (total - len(base)))
    assert len(data) == total
    return data


def of_lines(total: int) -> bytes:
    return sdp(*(f"a=n{i}" for i in range(total - len(HEAD))))


def of_media(count: int) -> bytes:
    return sdp(*(f"m=audio {4000 + 2 * i} RTP/AVP 0" for i in range(count)))


def refused(data: bytes, limits: SdpLimits, limit: str) -> SdpLimitError:
    with pytest.raises(SdpLimitError) as info:
        parse_sdp(data, limits=limits)
    assert info.value.limit == limit
    assert info.value.value == getattr(limits, limit)
    assert f"{limit}={getattr(limits, limit)} exceeded" in str(info.value)
    return info.value


@pytest.mark.parametrize("limits", LIMITS)
def test_max_bytes(limits: SdpLimits) -> None:
    roomy = SdpLimits(max_bytes=limits.max_bytes, max_lines=10**6)
    parse_sdp(of_bytes(limits.max_bytes), limits=roomy)
    refused(of_bytes(limits.max_bytes + 1), limits, "max_bytes")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_lines(limits: SdpLimits) -> None:
    roomy = SdpLimits(max_bytes=10**7, max_lines=limits.max_lines, max_media=limits.max_media)
    assert len(parse_sdp(of_lines(limits.max_lines), limits=roomy).attributes) == (
        limits.max_lines - len(HEAD)
    )
    error = refused(of_lines(limits.max_lines + 1), roomy, "max_lines")
    assert error.line == limits.max_lines + 1


def test_max_lines_counts_a_last_line_without_newline() -> None:
    limits = SdpLimits(max_lines=6)
    parse_sdp(sdp("a=x").rstrip(b"\r\n"), limits=limits)
    refused(sdp("a=x", "a=y").rstrip(b"\r\n"), limits, "max_lines")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_media(limits: SdpLimits) -> None:
    roomy = SdpLimits(max_bytes=10**7, max_lines=10**6, max_media=limits.max_media)
    assert len(parse_sdp(of_media(limits.max_media), limits=roomy).media) == limits.max_media
    error = refused(of_media(limits.max_media + 1), roomy, "max_media")
    assert error.line == len(HEAD) + limits.max_media + 1


def test_the_size_limit_applies_to_the_utf8_bytes_of_text() -> None:
    text = sdp("a=x:" + "é" * 10).decode()
    size = len(text.encode())
    parse_sdp(text, limits=SdpLimits(max_bytes=size))
    refused(text.encode(), SdpLimits(max_bytes=size - 1), "max_bytes")
    with pytest.raises(SdpLimitError):
        parse_sdp(text, limits=SdpLimits(max_bytes=size - 1))


def test_defaults() -> None:
    assert SdpLimits(max_bytes=64 * 1024, max_lines=1000, max_media=64) == DEFAULT_SDP_LIMITS


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10"])
@pytest.mark.parametrize("name", ["max_bytes", "max_lines", "max_media"])
def test_limits_validate(name: str, value: object) -> None:
    with pytest.raises(SdpBuildError, match=name):
        SdpLimits(**{name: value})  # type: ignore[arg-type]
