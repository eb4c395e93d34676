"""The credential-failure throttle's rule, on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from tackbridge.core.throttle import FailureThrottle, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, **kwargs: float) -> FailureThrottle:
    return FailureThrottle(allowed=3, window=60.0, max_wait=30.0, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_a_client_is_locked_after_the_allowed_failures_with_a_doubling_wait(clock: Clock) -> None:
    t = throttle(clock)
    assert [t.failure("1.1.1.1") for _ in range(2)] == [0.0, 0.0]
    assert t.check("1.1.1.1") == 0.0
    assert t.failure("1.1.1.1") == 1.0  # the third: locked for 1 s
    assert t.check("1.1.1.1") == 1.0
    assert t.check("2.2.2.2") == 0.0  # another client is not slowed
    clock.now += 1.0
    assert t.check("1.1.1.1") == 0.0
    waits = []
    for _ in range(6):
        waits.append(t.failure("1.1.1.1"))
        clock.now += waits[-1]
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # doubling, capped at max_wait


def test_a_quiet_window_after_the_lock_starts_afresh(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(3):
        t.failure("c")
    clock.now += 1.0 + 60.5
    assert t.failure("c") == 0.0
    assert t.failure("c") == 0.0
    assert t.failure("c") == 1.0


def test_a_success_forgives_the_client(clock: Clock) -> None:
    t = throttle(clock)
    t.failure("c")
    t.failure("c")
    t.success("c")
    assert t.failure("c") == 0.0
    assert t.failure("c") == 0.0


def test_an_account_is_locked_across_clients_but_its_trusted_clients_get_in(clock: Clock) -> None:
    t = throttle(clock)
    t.success("10.0.0.1", "thumbtack")  # the real sender, seen before
    for i in range(3):  # one guess each from three addresses
        t.failure(f"6.6.6.{i}", "thumbtack")
    assert t.check("6.6.6.9", "thumbtack") == 1.0  # a new address: the account is locked
    assert t.check("6.6.6.9", "someone-else") == 0.0
    assert t.check("10.0.0.1", "thumbtack") == 0.0  # the trusted sender is not slowed
    for _ in range(3):  # ... unless it fails itself
        t.failure("10.0.0.1", "thumbtack")
    assert t.check("10.0.0.1", "thumbtack") > 0.0


def test_trust_expires(clock: Clock) -> None:
    t = throttle(clock, trust_seconds=100.0)
    t.success("10.0.0.1", "a")
    clock.now += 101.0
    for i in range(3):
        t.failure(f"6.6.6.{i}", "a")
    assert t.check("10.0.0.1", "a") > 0.0


def test_memory_is_bounded(clock: Clock) -> None:
    t = throttle(clock, max_keys=100)
    for i in range(1000):
        t.failure(f"c{i}", f"a{i}")
        t.success(f"s{i}", "a")
    assert len(t._clients) <= 100
    assert len(t._accounts) <= 100
    assert len(t._trusted) <= 100


def test_concurrent_failures_are_all_counted(clock: Clock) -> None:
    t = FailureThrottle(allowed=4000, window=60.0, max_wait=30.0, clock=clock)

    def fail() -> None:
        for _ in range(500):
            t.failure("c", "a")

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert t.check("c") == 1.0  # exactly the 4000th failure locked it


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 29.9)] == ["1", "1", "2", "30"]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="allowed"):
        FailureThrottle(allowed=0)
