"""The run's own bounds, without sockets: token bucket, file-descriptor budget, gates."""

from __future__ import annotations

import asyncio

import pytest

from probe.net.pacing import (
    FDS_PER_PROBE,
    FDS_RESERVED,
    Pacer,
    PoliteQueue,
    TokenBucket,
    bound_concurrency,
)


def test_first_token_is_free_then_callers_are_spaced_one_interval_apart() -> None:
    bucket = TokenBucket(rate=10)
    waits = [bucket.reserve(now=100.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    # A long idle spell saves up no more than the burst.
    later = [bucket.reserve(100.0) for _ in range(4)]
    assert later[:3] == [0.0, 0.0, 0.0]
    assert later[3] == pytest.approx(0.1)


def test_a_steady_caller_at_the_rate_never_waits() -> None:
    bucket = TokenBucket(rate=4)
    assert all(bucket.reserve(step * 0.25) == 0.0 for step in range(20))


def test_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(rate=1, burst=0)


async def test_pacer_holds_starts_to_the_rate() -> None:
    pacer = Pacer(rate=50)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(11):
        await pacer.wait()
    # Ten intervals of 20 ms after the free first token.
    assert loop.time() - began == pytest.approx(0.2, abs=0.06)


async def test_pacer_without_rate_does_not_wait() -> None:
    pacer = Pacer()
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(1000):
        await pacer.wait()
    assert loop.time() - began < 0.1


def test_concurrency_fits_under_the_descriptor_limit() -> None:
    bound = bound_concurrency(2000, limits=lambda: (1024, 1024))
    assert bound.used == (1024 - FDS_RESERVED) // FDS_PER_PROBE
    assert bound.note is not None
    assert "--concurrency 2000 lowered to" in bound.note
    assert "1024" in bound.note


def test_concurrency_that_fits_is_kept_without_a_note() -> None:
    bound = bound_concurrency(200, limits=lambda: (1024, 1024))
    assert bound.used == 200
    assert bound.note is None


def test_the_soft_limit_is_raised_towards_the_hard_one_first() -> None:
    raised: list[tuple[int, int]] = []
    bound = bound_concurrency(
        2000, limits=lambda: (1024, 1_000_000), raise_soft=lambda s, h: raised.append((s, h))
    )
    needed = FDS_RESERVED + 2000 * FDS_PER_PROBE
    assert raised == [(needed, 1_000_000)]
    assert bound.used == 2000


def test_a_refused_raise_falls_back_to_lowering_concurrency() -> None:
    def refuse(soft: int, hard: int) -> None:
        raise OSError("not permitted")

    bound = bound_concurrency(2000, limits=lambda: (256, 4096), raise_soft=refuse)
    assert bound.used == (256 - FDS_RESERVED) // FDS_PER_PROBE


async def test_one_job_per_target_at_a_time_unless_asked() -> None:
    busy_key = ("127.0.0.1", 5061, "tls")
    for per_target, expected in ((1, 1), (3, 3)):
        queue = PoliteQueue([(busy_key, n) for n in range(6)], per_target)
        inside = peak = 0

        async def worker(queue: PoliteQueue[int]) -> None:
            nonlocal inside, peak
            while (taken := await queue.take()) is not None:
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1
                queue.done(taken[0])

        await asyncio.gather(*(worker(queue) for _ in range(6)))
        assert peak == expected
        assert len(queue) == 0


async def test_workers_pass_a_busy_target_by_for_a_free_one() -> None:
    busy, free = ("127.0.0.1", 5061, "tls"), ("127.0.0.2", 5061, "tls")
    queue = PoliteQueue([(busy, "a1"), (busy, "a2"), (busy, "a3"), (free, "b1")])
    first = await queue.take()
    second = await queue.take()
    assert first == (busy, "a1")
    assert second == (free, "b1"), "the second worker waited behind a busy target"
    waiting = asyncio.create_task(queue.take())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    queue.done(busy)
    assert await asyncio.wait_for(waiting, 1) == (busy, "a2")


def test_queue_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="per_target"):
        PoliteQueue([], 0)
