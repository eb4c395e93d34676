"""A lead's thread as operators see it: every message, and for replies sent through tackbridge
their delivery state (queued, sent, failed) and author (auto, person)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Row, select

from tackbridge.core.clock import utc
from tackbridge.leads.rows import message_of
from tackbridge.store.schema import messages


class ThreadMessage(BaseModel):
    messageID: str
    leadID: str | None = None
    sender: str = Field(serialization_alias="from")  # Customer | Business, as on the wire
    text: str | None = None
    source: str
    deliveryState: str | None = None
    author: str | None = None
    sentAt: datetime | None = None
    receivedAt: datetime


class Thread(BaseModel):
    leadID: str
    messages: list[ThreadMessage]


def message_view(row: Row[Any]) -> ThreadMessage:
    message = message_of(row)
    return ThreadMessage(
        messageID=message.message_id,
        leadID=message.lead_id,
        sender=message.sender,
        text=message.text,
        source=message.source,
        deliveryState=row.delivery_state,
        author=row.author,
        sentAt=message.sent_at,
        receivedAt=utc(row.received_at),
    )


def thread(conn: Connection, lead_id: str) -> Thread:
    """Messages in the order they were sent; a queued reply (not sent yet) sorts by when it was
    written, and a message that came without a send time by when it arrived.

    The one place the thread is built: ``GET /api/leads/{id}/messages`` returns it as it is, and
    the lead view (``GET /api/leads/{id}``) shows the same messages with their attachments."""
    rows = conn.execute(
        select(messages).where(messages.c.lead_id == lead_id).order_by(messages.c.id)
    ).all()
    views = sorted(
        (message_view(r) for r in rows), key=lambda m: (m.sentAt or m.receivedAt, m.receivedAt)
    )
    return Thread(leadID=lead_id, messages=views)


def get_message(
    conn: Connection, message_id: str, lead_id: str | None = None
) -> ThreadMessage | None:
    """A message by its ID, within its lead when ``lead_id`` is given (IDs are unique per lead)."""
    query = select(messages).where(messages.c.message_id == message_id)
    if lead_id is not None:
        query = query.where(messages.c.lead_id == lead_id)
    row = conn.execute(query.order_by(messages.c.id).limit(1)).first()
    return None if row is None else message_view(row)
