"""Stamps each lead's first reply: when the customer first heard back, and from whom (``auto``
for tackbridge's automatic reply, ``person`` for the pro, through tackbridge or Thumbtack's app).
Only the earliest reply counts, whichever is recorded first."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, or_, select, update

from tackbridge.core.metrics import FIRST_REPLY
from tackbridge.store.schema import leads


def stamp_first_reply(conn: Connection, lead_id: str, at: datetime, by: str) -> None:
    before = conn.execute(
        select(leads.c.received_at, leads.c.first_reply_at).where(leads.c.lead_id == lead_id)
    ).first()
    if before is not None and before.first_reply_at is None:
        # The lead's first reply: its latency is what the histogram shows.
        received = before.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        reply = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        FIRST_REPLY.labels(by).observe(max(0.0, (reply - received).total_seconds()))
    conn.execute(
        update(leads)
        .where(
            leads.c.lead_id == lead_id,
            or_(leads.c.first_reply_at.is_(None), leads.c.first_reply_at > at),
        )
        .values(first_reply_at=at, first_reply_by=by)
    )
