"""Token buckets per key (a client's address), in memory and bounded in the number of keys.

Each key may spend ``burst`` tokens at once and earns ``per_second`` back; a key past its budget
learns how long until its next token. The least recently seen key goes first when ``max_keys``
are held, so a flood from many addresses costs bounded memory (an evicted key starts full again,
which only forgives it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["Buckets"]


class Buckets:
    def __init__(
        self,
        *,
        burst: int,
        per_second: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_second <= 0 or max_keys < 1:
            raise ValueError("burst and max_keys must be at least 1, per_second above 0")
        self.burst = float(burst)
        self.per_second = per_second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def wait(self, key: str) -> float:
        """The seconds until ``key`` has a token (0.0: it has one now); spends nothing."""
        found = self._buckets.get(key)
        if found is None:
            return 0.0
        tokens, at = found
        tokens = min(self.burst, tokens + (self._clock() - at) * self.per_second)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.per_second

    def take(self, key: str) -> float:
        """Spend one of ``key``'s tokens: 0.0 if it had one, else the seconds until it has."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
