"""What the front door does, in the storing transaction, once a record is new.

By default each new record queues its own job (``inbound.kinds``) for later fan-out. The
runtime passes richer reactions (``tackbridge.flows.Reactions``) that queue a new lead's
follow-ups at once, one hop less on the way to its first reply; the front door never needs to
know which features react.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from tackbridge.inbound.kinds import LEAD_RECEIVED, LEAD_UPDATED, MESSAGE_RECEIVED, REVIEW_RECEIVED
from tackbridge.leads.refs import LeadRef, LeadUpdateRef, MessageRef, ReviewRef
from tackbridge.outbox.queue import enqueue

__all__ = ["QUEUE_ONLY", "QueueOwnJobs", "Reactions"]


class Reactions(Protocol):
    def lead_stored(self, conn: Connection, lead: LeadRef, now: datetime) -> None: ...
    def leads_stored(
        self,
        conn: Connection,
        stored: Sequence[tuple[LeadRef, datetime]],
        businesses: Mapping[str, str | None] | None = None,
    ) -> int:
        """``lead_stored`` for each (lead, now) of a batch, in as few statements as it can; how
        many jobs that queued (0: the worker need not be woken).
        ``businesses``: the business each lead was stored with, by lead ID, when known."""
        ...

    def message_stored(self, conn: Connection, message: MessageRef, now: datetime) -> None: ...
    def lead_updated(self, conn: Connection, update: LeadUpdateRef, now: datetime) -> None: ...
    def review_stored(self, conn: Connection, review: ReviewRef, now: datetime) -> None: ...


class QueueOwnJobs:
    """Each new record queues the front door's own job for it."""

    def lead_stored(self, conn: Connection, lead: LeadRef, now: datetime) -> None:
        enqueue(conn, LEAD_RECEIVED, lead, now=now)

    def leads_stored(
        self,
        conn: Connection,
        stored: Sequence[tuple[LeadRef, datetime]],
        businesses: Mapping[str, str | None] | None = None,
    ) -> int:
        for lead, now in stored:
            self.lead_stored(conn, lead, now)
        return len(stored)

    def message_stored(self, conn: Connection, message: MessageRef, now: datetime) -> None:
        enqueue(conn, MESSAGE_RECEIVED, message, now=now)

    def lead_updated(self, conn: Connection, update: LeadUpdateRef, now: datetime) -> None:
        enqueue(conn, LEAD_UPDATED, update, now=now)

    def review_stored(self, conn: Connection, review: ReviewRef, now: datetime) -> None:
        enqueue(conn, REVIEW_RECEIVED, review, now=now)


QUEUE_ONLY: Reactions = QueueOwnJobs()
