"""The bounds around one probe, without a network: the deadline a scrape gets, one call
per interval per target, one probe at a time per target, the listen address."""

from __future__ import annotations

import asyncio
import math

import pytest

from probe.exporter.modules import parse_config
from probe.exporter.probing import (
    LONGEST_PROBE,
    CallSpacing,
    TargetGates,
    scrape_budget,
    split_targets,
)
from probe.exporter.server import parse_listen


@pytest.mark.parametrize(
    ("header", "cap", "budget"),
    [
        (None, None, 9.5),  # no header (curl): Prometheus's default 10 s, less the margin
        ("10", None, 9.5),
        ("2.5", None, 2.0),
        ("0.6", None, 0.3),  # at most half goes to the margin
        ("10", 3.0, 3.0),  # the module's max_time caps it
        ("1", 3.0, 0.5),
        ("86400", None, LONGEST_PROBE),
    ],
)
def test_a_scrape_gets_its_timeout_less_a_margin(
    header: str | None, cap: float | None, budget: float
) -> None:
    assert math.isclose(scrape_budget(header, cap), budget)


@pytest.mark.parametrize("header", ["0", "-1", "nan", "inf", "soon", ""])
def test_a_timeout_header_that_is_no_duration_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="not seconds above 0"):
        scrape_budget(header, None)


def test_only_a_failover_target_is_a_list() -> None:
    config = parse_config(
        '[modules.one]\nkind = "options"\n[modules.list]\nkind = "failover"\n', source="x"
    )
    both = "sips:a.example.test, sips:b.example.test"
    assert split_targets(both, config.modules["list"]) == [
        "sips:a.example.test",
        "sips:b.example.test",
    ]
    assert split_targets(both, config.modules["one"]) == [both]


def test_one_call_per_interval_per_target() -> None:
    spacing = CallSpacing()
    assert spacing.reserve("sips:a", 60, now=100.0) == 0
    assert spacing.reserve("sips:a", 60, now=130.0) == 30
    assert spacing.reserve("sips:b", 60, now=130.0) == 0
    assert spacing.reserve("sips:a", 60, now=160.0) == 0  # the interval has passed


async def test_one_probe_at_a_time_per_target_and_nothing_kept_after() -> None:
    gates = TargetGates()
    release = await gates.acquire(["sips:a", "sips:b"])
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await gates.acquire(["sips:b"])
    other = await gates.acquire(["sips:c"])  # another target does not wait
    release()
    again = await gates.acquire(["sips:b", "sips:a"])
    again()
    other()
    assert len(gates) == 0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("127.0.0.1:9753", ("127.0.0.1", 9753)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_listen_addresses(text: str, where: tuple[str, int]) -> None:
    assert parse_listen(text) == where


@pytest.mark.parametrize("text", ["9753", ":9753", "localhost:port", "127.0.0.1:70000"])
def test_listen_addresses_that_are_not(text: str) -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_listen(text)
