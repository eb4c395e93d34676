"""Client-side pacing for one Coperniq API key: at most ``per_second`` requests in any
one-second window (callers wait for a slot) and ``per_day`` per UTC calendar day (past it,
callers get a retryable error saying when the budget resets, instead of burning 429s).

One limiter per key and process (``shared_limiter``); several processes sharing a key each
count on their own, so set lower budgets when running more than one.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from tackbridge.crm.errors import DailyBudgetExhaustedError

PER_SECOND = 100
PER_DAY = 5000


class RateLimiter:
    def __init__(
        self,
        per_second: int = PER_SECOND,
        per_day: int = PER_DAY,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second < 1 or per_day < 1:
            raise ValueError("per_second and per_day must be at least 1")
        self.per_second = per_second
        self.per_day = per_day
        self._monotonic = monotonic
        self._now = now
        self._sleep = sleep
        self._window: deque[float] = deque()
        self._day: date | None = None
        self._used_today = 0
        self._lock = threading.Lock()

    @property
    def used_today(self) -> int:
        return self._used_today

    def _reset_day(self) -> datetime:
        today = self._now().astimezone(UTC).date()
        if today != self._day:
            self._day, self._used_today = today, 0
        return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    def _try(self) -> float:
        """0 when a request may go now (and counts it), else the seconds to wait."""
        with self._lock:
            resets_at = self._reset_day()
            if self._used_today >= self.per_day:
                wait = max(0.0, (resets_at - self._now()).total_seconds())
                raise DailyBudgetExhaustedError(
                    f"coperniq: the daily budget of {self.per_day} requests is spent; "
                    f"it resets at {resets_at.isoformat()}",
                    resets_at=resets_at,
                    retry_after=wait,
                )
            now = self._monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.per_second:
                return max(0.001, 1.0 - (now - self._window[0]))
            self._window.append(now)
            self._used_today += 1
            return 0.0

    async def acquire(self) -> None:
        while True:
            wait = self._try()
            if wait == 0.0:
                return
            await self._sleep(wait)


_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    api_key: str, per_second: int = PER_SECOND, per_day: int = PER_DAY
) -> RateLimiter:
    """The process-wide limiter of a key (indexed by a digest, never the key itself)."""
    digest = hashlib.sha256(f"{per_second}:{per_day}:{api_key}".encode()).hexdigest()
    with _shared_lock:
        found = _shared.get(digest)
        if found is None:
            found = _shared[digest] = RateLimiter(per_second, per_day)
        return found
