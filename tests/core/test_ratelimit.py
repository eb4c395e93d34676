"""Token buckets per client: a burst, then one token per 1/rate seconds; bounded keys."""

from __future__ import annotations

import pytest

from tackbridge.core.ratelimit import Buckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = Buckets(burst=3, per_second=0.5, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)  # one token per 2 s
    assert buckets.take("b") == 0.0  # another key has its own
    clock.now += 1.0
    assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, no more


def test_keys_are_bounded_least_recent_first() -> None:
    buckets = Buckets(burst=1, per_second=0.001, max_keys=2, clock=Clock())
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a is recent again
    buckets.take("c")  # b goes
    assert len(buckets) == 2
    assert buckets.take("a") > 0  # still held: still empty
    assert buckets.take("b") == 0.0  # forgotten: starts full


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        Buckets(burst=0, per_second=1)


def test_wait_looks_without_spending() -> None:
    clock = Clock()
    buckets = Buckets(burst=1, per_second=1.0, clock=clock)
    assert buckets.wait("a") == 0.0  # unknown: full
    assert buckets.take("a") == 0.0
    assert buckets.wait("a") == pytest.approx(1.0)
    assert buckets.wait("a") == pytest.approx(1.0)  # looking twice spends nothing
    clock.now += 1.0
    assert buckets.wait("a") == 0.0
    assert buckets.take("a") == 0.0
