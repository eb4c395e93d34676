"""Stamps each lead's first reply: when the customer first heard back, and from whom (``auto``
for tackbridge's automatic reply, ``person`` for the pro, through tackbridge or Thumbtack's app).
Only the earliest reply counts, whichever is recorded first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, or_, update

from tackbridge.store.schema import leads


def stamp_first_reply(conn: Connection, lead_id: str, at: datetime, by: str) -> None:
    conn.execute(
        update(leads)
        .where(
            leads.c.lead_id == lead_id,
            or_(leads.c.first_reply_at.is_(None), leads.c.first_reply_at > at),
        )
        .values(first_reply_at=at, first_reply_by=by)
    )
