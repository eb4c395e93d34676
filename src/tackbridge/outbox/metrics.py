"""The outbox as gauges, read from the store at scrape time: the same answer from every process
sharing the store (``tackbridge.core.metrics`` has the per-process counters).

``tackbridge_jobs{kind, state}``: jobs pending, running or dead (done jobs are left out: they
only grow, and ``tackbridge_job_attempts_total{outcome="done"}`` counts them);
``tackbridge_jobs_due{kind}``: pending jobs whose time has come (the queue's depth);
``tackbridge_jobs_oldest_due_seconds``: how long the oldest due job has waited (0: none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from tackbridge.store.database import Database
from tackbridge.store.schema import outbox

__all__ = ["WATCHED_STATES", "OutboxCollector"]

WATCHED_STATES = ("pending", "running", "dead")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class OutboxCollector(Collector):
    """Yields the outbox gauges from one query set per scrape (off the event loop)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock()
        jobs = GaugeMetricFamily(
            "tackbridge_jobs", "Outbox jobs by kind and state (pending, running, dead).",
            labels=["kind", "state"],
        )  # fmt: skip
        due = GaugeMetricFamily(
            "tackbridge_jobs_due", "Pending outbox jobs whose time has come, by kind.",
            labels=["kind"],
        )  # fmt: skip
        oldest = GaugeMetricFamily(
            "tackbridge_jobs_oldest_due_seconds",
            "Seconds the oldest due outbox job has waited (0: none is due).",
        )
        with self._db.reader.connect() as conn:
            counted = conn.execute(
                select(outbox.c.kind, outbox.c.state, func.count())
                .where(outbox.c.state.in_(WATCHED_STATES))
                .group_by(outbox.c.kind, outbox.c.state)
            ).all()
            due_rows = conn.execute(
                select(outbox.c.kind, func.count(), func.min(outbox.c.next_attempt_at))
                .where(outbox.c.state == "pending", outbox.c.next_attempt_at <= now)
                .group_by(outbox.c.kind)
            ).all()
        for kind, state, count in counted:
            jobs.add_metric([kind, state], count)
        first: datetime | None = None
        for kind, count, earliest in due_rows:
            due.add_metric([kind], count)
            if earliest is not None and (first is None or _utc(earliest) < first):
                first = _utc(earliest)
        oldest.add_metric([], 0.0 if first is None else max(0.0, (now - first).total_seconds()))
        yield jobs
        yield due
        yield oldest
