"""The sandbox's time: the wall clock plus an offset that tests move forward to expire codes and
tokens, and the one place the sandbox waits on purpose (the latency fault), so a test can observe
or stand in for that wait.

It imports nothing of the sandbox: the stores (``tokens``, ``coperniq``) and ``state`` build on it.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


class Clock:
    """Wall-clock time plus an offset that tests move forward to expire codes and tokens."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset.total_seconds()

    async def sleep(self, seconds: float) -> None:
        """Waits ``seconds`` of real time (moving the offset does not shorten it)."""
        await asyncio.sleep(seconds)
