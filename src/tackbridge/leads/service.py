"""Reading leads with everything that hangs off them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select

from tackbridge.core.clock import utc
from tackbridge.leads import rows
from tackbridge.leads.thread import thread
from tackbridge.leads.views import (
    INBOX_LINK,
    AttachmentView,
    BusinessView,
    CustomerView,
    DetailView,
    LeadPage,
    LeadSummary,
    LeadView,
    LocationView,
    MessageView,
    RequestView,
    ReviewView,
    StatusChangeView,
)
from tackbridge.store.schema import (
    businesses,
    customers,
    lead_status_history,
    leads,
    reviews,
)


class InvalidCursorError(ValueError):
    pass


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"lead:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "lead":
            raise ValueError(kind)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError("cursor is not one this API issued") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_leads(
    conn: Connection,
    *,
    business_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    businesses_in: Collection[str] | None = None,
    category: str | None = None,
    unanswered: bool = False,
    search: str | None = None,
) -> LeadPage:
    """Newest first. ``businesses_in``: only leads of these businesses (a dashboard member's);
    ``unanswered``: only leads without a first reply; ``search``: a case-insensitive substring
    of the customer's name, the lead's ID, title, description, category or city."""
    query = (
        select(
            leads,
            businesses.c.name.label("business_name"),
            customers.c.name.label("customer_name"),
        )
        .outerjoin(businesses, businesses.c.business_id == leads.c.business_id)
        .outerjoin(customers, customers.c.customer_id == leads.c.customer_id)
        .order_by(leads.c.id.desc())
        .limit(limit + 1)
    )
    if business_id is not None:
        query = query.where(leads.c.business_id == business_id)
    if status is not None:
        query = query.where(leads.c.status == status)
    if since is not None:
        query = query.where(leads.c.received_at >= since)
    if cursor is not None:
        query = query.where(leads.c.id < decode_cursor(cursor))
    if businesses_in is not None:
        query = query.where(leads.c.business_id.in_(sorted(businesses_in)))
    if category is not None:
        query = query.where(leads.c.category == category)
    if unanswered:
        query = query.where(leads.c.first_reply_at.is_(None))
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip().lower())}%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        customers.c.name,
                        leads.c.lead_id,
                        leads.c.title,
                        leads.c.description,
                        leads.c.category,
                        leads.c.city,
                    )
                )
            )
        )
    rows = conn.execute(query).all()
    items = [_summary(row) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return LeadPage(items=items, nextCursor=next_cursor)


def _summary(row: Row[Any]) -> LeadSummary:
    received = utc(row.received_at)
    return LeadSummary(
        leadID=row.lead_id,
        businessID=row.business_id,
        businessName=row.business_name,
        customerName=row.customer_name,
        category=row.category,
        city=row.city,
        state=row.state,
        zipCode=row.zip_code,
        status=row.status,
        leadType=row.lead_type,
        leadPriceCents=row.lead_price_cents,
        chargeState=row.charge_state,
        isTest=row.is_test,
        source=row.source,
        createTimestamp=utc(row.created_at),
        receivedAt=received,
        jobStatus=row.job_status,
        firstReplyAt=utc(row.first_reply_at),
        firstReplyBy=row.first_reply_by,
    )


def _attachment_views(
    conn: Connection, owner_kind: str, owner_ids: Sequence[str], owner_lead: str | None = None
) -> dict[str, list[AttachmentView]]:
    found = rows.attachments_of(conn, owner_kind, owner_ids, owner_lead)
    return {owner: [AttachmentView.of(f) for f in files] for owner, files in found.items()}


def get_lead(conn: Connection, lead_id: str, *, related: bool = True) -> LeadView | None:
    """The lead as the API shows it; ``related=False`` leaves out its messages, reviews and
    status history (the jobs that map a lead need none of them)."""
    row = conn.execute(rows.LEAD, {"lead_id": lead_id}).first()
    if row is None:
        return None
    customer = None
    if row.customer_id is not None:
        c = conn.execute(rows.CUSTOMER, {"customer_id": row.customer_id}).one()
        customer = CustomerView.of(rows.customer_of_row(c))
    business = None
    if row.business_id is not None:
        b = conn.execute(rows.BUSINESS, {"business_id": row.business_id}).one()
        business = BusinessView.of(rows.business_of_row(b))
    details = [
        DetailView(question=d.question, answer=d.answer)
        for d in conn.execute(rows.DETAILS, {"lead_id": lead_id})
    ]
    received, updated = utc(row.received_at), utc(row.updated_at)
    return LeadView(
        leadID=row.lead_id,
        source=row.source,
        isTest=row.is_test,
        status=row.status,
        price=row.price,
        leadType=row.lead_type,
        leadPrice=row.lead_price,
        leadPriceCents=row.lead_price_cents,
        leadPriceBreakdown=row.lead_price_breakdown,
        chargeState=row.charge_state,
        estimate=row.estimate,
        requestReviewLink=row.request_review_link,
        refundRequestLink=row.refund_request_link,
        inboxLink=INBOX_LINK.format(lead_id=row.lead_id),
        createTimestamp=utc(row.created_at),
        receivedAt=received,
        updatedAt=updated,
        jobStatus=row.job_status,
        firstReplyAt=utc(row.first_reply_at),
        firstReplyBy=row.first_reply_by,
        request=RequestView(
            requestID=row.request_id,
            category=row.category,
            categoryID=row.category_id,
            title=row.title,
            description=row.description,
            schedule=row.schedule,
            location=LocationView(
                address1=row.address1,
                address2=row.address2,
                city=row.city,
                state=row.state,
                zipCode=row.zip_code,
            ),
            travelPreferences=row.travel_preferences,
            proposedTimes=row.proposed_times,
            details=details,
            attachments=_attachment_views(conn, "lead", [lead_id]).get(lead_id, []),
        ),
        customer=customer,
        business=business,
        messages=_messages(conn, lead_id) if related else [],
        reviews=_reviews(conn, lead_id) if related else [],
        statusHistory=_history(conn, lead_id) if related else [],
        extra=row.extra,
    )


_REPLY_ONLY = {"deliveryState", "author"}  # thread fields the lead view does not show


def _messages(conn: Connection, lead_id: str) -> list[MessageView]:
    """The lead's thread (``leads.thread``) as the lead view shows it: each message
    with its attachments."""
    shown = thread(conn, lead_id).messages
    files = _attachment_views(conn, "message", [m.messageID for m in shown], lead_id)
    return [
        MessageView(**m.model_dump(exclude=_REPLY_ONLY), attachments=files.get(m.messageID, []))
        for m in shown
    ]


def _reviews(conn: Connection, lead_id: str) -> list[ReviewView]:
    found = conn.execute(
        select(reviews).where(reviews.c.lead_id == lead_id).order_by(reviews.c.id)
    ).all()
    photos = rows.attachments_of(conn, "review", [r.review_id for r in found])
    return [
        ReviewView.of(rows.review_of(r, photos.get(r.review_id, [])), utc(r.received_at))
        for r in found
    ]


def _history(conn: Connection, lead_id: str) -> list[StatusChangeView]:
    rows: Iterable[Row[Any]] = conn.execute(
        select(lead_status_history)
        .where(lead_status_history.c.lead_id == lead_id)
        .order_by(lead_status_history.c.id)
    )
    views = []
    for r in rows:
        recorded = utc(r.recorded_at)
        views.append(
            StatusChangeView(
                source=r.source,
                status=r.status,
                chargeState=r.charge_state,
                leadPrice=r.lead_price,
                leadPriceCents=r.lead_price_cents,
                jobStatus=r.job_status,
                invoiceAmountInCents=r.invoice_amount_cents,
                applied=r.applied,
                occurredAt=utc(r.occurred_at),
                recordedAt=recorded,
            )
        )
    return views


# Built once: every new lead's follow-ups and several jobs ask it.
_BUSINESS_OF = select(leads.c.business_id).where(leads.c.lead_id == bindparam("lead_id"))
_BUSINESSES_OF = select(leads.c.lead_id, leads.c.business_id).where(
    leads.c.lead_id.in_(bindparam("ids", expanding=True))
)


def business_of(conn: Connection, lead_id: str) -> str | None:
    """The ID of the business a lead was sent to, if the lead is stored and names one."""
    found: str | None = conn.execute(_BUSINESS_OF, {"lead_id": lead_id}).scalar()
    return found


def lead_exists(conn: Connection, lead_id: str) -> bool:
    found = conn.execute(select(leads.c.id).where(leads.c.lead_id == lead_id)).first()
    return found is not None


@dataclass(frozen=True)
class Facets:
    """What the leads of some businesses can be filtered by."""

    businesses: list[tuple[str, str | None]]  # (ID, name), by name
    categories: list[str]
    statuses: list[str]


def lead_facets(conn: Connection, *, businesses_in: Collection[str] | None = None) -> Facets:
    """The businesses, categories and statuses found among the leads (of ``businesses_in``)."""

    def scoped(query: Any) -> Any:
        if businesses_in is None:
            return query
        return query.where(leads.c.business_id.in_(sorted(businesses_in)))

    found_businesses = conn.execute(
        scoped(
            select(leads.c.business_id, businesses.c.name)
            .distinct()
            .join(businesses, businesses.c.business_id == leads.c.business_id)
            .where(leads.c.business_id.is_not(None))
        )
    ).all()
    categories = conn.execute(
        scoped(select(leads.c.category).distinct().where(leads.c.category.is_not(None)))
    ).scalars()
    statuses = conn.execute(
        scoped(select(leads.c.status).distinct().where(leads.c.status.is_not(None)))
    ).scalars()
    return Facets(
        businesses=sorted(
            ((r[0], r[1]) for r in found_businesses), key=lambda b: ((b[1] or b[0]).lower(), b[0])
        ),
        categories=sorted(categories, key=str.lower),
        statuses=sorted(statuses),
    )


def businesses_of(conn: Connection, lead_ids: Sequence[str]) -> dict[str, str | None]:
    """``business_of`` for each stored one of ``lead_ids``."""
    if not lead_ids:
        return {}
    rows = conn.execute(_BUSINESSES_OF, {"ids": list(lead_ids)})
    return {row.lead_id: row.business_id for row in rows}
