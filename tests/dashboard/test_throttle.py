"""Sign-in failures slow down the next attempt, per account and per client (a fake clock)."""

from __future__ import annotations

from tackbridge.dashboard.auth import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_few_failures_are_free_then_each_waits_twice_as_long() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_per_account=3, free_per_client=100, base=2.0, clock=clock)
    for _ in range(2):
        throttle.failed("pat@example.com", "10.0.0.1")
        assert throttle.wait_for("pat@example.com", "10.0.0.1") == 0
    throttle.failed("pat@example.com", "10.0.0.1")
    assert throttle.wait_for("pat@example.com", "10.0.0.1") == 2.0
    assert throttle.wait_for("pat@example.com", "10.0.0.2") == 2.0  # per account, any client
    assert throttle.wait_for("sam@example.com", "10.0.0.1") == 0
    clock.t += 2.0
    assert throttle.wait_for("pat@example.com", "10.0.0.1") == 0
    throttle.failed("pat@example.com", "10.0.0.1")
    assert throttle.wait_for("pat@example.com", "10.0.0.1") == 4.0


def test_one_client_trying_many_accounts_is_slowed_too() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_per_account=100, free_per_client=3, clock=clock)
    for n in range(3):
        throttle.failed(f"user{n}@example.com", "10.0.0.9")
    assert throttle.wait_for("another@example.com", "10.0.0.9") == 2.0
    assert throttle.wait_for("another@example.com", "10.0.0.10") == 0


def test_the_wait_is_capped_and_forgotten_after_the_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_per_account=1, cap=60.0, window=3600.0, clock=clock)
    for _ in range(20):
        throttle.failed("pat@example.com", "c")
    assert throttle.wait_for("pat@example.com", "c") == 60.0
    clock.t += 3601
    assert throttle.wait_for("pat@example.com", "c") == 0


def test_success_clears_the_account() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_per_account=1, free_per_client=100, clock=clock)
    throttle.failed("pat@example.com", "c")
    assert throttle.wait_for("pat@example.com", "c") > 0
    throttle.succeeded("pat@example.com")
    assert throttle.wait_for("pat@example.com", "c") == 0


def test_memory_is_bounded() -> None:
    throttle = SignInThrottle(max_keys=10, clock=Clock())
    for n in range(100):
        throttle.failed(f"u{n}@example.com", f"c{n}")
    assert len(throttle._seen) <= 10
