"""Group commit: many concurrent requests, one transaction, one fsync.

Request handlers hand the writer a unit of work (a function of a connection). A dedicated thread
takes every unit waiting, runs them in one write transaction and commits once; only then does
each handler learn its result and answer. Acknowledgements therefore always follow a durable
commit, and throughput is bounded by batches per fsync rather than requests per fsync.

A unit that raises does not take its neighbours down: the batch is rolled back and each unit is
re-run in its own transaction, so units must touch only the database.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from tackbridge.core.metrics import STORE_WRITE_SECONDS, STORE_WRITE_UNITS

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[Connection], T]


class WriterClosedError(RuntimeError):
    """The writer has stopped; nothing more can be committed through it."""


@dataclass
class _Pending(Generic[T]):
    unit: Unit[T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]


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

    async def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next batch; return once that batch is committed."""
        if self._closed or self._thread is None:
            raise WriterClosedError("the store writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(unit, loop, future))
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
            with self._engine.begin() as conn:
                results = [item.unit(conn) for item in batch]
        except Exception as exc:
            STORE_WRITE_SECONDS.observe(time.perf_counter() - began)
            if len(batch) == 1:
                log.exception("store write failed")
                STORE_WRITE_UNITS.labels("failed").inc()
                self._fail(batch[0], exc)
                return
            # Isolate the unit that failed: each unit again, in its own transaction.
            for item in batch:
                self._commit_one(item)
            return
        STORE_WRITE_SECONDS.observe(time.perf_counter() - began)
        STORE_WRITE_UNITS.labels("ok").inc(len(batch))
        _resolve_all(batch, results)

    def _commit_one(self, item: _Pending[Any]) -> None:
        try:
            with self._engine.begin() as conn:
                result = item.unit(conn)
        except Exception as exc:
            log.exception("store write failed")
            STORE_WRITE_UNITS.labels("failed").inc()
            self._fail(item, exc)
            return
        STORE_WRITE_UNITS.labels("ok").inc()
        _resolve(item, result)

    @staticmethod
    def _fail(item: _Pending[Any], exc: BaseException) -> None:
        item.loop.call_soon_threadsafe(_set_exception, item.future, exc)


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
