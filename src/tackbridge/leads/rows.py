"""The one mapping from the store's rows to the read model (``leads.models``): leads as
``LeadInput``, messages, reviews and attachments. Every reader (the operator API's views, the
thread, the CRM jobs, the automatic reply) goes through here, so a column is mapped once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from tackbridge.core.clock import utc
from tackbridge.leads.models import (
    COPIED,
    AttachmentInfo,
    BusinessInfo,
    CustomerInfo,
    LeadInput,
    MessageReceived,
    ReviewReceived,
)
from tackbridge.leads.refs import MessageRef
from tackbridge.store.schema import (
    attachments,
    businesses,
    customers,
    lead_details,
    leads,
    messages,
    reviews,
)

__all__ = [
    "attachment_of",
    "attachments_of",
    "business_of_row",
    "customer_of_row",
    "message_of",
    "message_row",
    "read_lead_input",
    "read_message",
    "read_review",
    "review_of",
]

# Built once and run with parameters: the jobs read a lead, a message or a review for every
# lead, and building a Core statement costs about as much as running it.
_ATTACHMENTS = (
    select(attachments)
    .where(
        attachments.c.owner_kind == bindparam("kind"),
        attachments.c.owner_id.in_(bindparam("owners", expanding=True)),
        attachments.c.owner_lead == bindparam("owner_lead"),
    )
    .order_by(attachments.c.owner_id, attachments.c.position)
)
LEAD = select(leads).where(leads.c.lead_id == bindparam("lead_id"))
CUSTOMER = select(customers).where(customers.c.customer_id == bindparam("customer_id"))
BUSINESS = select(businesses).where(businesses.c.business_id == bindparam("business_id"))
# A lead with its customer and business in one statement: what every lead's CRM job and
# automatic reply read (three statements' round trips through SQLAlchemy cost more than the join).
_LEAD_WITH_PARTIES = (
    select(
        leads,
        customers.c.customer_id.label("party_customer_id"),
        customers.c.name.label("customer_name"),
        customers.c.first_name.label("customer_first_name"),
        customers.c.last_name.label("customer_last_name"),
        customers.c.display_name.label("customer_display_name"),
        customers.c.phone.label("customer_phone"),
        businesses.c.business_id.label("party_business_id"),
        businesses.c.name.label("business_name"),
        businesses.c.access_code.label("business_access_code"),
    )
    .select_from(
        leads.outerjoin(customers, customers.c.customer_id == leads.c.customer_id).outerjoin(
            businesses, businesses.c.business_id == leads.c.business_id
        )
    )
    .where(leads.c.lead_id == bindparam("lead_id"))
)
DETAILS = (
    select(lead_details)
    .where(lead_details.c.lead_id == bindparam("lead_id"))
    .order_by(lead_details.c.position)
)
_MESSAGE = (
    select(messages)
    .where(messages.c.message_id == bindparam("message_id"))
    .order_by(messages.c.id)
    .limit(1)
)
_LEAD_MESSAGE = select(messages).where(
    messages.c.message_id == bindparam("message_id"),
    messages.c.lead_id.is_not_distinct_from(bindparam("lead_id")),
)
_REVIEW = select(reviews).where(reviews.c.review_id == bindparam("review_id"))


def attachment_of(row: Row[Any]) -> AttachmentInfo:
    return AttachmentInfo(
        file_name=row.file_name,
        file_size=row.file_size,
        mime_type=row.mime_type,
        url=row.url,
        description=row.description,
    )


def attachments_of(
    conn: Connection, owner_kind: str, owner_ids: Sequence[str], owner_lead: str | None = None
) -> dict[str, list[AttachmentInfo]]:
    """The attachments of each owner (a lead, message or review), in their order; one query.
    A message's are those of its lead's message (``owner_lead``: the lead ID, None for none)."""
    found: dict[str, list[AttachmentInfo]] = defaultdict(list)
    if owner_ids:
        params = {"kind": owner_kind, "owners": list(owner_ids), "owner_lead": owner_lead or ""}
        for row in conn.execute(_ATTACHMENTS, params):
            found[row.owner_id].append(attachment_of(row))
    return found


def customer_of_row(row: Row[Any]) -> CustomerInfo:
    return CustomerInfo(
        row.customer_id, row.name, row.first_name, row.last_name, row.display_name, row.phone
    )


def business_of_row(row: Row[Any]) -> BusinessInfo:
    return BusinessInfo(row.business_id, row.name, row.access_code)


def read_lead_input(conn: Connection, lead_id: str) -> LeadInput | None:
    """The stored lead as the CRM mapping and the automatic reply read it: two statements (the
    lead with its customer and business, its details)."""
    row = conn.execute(_LEAD_WITH_PARTIES, {"lead_id": lead_id}).first()
    if row is None:
        return None
    customer = None
    if row.party_customer_id is not None:
        customer = CustomerInfo(
            row.party_customer_id,
            row.customer_name,
            row.customer_first_name,
            row.customer_last_name,
            row.customer_display_name,
            row.customer_phone,
        )
    business = None
    if row.party_business_id is not None:
        business = BusinessInfo(row.party_business_id, row.business_name, row.business_access_code)
    copied = {name: getattr(row, name) for name in COPIED}
    copied["created_at"] = utc(row.created_at)
    details = [(d.question, d.answer) for d in conn.execute(DETAILS, {"lead_id": lead_id})]
    return LeadInput.build(
        copied, is_test=row.is_test, customer=customer, business=business, details=details
    )


def message_of(row: Row[Any], files: Sequence[AttachmentInfo] = ()) -> MessageReceived:
    return MessageReceived(
        message_id=row.message_id,
        source=row.source,
        lead_id=row.lead_id,
        business_id=row.business_id,
        customer_id=row.customer_id,
        sender=row.sender,
        text=row.text,
        sent_at=utc(row.sent_at),
        attachments=tuple(files),
        customer_name=row.customer_name,
        business_name=row.business_name,
    )


def message_row(conn: Connection, ref: MessageRef) -> Row[Any] | None:
    """The message a job names: its lead's message of that ID. A job queued before jobs named
    the lead (``leadID`` None) finds the first message of that ID."""
    if ref.leadID is None:
        return conn.execute(_MESSAGE, {"message_id": ref.messageID}).first()
    params = {"message_id": ref.messageID, "lead_id": ref.leadID}
    return conn.execute(_LEAD_MESSAGE, params).first()


def read_message(conn: Connection, message: MessageRef | str) -> MessageReceived | None:
    """The message a job names (a bare ID: the first message of that ID, whatever its lead)."""
    row = message_row(conn, MessageRef(messageID=message) if isinstance(message, str) else message)
    if row is None:
        return None
    files = attachments_of(conn, "message", [row.message_id], row.lead_id)
    return message_of(row, files.get(row.message_id, []))


def review_of(row: Row[Any], photos: Sequence[AttachmentInfo] = ()) -> ReviewReceived:
    return ReviewReceived(
        review_id=row.review_id,
        source=row.source,
        business_id=row.business_id,
        lead_id=row.lead_id,
        category_id=row.category_id,
        rating=row.rating,
        rating_raw=row.rating_raw,
        text=row.text,
        reviewer_name=row.reviewer_name,
        reviewer_nickname=row.reviewer_nickname,
        verified=row.verified,
        created_at=utc(row.created_at),
        modified_at=utc(row.modified_at),
        event_type=row.event_type,
        photos=tuple(photos),
    )


def read_review(conn: Connection, review_id: str) -> ReviewReceived | None:
    row = conn.execute(_REVIEW, {"review_id": review_id}).first()
    if row is None:
        return None
    return review_of(row, attachments_of(conn, "review", [review_id]).get(review_id, []))
