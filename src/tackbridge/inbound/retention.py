"""The inbound log's retention: refused deliveries go after ``TACKBRIDGE_REFUSED_RETENTION_DAYS``
(7), every other entry after ``TACKBRIDGE_INBOUND_RETENTION_DAYS`` (90); 0 keeps them. Only the
verbatim log goes: the leads, messages and reviews a delivery stored stay.

An hourly outbox job (``inbound.retention``, keyed by its hour) does it: the running ``serve``
schedules the current hour's run when its worker starts, and each run schedules the next, so
there is one run an hour however many processes share the store. A run deletes in batches of
its own transactions, so that deliveries arriving meanwhile never wait long for the writer.

Rows are found by their ID: the log's IDs grow with ``received_at`` (a row's time is its
request's arrival, its ID its commit a moment later), so the last ID older than a cut-off is a
binary search on the primary key, and no index on ``received_at`` is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from tackbridge.core.clock import utc
from tackbridge.inbound.kinds import RETENTION, RetentionRun
from tackbridge.inbound.record import REJECTED, UNAUTHORIZED
from tackbridge.inbound.refusals import RATE_LIMITED
from tackbridge.outbox.kinds import Job, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.settings import Settings
from tackbridge.store.schema import inbound_log
from tackbridge.store.writer import Writer

__all__ = ["PURGE_INBOUND", "REFUSED", "Retention", "RetentionHandler", "purge", "schedule"]

log = logging.getLogger("tackbridge.inbound")

#: The outcomes of refused deliveries.
REFUSED = (REJECTED, UNAUTHORIZED, RATE_LIMITED)
BATCH = 2000
INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Retention:
    all_days: float
    refused_days: float

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(settings.inbound_retention_days, settings.refused_retention_days)

    @property
    def enabled(self) -> bool:
        return self.all_days > 0 or self.refused_days > 0


def _period(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def schedule(conn: Connection, now: datetime, *, after: datetime | None = None) -> bool:
    """Queue the run of the hour ``now`` is in (due now), or of the hour after ``after``;
    True if it was not queued yet."""
    if after is None:
        period, due = _period(now), now
    else:
        period = _period(after) + INTERVAL
        due = period
    return enqueue(conn, RETENTION, RetentionRun(period=period.isoformat()), now=now, due=due)


def _last_id_before(conn: Connection, cutoff: datetime) -> int | None:
    """The largest ID received before ``cutoff``, by binary search on the ID."""
    low, high = conn.execute(select(func.min(inbound_log.c.id), func.max(inbound_log.c.id))).one()
    if low is None:
        return None
    first_at = select(inbound_log.c.id, inbound_log.c.received_at).order_by(inbound_log.c.id)
    found: int | None = None
    while low <= high:
        middle = (low + high) // 2
        row = conn.execute(first_at.where(inbound_log.c.id >= middle).limit(1)).first()
        if row is None or row.id > high:
            high = middle - 1
        elif utc(row.received_at) < cutoff:
            found = row.id
            low = row.id + 1
        else:
            high = middle - 1
    return found


def purge(conn: Connection, retention: Retention, now: datetime, *, batch: int = BATCH) -> int:
    """Delete up to ``batch`` expired entries; how many went."""
    gone = 0
    if retention.all_days > 0:
        last = _last_id_before(conn, now - timedelta(days=retention.all_days))
        if last is not None:
            ids = select(inbound_log.c.id).where(inbound_log.c.id <= last)
            ids = ids.order_by(inbound_log.c.id).limit(batch)
            gone += conn.execute(delete(inbound_log).where(inbound_log.c.id.in_(ids))).rowcount
    if retention.refused_days > 0 and gone < batch:
        last = _last_id_before(conn, now - timedelta(days=retention.refused_days))
        if last is not None:
            ids = select(inbound_log.c.id).where(
                inbound_log.c.outcome.in_(REFUSED), inbound_log.c.id <= last
            )
            ids = ids.limit(batch - gone)
            gone += conn.execute(delete(inbound_log).where(inbound_log.c.id.in_(ids))).rowcount
    return gone


class RetentionHandler:
    """The ``inbound.retention`` job: batches until nothing is left, then the next hour's."""

    def __init__(self, writer: Writer, retention: Retention, *, batch: int = BATCH) -> None:
        self._writer = writer
        self._retention = retention
        self._batch = batch
        self.purged = 0

    async def __call__(self, job: Job[RetentionRun]) -> None:
        now = datetime.now(UTC)
        purged = 0
        while True:
            gone = await self._writer.run(
                lambda conn: purge(conn, self._retention, now, batch=self._batch)
            )
            purged += gone
            if gone < self._batch:
                break
        self.purged += purged
        if purged:
            log.info("inbound log retention: %d entries past their retention deleted", purged)
        period = datetime.fromisoformat(job.payload.period)
        if self._retention.enabled:
            await self._writer.run(lambda conn: schedule(conn, datetime.now(UTC), after=period))


PURGE_INBOUND = Registration(
    RETENTION,
    lambda services: RetentionHandler(services.writer, Retention.of(services.settings)),
)
