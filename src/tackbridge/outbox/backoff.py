"""The retry schedule of outbox jobs.

Attempt n (1-based) that fails is retried after ``base * 2**(n-1)`` seconds, capped at ``cap``,
with "equal jitter": half the delay fixed, half random, so a burst of failures does not retry in
lock-step. A ``Retry-After`` from the far side replaces the computed delay (capped too). With the
defaults (base 2 s, cap 1 h, 15 attempts) the retries come after about 2 s, 4 s, 8 s ... 34 min,
then hourly: a job is given up ("dead") roughly 5 hours after its first attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tackbridge.settings import Settings


@dataclass(frozen=True)
class Backoff:
    base: float = 2.0
    cap: float = 3600.0
    max_attempts: int = 15

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.cap)
        full = min(self.cap, self.base * 2.0 ** max(attempt - 1, 0))
        jitter: float = (rng or random).random()
        return full / 2 + full / 2 * jitter

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


def backoff_from(settings: Settings) -> Backoff:
    """The schedule ``TACKBRIDGE_WORKER_BACKOFF_*`` and ``..._MAX_ATTEMPTS`` configure."""
    return Backoff(
        base=settings.worker_backoff_base_seconds,
        cap=settings.worker_backoff_cap_seconds,
        max_attempts=settings.worker_max_attempts,
    )
