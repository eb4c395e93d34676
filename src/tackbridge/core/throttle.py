"""Slowing repeated credential failures, per client address and per account.

One :class:`FailureThrottle` per protected surface (the partner endpoints, the operator API,
the dashboard's sign-in...), kept for the process's life. Its API, in the order a request
uses it::

    throttle = FailureThrottle(allowed=10, window=60.0, max_wait=300.0)

    wait = throttle.check(client, account)   # before looking at the credentials
    if wait:
        answer 429 with Retry-After: ceil(wait)   # the credentials are not even checked
    if credentials are wrong:
        throttle.failure(client, account)   # returns the wait now due (0: not yet)
        answer 401
    else:
        throttle.success(client, account)

``client`` is the peer's address (behind a reverse proxy, run uvicorn with
``--proxy-headers`` and ``--forwarded-allow-ips`` so that it is the real client's);
``account`` is who the credentials claim to be (a Basic username, ``"operator"`` for the one
API token). Either may be None.

The rule: the ``allowed``-th failure of a key (a client, or an account) locks it for 1 s, and
each further one doubles the wait (2 s, 4 s...) up to ``max_wait``; a locked key's attempts are
answered 429 and do not count. A key
quiet for ``window`` seconds after its last failure (or the end of its lock) starts afresh. A
success clears its client's failures and makes that client *trusted* for the account (for
``trust_seconds``): a locked account still lets its trusted clients in, so that someone guessing
passwords from elsewhere does not lock out the real sender; a trusted client that itself fails
is slowed by its own failures as any other. Memory is bounded: at most ``max_keys`` keys of each
kind are remembered, the least recently touched forgotten first.

Thread-safe (the operator API's dependencies run in a thread pool), and cheap: a lock and a few
dictionary operations per call, with nothing stored for a client that never failed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FailureThrottle", "retry_after"]


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


def retry_after(wait: float) -> str:
    """A ``Retry-After`` header value for a wait in seconds (whole seconds, at least 1)."""
    return str(max(1, int(wait + 0.999)))


class FailureThrottle:
    """Per-client and per-account slowing of credential failures (see the module docstring)."""

    def __init__(
        self,
        *,
        allowed: int = 10,
        window: float = 60.0,
        max_wait: float = 300.0,
        trust_seconds: float = 86_400.0,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if allowed < 1 or window <= 0 or max_wait <= 0:
            raise ValueError("allowed >= 1, window > 0 and max_wait > 0")
        self._allowed = allowed
        self._window = window
        self._max_wait = max_wait
        self._trust_seconds = trust_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._accounts: OrderedDict[str, _Failures] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, str], float] = OrderedDict()

    def check(self, client: str | None, account: str | None = None) -> float:
        """Seconds this attempt must wait (answer 429), or 0.0: go on and check it."""
        now = self._clock()
        with self._lock:
            wait = self._locked(self._clients, client, now)
            if account is not None and not self._is_trusted(client, account, now):
                wait = max(wait, self._locked(self._accounts, account, now))
            return wait

    def failure(self, client: str | None, account: str | None = None) -> float:
        """Count a wrong credential; the wait now due for the next attempt (0.0: none yet)."""
        now = self._clock()
        with self._lock:
            wait = self._fail(self._clients, client, now)
            if account is not None:
                wait = max(wait, self._fail(self._accounts, account, now))
            return wait

    def success(self, client: str | None, account: str | None = None) -> None:
        """Right credentials: the client's failures are forgiven, and it is trusted for the
        account. Its account's own failures (from elsewhere) are kept."""
        if client is None:
            return
        now = self._clock()
        with self._lock:
            if self._clients and client in self._clients:
                del self._clients[client]
            if account is not None:
                key = (client, account)
                self._trusted[key] = now + self._trust_seconds
                self._trusted.move_to_end(key)
                while len(self._trusted) > self._max_keys:
                    self._trusted.popitem(last=False)

    def _is_trusted(self, client: str | None, account: str, now: float) -> bool:
        if client is None or not self._trusted:
            return False
        until = self._trusted.get((client, account))
        return until is not None and until > now

    def _locked(self, table: OrderedDict[str, _Failures], key: str | None, now: float) -> float:
        if key is None or not table:
            return 0.0
        entry = table.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.locked_until - now)

    def _fail(self, table: OrderedDict[str, _Failures], key: str | None, now: float) -> float:
        if key is None:
            return 0.0
        entry = table.get(key)
        if entry is None:
            entry = table[key] = _Failures()
            while len(table) > self._max_keys:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
            if now - max(entry.last, entry.locked_until) > self._window:
                entry.count = 0
                entry.locked_until = 0.0
        entry.count += 1
        entry.last = now
        beyond = entry.count - self._allowed
        if beyond >= 0:
            wait = min(self._max_wait, 2.0 ** min(beyond, 30))
            entry.locked_until = max(entry.locked_until, now + wait)
        return max(0.0, entry.locked_until - now)
