"""Which store the running test uses: SQLite (a file in its folder) or PostgreSQL (a fresh
database on this test process's own throwaway cluster, started on first use).

``tests/conftest.py`` runs every store-touching test module once per store (the module-scoped
``store_kind`` fixture sets ``current``); everything that opens a store in tests asks ``url`` for
one, keyed by a path, so that the same path means the same store within a test (a restart
opens what the first run wrote). ``TACKBRIDGE_TEST_STORES=sqlite`` runs SQLite only (quick
local runs); the PostgreSQL runs are then reported as skipped, never silently dropped.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from tests.support.postgres import Cluster

__all__ = ["ALL_STORES", "current", "selected", "url", "use"]

ALL_STORES = ("sqlite", "postgres")

_current = "sqlite"
_cluster: Cluster | None = None
_urls: dict[tuple[str, str], str] = {}


def selected() -> tuple[str, ...]:
    """The stores this run asked for (``TACKBRIDGE_TEST_STORES``, comma separated)."""
    raw = os.environ.get("TACKBRIDGE_TEST_STORES", ",".join(ALL_STORES))
    chosen = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = set(chosen) - set(ALL_STORES)
    if unknown or not chosen:
        raise ValueError(f"TACKBRIDGE_TEST_STORES names {sorted(unknown)}; known: {ALL_STORES}")
    return chosen


def current() -> str:
    return _current


def use(store: str) -> None:
    global _current
    _current = store


def cluster() -> Cluster:
    """This test process's PostgreSQL, started on first use, stopped when the process ends."""
    global _cluster
    if _cluster is None:
        started = Cluster().start()
        atexit.register(started.stop)
        _cluster = started
    return _cluster


def stop_cluster() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None
    _urls.clear()


def url(path: Path, *, migrated: bool = True, store: str | None = None) -> str:
    """The store for ``path``: ``sqlite:///path`` or a PostgreSQL database made for it (migrated
    unless ``migrated=False``: an empty one, for tests of the migrations themselves)."""
    which = store or _current
    if which == "sqlite":
        return f"sqlite:///{path}"
    key = (str(path), "migrated" if migrated else "empty")
    if key not in _urls:
        _urls[key] = cluster().database(migrated=migrated)
    return _urls[key]
