"""Deleting what we hold about a disconnected business's customers (API terms: within 5 business
days after we stop using the API for that pro).

The job runs ``TACKBRIDGE_PURGE_DELAY_DAYS`` after the disconnect. If the business connected
again in the meantime, the data is theirs to keep and the job does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, or_, select

from tackbridge.connections import store
from tackbridge.connections.kinds import PURGE_KIND, PurgeJob
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, Registration
from tackbridge.store.schema import (
    attachments,
    customers,
    inbound_log,
    lead_details,
    lead_status_history,
    leads,
    messages,
    reviews,
)
from tackbridge.store.writer import Writer

__all__ = ["PURGE", "PurgeHandler", "Purged", "purge_business"]


@dataclass(frozen=True)
class Purged:
    skipped: bool
    leads: int = 0
    messages: int = 0
    reviews: int = 0
    customers: int = 0
    deliveries: int = 0


def purge_business(conn: Connection, business_id: str, disconnected_at: datetime) -> Purged:
    """Delete the business's leads, messages, reviews, their customers (unless another
    business's lead still names them) and the verbatim deliveries that carried them."""
    row = store.load(conn, business_id)
    if row is not None and row.state != "disconnected" and row.connected_at > disconnected_at:
        return Purged(skipped=True)
    lead_ids = list(
        conn.execute(select(leads.c.lead_id).where(leads.c.business_id == business_id)).scalars()
    )
    # Message IDs repeat across leads (another business's lead may use the same one): each
    # message is its row, and its attachments are those of its lead.
    own_messages = conn.execute(
        select(messages.c.id, messages.c.message_id, messages.c.lead_id).where(
            or_(messages.c.business_id == business_id, messages.c.lead_id.in_(lead_ids))
        )
    ).all()
    message_rows = [m.id for m in own_messages]
    message_ids = sorted({m.message_id for m in own_messages})
    review_ids = list(
        conn.execute(
            select(reviews.c.review_id).where(
                or_(reviews.c.business_id == business_id, reviews.c.lead_id.in_(lead_ids))
            )
        ).scalars()
    )
    customer_ids = set(
        conn.execute(
            select(leads.c.customer_id).where(
                leads.c.business_id == business_id, leads.c.customer_id.is_not(None)
            )
        ).scalars()
    )
    customer_ids |= set(
        conn.execute(
            select(messages.c.customer_id).where(
                messages.c.id.in_(message_rows), messages.c.customer_id.is_not(None)
            )
        ).scalars()
    )
    still_used = set(
        conn.execute(
            select(leads.c.customer_id).where(
                leads.c.customer_id.in_(customer_ids),
                or_(leads.c.business_id.is_(None), leads.c.business_id != business_id),
            )
        ).scalars()
    )
    gone_customers = customer_ids - still_used

    deliveries = conn.execute(
        delete(inbound_log).where(_deliveries_of(business_id, lead_ids, message_ids, review_ids))
    ).rowcount
    for kind, ids in (("lead", lead_ids), ("review", review_ids)):
        conn.execute(
            delete(attachments).where(
                attachments.c.owner_kind == kind, attachments.c.owner_id.in_(ids)
            )
        )
    for m in own_messages:
        conn.execute(
            delete(attachments).where(
                attachments.c.owner_kind == "message",
                attachments.c.owner_id == m.message_id,
                attachments.c.owner_lead == (m.lead_id or ""),
            )
        )
    conn.execute(delete(lead_details).where(lead_details.c.lead_id.in_(lead_ids)))
    conn.execute(delete(lead_status_history).where(lead_status_history.c.lead_id.in_(lead_ids)))
    gone_messages = conn.execute(delete(messages).where(messages.c.id.in_(message_rows))).rowcount
    gone_reviews = conn.execute(delete(reviews).where(reviews.c.review_id.in_(review_ids))).rowcount
    gone_leads = conn.execute(delete(leads).where(leads.c.lead_id.in_(lead_ids))).rowcount
    gone = conn.execute(
        delete(customers).where(customers.c.customer_id.in_(gone_customers))
    ).rowcount
    return Purged(
        skipped=False,
        leads=gone_leads,
        messages=gone_messages,
        reviews=gone_reviews,
        customers=gone,
        deliveries=deliveries,
    )


def _deliveries_of(
    business_id: str, lead_ids: list[str], message_ids: list[str], review_ids: list[str]
) -> ColumnElement[bool]:
    """The inbound-log rows that carried the business's records: those naming the business or
    one of its leads, and rows from before the log named them (``0004_inbound_log_lead`` left
    unknown what it could not tell) by record ID, a message ID only when no other business's
    message uses it."""
    shared = (
        select(messages.c.message_id)
        .where(
            messages.c.message_id.in_(message_ids),
            or_(messages.c.business_id.is_(None), messages.c.business_id != business_id),
            or_(messages.c.lead_id.is_(None), messages.c.lead_id.not_in(lead_ids)),
        )
        .scalar_subquery()
    )
    unknown = and_(inbound_log.c.lead_id.is_(None), inbound_log.c.business_id.is_(None))
    return or_(
        inbound_log.c.business_id == business_id,
        inbound_log.c.lead_id.in_(lead_ids),
        and_(
            unknown,
            or_(
                and_(
                    inbound_log.c.record_kind.in_(("lead", "lead_update")),
                    inbound_log.c.record_id.in_(lead_ids),
                ),
                and_(
                    inbound_log.c.record_kind == "message",
                    inbound_log.c.record_id.in_(message_ids),
                    inbound_log.c.record_id.not_in(shared),
                ),
                and_(
                    inbound_log.c.record_kind == "review",
                    inbound_log.c.record_id.in_(review_ids),
                ),
            ),
        ),
    )


class PurgeHandler:
    """The ``connection.purge`` job: one transaction through the writer."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.last: Purged | None = None

    async def __call__(self, job: Job[PurgeJob]) -> None:
        business_id = job.payload.business_id
        try:
            disconnected_at = datetime.fromisoformat(job.payload.disconnected_at)
        except ValueError:
            raise PermanentError(f"bad disconnected_at {job.payload.disconnected_at!r}") from None
        self.last = await self._writer.run(
            lambda conn: purge_business(conn, business_id, disconnected_at)
        )


PURGE = Registration(PURGE_KIND, lambda services: PurgeHandler(services.writer))
