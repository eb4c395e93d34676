"""Group commit: many concurrent requests, one transaction, one fsync.

Request handlers hand the writer a unit of work (a function of a connection). A dedicated thread
takes every unit waiting, runs them in one write transaction and commits once; only then does
each handler learn its result and answer. Acknowledgements therefore always follow a durable
commit, and throughput is bounded by batches per fsync rather than requests per fsync.

A unit that raises does not take its neighbours down: the batch is rolled back and each unit is
re-run in its own transaction, so units must touch only the database.

A hot unit can also come as an item of a *batched* unit (``run_many``): consecutive items of the
same batched function in a batch are handed to it together, so that it can execute each of its
statements once for all of them (``executemany``) instead of once per item; each item still
gets its own result, and a failing batch is re-run item by item as above.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
ItemT = TypeVar("ItemT")
Unit = Callable[[Connection], T]
#: Many items in one call: one result per item, in their order.
Batched = Callable[[Connection, Sequence[ItemT]], list[T]]


class WriterClosedError(RuntimeError):
    """The writer has stopped; nothing more can be committed through it."""


@dataclass
class _Pending(Generic[T]):
    unit: Unit[T] | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    batched: Batched[Any, T] | None = None
    item: Any = None


_STOP = object()


class Writer:
    def __init__(self, engine: Engine, *, batch_size: int = 256) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.units = 0

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

    async def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next batch; return once that batch is committed."""
        if self._closed or self._thread is None:
            raise WriterClosedError("the store writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(unit, loop, future))
        return await future

    async def run_many(self, batched: Batched[ItemT, T], item: ItemT) -> T:
        """Run ``item`` in the next batch, together with the neighbouring items of the same
        ``batched`` function; return its result once that batch is committed."""
        if self._closed or self._thread is None:
            raise WriterClosedError("the store writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(None, loop, future, batched, item))
        return await future

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
            if stop_after:
                return

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        self.batches += 1
        self.units += len(batch)
        try:
            with self._engine.begin() as conn:
                results = _execute(conn, batch)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("store write failed")
                self._fail(batch[0], exc)
                return
            # Isolate the unit that failed: each unit again, in its own transaction.
            for item in batch:
                self._commit_one(item)
            return
        _resolve_all(batch, results)

    def _commit_one(self, item: _Pending[Any]) -> None:
        try:
            with self._engine.begin() as conn:
                [result] = _execute(conn, [item])
        except Exception as exc:
            log.exception("store write failed")
            self._fail(item, exc)
            return
        _resolve(item, result)

    @staticmethod
    def _fail(item: _Pending[Any], exc: BaseException) -> None:
        item.loop.call_soon_threadsafe(_set_exception, item.future, exc)


def _execute(conn: Connection, batch: list[_Pending[Any]]) -> list[Any]:
    """Each unit's result, in order; consecutive items of one batched function in one call."""
    results: list[Any] = []
    i = 0
    while i < len(batch):
        first = batch[i]
        if first.batched is None:
            assert first.unit is not None
            results.append(first.unit(conn))
            i += 1
            continue
        j = i + 1
        while j < len(batch) and batch[j].batched == first.batched:
            j += 1
        items = [p.item for p in batch[i:j]]
        found = first.batched(conn, items)
        if len(found) != len(items):
            raise RuntimeError(f"{first.batched!r} answered {len(found)} of {len(items)} items")
        results.extend(found)
        i = j
    return results


def _resolve(item: _Pending[Any], result: Any) -> None:
    item.loop.call_soon_threadsafe(_set_result, item.future, result)


def _resolve_all(batch: list[_Pending[Any]], results: list[Any]) -> None:
    # One wake-up per event loop for the whole batch, not one per unit: each
    # call_soon_threadsafe writes to the loop's self-pipe.
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for item, result in zip(batch, results, strict=True):
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
