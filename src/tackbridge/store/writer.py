"""Group commit: many concurrent requests, one transaction, one fsync.

Request handlers hand the writer a unit of work (a function of a connection). A dedicated thread
takes every unit waiting, runs them in one write transaction and commits once; only then does
each handler learn its result and answer. Acknowledgements therefore always follow a durable
commit, and throughput is bounded by batches per fsync rather than requests per fsync.

A unit that raises does not take its neighbours down: the batch is rolled back and each unit is
re-run in its own transaction, so units must touch only the database.

A caller waits for the store at most ``wait`` seconds (``run(wait=)``, else the context's
:func:`waiting_at_most`, else the writer's own): a unit that has not begun by then is dropped and
its caller gets :class:`StoreBusyError` (answered 503 with ``Retry-After``); a unit that has begun
is always waited for, so an answer never disagrees with what was committed (``store/locks.py``).

On PostgreSQL two processes' batches may deadlock on the same rows, or a transaction may be
refused as a serialization failure: the server rolls one back, and the writer runs that batch
again (a few times) rather than failing the units in it.

A hot unit can also come as an item of a *batched* unit (``run_many``): consecutive items of the
same batched function in a batch are handed to it together, so that it can execute each of its
statements once for all of them (``executemany``) instead of once per item; each item still
gets its own result, and a failing batch is re-run item by item as above.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from tackbridge.core.metrics import STORE_WRITE_SECONDS, STORE_WRITE_UNITS
from tackbridge.store.locks import SLICE_SECONDS, write_transaction

__all__ = ["StoreBusyError", "Unit", "Writer", "WriterClosedError", "waiting_at_most"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# PostgreSQL's "try again" answers: serialization_failure, deadlock_detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_RETRIES = 3
ItemT = TypeVar("ItemT")
Unit = Callable[[Connection], T]
#: Many items in one call: one result per item, in their order.
Batched = Callable[[Connection, Sequence[ItemT]], list[T]]


class WriterClosedError(RuntimeError):
    """The writer has stopped; nothing more can be committed through it."""


class StoreBusyError(RuntimeError):
    """The store stayed locked (or the writer busy) for longer than the caller would wait;
    nothing of the unit was written."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"the store stayed locked for {waited:g} s; nothing was written")
        self.waited = waited
        #: What to tell a sender in ``Retry-After``: whole seconds, at least 1.
        self.retry_after = max(1, math.ceil(waited))


# What a caller in this context waits for the store at most (the worker waits longer than a
# request); None: the writer's own setting.
_WAIT: ContextVar[float | None] = ContextVar("tackbridge_store_wait", default=None)


@contextmanager
def waiting_at_most(seconds: float | None) -> Iterator[None]:
    """Within the block (and the tasks it starts), writes wait for the store ``seconds`` at
    most (None: the writer's own setting)."""
    token = _WAIT.set(seconds)
    try:
        yield
    finally:
        _WAIT.reset(token)


_QUEUED, _STARTED, _ABANDONED = 0, 1, 2


@dataclass(eq=False)
class _Pending(Generic[T]):
    unit: Unit[T] | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    batched: Batched[Any, T] | None = None
    item: Any = None
    deadline: float | None = None  # time.monotonic(); None: as long as the busy timeout
    wait: float = 0.0
    state: int = field(default=_QUEUED)


_STOP = object()
_SKIPPED = object()
_BUSY = object()  # the store's lock was not had in time


class Writer:
    def __init__(
        self, engine: Engine, *, batch_size: int = 256, wait_seconds: float | None = None
    ) -> None:
        """``wait_seconds``: how long a unit may wait for the store before its caller gets
        ``StoreBusyError``; None: one try with the connection's busy timeout."""
        self._engine = engine
        self._batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._states = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.units = 0
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs in the writer's thread after each batch, e.g. to wake readers
        that show what was written; it must be quick (a failure is logged and ignored)."""
        self._listeners.append(listener)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tackbridge-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None

    async def run(self, unit: Unit[T], *, wait: float | None = None) -> T:
        """Run ``unit`` in the next batch; return once that batch is committed. ``wait``: how
        long to wait for the store at most (see the module's docstring)."""
        return await self._enqueue(unit, None, None, wait)

    async def run_many(
        self, batched: Batched[ItemT, T], item: ItemT, *, wait: float | None = None
    ) -> T:
        """Run ``item`` in the next batch, together with the neighbouring items of the same
        ``batched`` function; return its result once that batch is committed. ``wait`` as in
        :meth:`run`."""
        return await self._enqueue(None, batched, item, wait)

    async def _enqueue(
        self,
        unit: Unit[T] | None,
        batched: Batched[Any, T] | None,
        item: Any,
        wait: float | None,
    ) -> T:
        if self._closed or self._thread is None:
            raise WriterClosedError("the store writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if wait is None:
            wait = _WAIT.get()
        if wait is None:
            wait = self.wait_seconds
        if wait is None:
            self._queue.put(_Pending(unit, loop, future, batched, item))
            return await future
        pending = _Pending(unit, loop, future, batched, item, time.monotonic() + wait, wait)
        timer = loop.call_later(wait, self._give_up, pending)
        self._queue.put(pending)
        try:
            return await future
        finally:
            timer.cancel()

    def _give_up(self, item: _Pending[Any]) -> None:
        """The caller's wait is over: drop the unit unless it has begun (then it is waited
        for: its transaction holds the lock and ends soon)."""
        with self._states:
            if item.state != _QUEUED:
                return
            item.state = _ABANDONED
        _set_exception(item.future, StoreBusyError(item.wait))

    def _start(self, item: _Pending[Any]) -> bool:
        with self._states:
            if item.state == _ABANDONED:
                return False
            item.state = _STARTED
            return True

    @staticmethod
    def _time_left(batch: list[_Pending[Any]]) -> float:
        now = time.monotonic()
        waiting = [item.deadline for item in batch if item.state != _ABANDONED]
        return max((d - now for d in waiting if d is not None), default=0.0)

    @contextmanager
    def _transaction(self, batch: list[_Pending[Any]]) -> Iterator[Connection | None]:
        if any(item.deadline is None for item in batch):
            with self._engine.begin() as conn:
                yield conn
        else:
            with write_transaction(self._engine, lambda: self._time_left(batch)) as conn:
                yield conn

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Pending[Any]] = [first]
            stop_after = False
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)
            self._commit(batch)
            self._notify()
            if stop_after:
                return

    def _notify(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("a writer listener failed")

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        self.batches += 1
        self.units += len(batch)
        began = time.perf_counter()
        try:
            results = self._retrying(lambda: self._write_batch(batch))
            if results is None:
                return  # every caller gave up waiting (and has been answered)
        except Exception as exc:
            STORE_WRITE_SECONDS.observe(time.perf_counter() - began)
            started = [item for item in batch if item.state != _ABANDONED]
            if len(started) <= 1:
                log.exception("store write failed")
                STORE_WRITE_UNITS.labels("failed").inc(len(started))
                for item in started:
                    self._fail(item, exc)
                return
            # Isolate the unit that failed: each unit again, in its own transaction.
            for item in started:
                self._commit_one(item)
            return
        STORE_WRITE_SECONDS.observe(time.perf_counter() - began)
        STORE_WRITE_UNITS.labels("ok").inc(len(batch))
        _resolve_all(batch, results)

    def _commit_one(self, item: _Pending[Any]) -> None:
        if item.deadline is not None:
            # It has begun: its caller waits for it, at least a slice more.
            item.deadline = max(item.deadline, time.monotonic() + SLICE_SECONDS)
        try:
            result = self._retrying(lambda: self._write_one(item))
            if result is _BUSY:
                self._fail(item, StoreBusyError(item.wait))
                return
            if result is _SKIPPED:
                return  # its caller gave up before it began
        except Exception as exc:
            log.exception("store write failed")
            STORE_WRITE_UNITS.labels("failed").inc()
            self._fail(item, exc)
            return
        STORE_WRITE_UNITS.labels("ok").inc()
        _resolve(item, result)

    def _write_batch(self, batch: list[_Pending[Any]]) -> list[Any] | None:
        with self._transaction(batch) as conn:
            if conn is None:
                return None
            return self._execute(conn, batch)

    def _write_one(self, item: _Pending[Any]) -> Any:
        with self._transaction([item]) as conn:
            if conn is None:
                return _BUSY
            return self._execute(conn, [item])[0]

    def _execute(self, conn: Connection, batch: list[_Pending[Any]]) -> list[Any]:
        """Each unit's result, in order (``_SKIPPED`` for one whose caller gave up before it
        began); consecutive items of one batched function in one call."""
        results: list[Any] = []
        i = 0
        while i < len(batch):
            first = batch[i]
            if first.batched is None:
                assert first.unit is not None
                results.append(first.unit(conn) if self._start(first) else _SKIPPED)
                i += 1
                continue
            j = i + 1
            while j < len(batch) and batch[j].batched == first.batched:
                j += 1
            began = [self._start(p) for p in batch[i:j]]
            items = [p.item for p, b in zip(batch[i:j], began, strict=True) if b]
            found = first.batched(conn, items) if items else []
            if len(found) != len(items):
                raise RuntimeError(f"{first.batched!r} answered {len(found)} of {len(items)} items")
            answers = iter(found)
            results.extend(next(answers) if b else _SKIPPED for b in began)
            i = j
        return results

    @staticmethod
    def _retrying(work: Callable[[], T]) -> T:
        """``work`` again if the server rolled it back (PostgreSQL: a deadlock between two
        processes' batches, or a serialization failure), a few times before it fails."""
        for attempt in range(_RETRIES + 1):
            try:
                return work()
            except Exception as exc:
                if attempt == _RETRIES or not _should_retry(exc):
                    raise
                log.info("store write rolled back by the server (%s); again", _sqlstate(exc))
        raise AssertionError("unreachable")

    @staticmethod
    def _fail(item: _Pending[Any], exc: BaseException) -> None:
        item.loop.call_soon_threadsafe(_set_exception, item.future, exc)


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def _should_retry(exc: BaseException) -> bool:
    return _sqlstate(exc) in _RETRY_SQLSTATES


def _resolve(item: _Pending[Any], result: Any) -> None:
    item.loop.call_soon_threadsafe(_set_result, item.future, result)


def _resolve_all(batch: list[_Pending[Any]], results: list[Any]) -> None:
    # One wake-up per event loop for the whole batch, not one per unit: each
    # call_soon_threadsafe writes to the loop's self-pipe.
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for item, result in zip(batch, results, strict=True):
        if result is not _SKIPPED:
            by_loop.setdefault(item.loop, []).append((item.future, result))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_set_results, settled)


def _set_results(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        _set_result(future, result)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
