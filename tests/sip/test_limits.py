"""Every Limits field: exactly at the limit is accepted, one past it is refused.

Each case runs through both parse_message (datagram) and StreamFramer (stream), with
the default limits and with small ones.
"""

from __future__ import annotations

import pytest

from probe.sip import (
    DEFAULT_LIMITS,
    Limits,
    SipBuildError,
    SipLimitError,
    StreamFramer,
    parse_message,
)

from .samples import RESPONSE_LINES, wire

SMALL = Limits(max_line_bytes=100, max_header_bytes=400, max_headers=12, max_body_bytes=10)
LIMITS = [pytest.param(DEFAULT_LIMITS, id="default"), pytest.param(SMALL, id="small")]

BASE = list(RESPONSE_LINES[:-1])  # without Content-Length, re-added as the last line


def with_lines(extra: list[str], body: bytes = b"", content_length: bool = True) -> bytes:
    tail = [f"Content-Length: {len(body)}"] if content_length else []
    return wire([*BASE, *extra, *tail], body)


def pad_lines(total: int, max_line: int) -> list[str]:
    """X-Pad header lines adding exactly ``total`` bytes (CRLFs included)."""
    lines = []
    while total:
        size = min(max_line, total - 2)
        if 0 < total - 2 - size < 12:  # leave enough for a last, non-trivial line
            size -= 12
        lines.append("X-Pad: " + "a" * (size - 7))
        total -= size + 2
    return lines


def head_of(total: int, limits: Limits) -> bytes:
    base = len(with_lines([]))
    return with_lines(pad_lines(total - base, limits.max_line_bytes))


def line_of(length: int) -> bytes:
    return with_lines(["X-Long: " + "b" * (length - 8)])


def with_headers(count: int) -> bytes:
    return with_lines([f"X-N{i}: {i}" for i in range(count - len(BASE))])


def check(data: bytes, limits: Limits, *, stream: bool = True) -> None:
    """Parse as a datagram, then as a stream fed in two pieces; both must agree."""
    message = parse_message(data, limits=limits)
    if stream:
        framer = StreamFramer(limits)
        framer.feed(data[: len(data) // 2])
        framer.feed(data[len(data) // 2 :])
        assert framer.next_message() == message


def check_refused(data: bytes, limits: Limits, limit: str, *, stream: bool = True) -> None:
    with pytest.raises(SipLimitError) as info:
        parse_message(data, limits=limits)
    assert info.value.limit == limit
    assert info.value.value == getattr(limits, limit)
    assert f"{limit}={getattr(limits, limit)}" in str(info.value)
    if stream:
        framer = StreamFramer(limits)
        framer.feed(data)
        with pytest.raises(SipLimitError) as streamed:
            framer.next_message()
        assert streamed.value.limit == limit


@pytest.mark.parametrize("limits", LIMITS)
def test_max_line_bytes(limits):
    at = line_of(limits.max_line_bytes)
    assert max(len(line) for line in at.split(b"\r\n")) == limits.max_line_bytes
    check(at, limits)
    check_refused(line_of(limits.max_line_bytes + 1), limits, "max_line_bytes")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_line_bytes_applies_to_the_start_line(limits):
    def start(length: int) -> bytes:
        return wire(["SIP/2.0 200 " + "R" * (length - 12), *RESPONSE_LINES[1:]])

    check(start(limits.max_line_bytes), limits)
    check_refused(start(limits.max_line_bytes + 1), limits, "max_line_bytes")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_header_bytes(limits):
    at = head_of(limits.max_header_bytes, limits)
    assert at.index(b"\r\n\r\n") + 4 == limits.max_header_bytes
    check(at, limits)
    past = head_of(limits.max_header_bytes + 1, limits)
    assert past.index(b"\r\n\r\n") + 4 == limits.max_header_bytes + 1
    check_refused(past, limits, "max_header_bytes")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_headers(limits):
    at = with_headers(limits.max_headers)
    assert len(parse_message(at, limits=limits).headers) == limits.max_headers
    check(at, limits)
    check_refused(with_headers(limits.max_headers + 1), limits, "max_headers")


def test_max_headers_counts_fields_not_folded_lines():
    folded = with_lines(["X-Folded: a", " b", " c"])
    limits = Limits(max_headers=len(BASE) + 1)  # 5 base fields, X-Folded, Content-Length
    assert parse_message(folded, limits=limits).headers.get("X-Folded") == "a b c"


@pytest.mark.parametrize("limits", LIMITS)
def test_max_body_bytes(limits):
    size = limits.max_body_bytes
    check(with_lines([], b"x" * size), limits)
    check_refused(with_lines([], b"x" * (size + 1)), limits, "max_body_bytes")


@pytest.mark.parametrize("limits", LIMITS)
def test_max_body_bytes_without_content_length_on_a_datagram(limits):
    size = limits.max_body_bytes
    check(with_lines([], b"x" * size, content_length=False), limits, stream=False)
    refused = with_lines([], b"x" * (size + 1), content_length=False)
    check_refused(refused, limits, "max_body_bytes", stream=False)


def test_max_body_bytes_zero_forbids_bodies():
    limits = Limits(max_body_bytes=0)
    check(with_lines([]), limits)
    check_refused(with_lines([], b"x"), limits, "max_body_bytes")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_line_bytes": 0},
        {"max_header_bytes": -1},
        {"max_headers": 0},
        {"max_body_bytes": -1},
        {"max_headers": True},
        {"max_body_bytes": 1.5},
    ],
)
def test_limits_must_be_sane(kwargs):
    with pytest.raises(SipBuildError, match="Limits"):
        Limits(**kwargs)


def test_default_limits():
    assert (
        Limits(max_line_bytes=8192, max_header_bytes=32768, max_headers=128, max_body_bytes=65536)
        == DEFAULT_LIMITS
    )
