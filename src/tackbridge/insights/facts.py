"""Reading the facts the insights are computed from: one ``LeadFact`` per lead (Thumbtack's test
leads left out), with its pushed job statuses, its invoice and its Price Assurance deadline
(``insights.hours``). The only I/O of the insights."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, select

from tackbridge.core.clock import utc
from tackbridge.insights.figures import LeadFact, invoiced_cents
from tackbridge.insights.hours import HoursLookup
from tackbridge.insights.price_assurance import answer_by
from tackbridge.settings import Settings
from tackbridge.store.schema import businesses, customers, lead_status_history, leads

__all__ = ["EARLIEST", "LATEST", "Scope", "as_utc", "load_facts"]


#: The bounds a period may have (Thumbtack leads are of this era; days around them can be
#: counted without leaving the calendar).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """A query's bound: naive means UTC. Raises ValueError outside 1970..9000."""
    try:
        found = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        found = EARLIEST - timedelta(days=1)
    if not EARLIEST <= found <= LATEST:
        raise ValueError("since and until must be between 1970 and 9000")
    return found


class Scope:
    """Which leads: received in ``since``..``until`` (half-open), of ``businesses`` (None: all).

    A member's dashboard passes the businesses they are assigned; an empty set selects none."""

    def __init__(
        self,
        *,
        businesses: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.businesses = None if businesses is None else frozenset(businesses)
        self.since = None if since is None else as_utc(since)
        self.until = None if until is None else as_utc(until)

    def apply(self, query: Select[Any]) -> Select[Any]:
        query = query.where(leads.c.is_test.is_(False))
        if self.businesses is not None:
            query = query.where(leads.c.business_id.in_(sorted(self.businesses)))
        if self.since is not None:
            query = query.where(leads.c.received_at >= self.since)
        if self.until is not None:
            query = query.where(leads.c.received_at < self.until)
        return query


def _history(conn: Connection, scope: Scope) -> dict[str, list[tuple[str | None, int | None]]]:
    query = scope.apply(
        select(
            lead_status_history.c.lead_id,
            lead_status_history.c.job_status,
            lead_status_history.c.invoice_amount_cents,
        )
        .join(leads, leads.c.lead_id == lead_status_history.c.lead_id)
        .where(lead_status_history.c.source == "job_status")
        .order_by(lead_status_history.c.occurred_at, lead_status_history.c.id)
    )
    found: dict[str, list[tuple[str | None, int | None]]] = defaultdict(list)
    for row in conn.execute(query):
        found[row.lead_id].append((row.job_status, row.invoice_amount_cents))
    return found


def load_facts(conn: Connection, settings: Settings, scope: Scope) -> list[LeadFact]:
    """The facts of the leads in ``scope``, oldest first."""
    query = scope.apply(
        select(
            leads.c.lead_id,
            leads.c.business_id,
            leads.c.category,
            leads.c.category_id,
            leads.c.status,
            leads.c.job_status,
            leads.c.received_at,
            leads.c.first_reply_at,
            leads.c.first_reply_by,
            leads.c.lead_price_cents,
            businesses.c.name.label("business_name"),
            customers.c.name.label("customer_name"),
        )
        .outerjoin(businesses, businesses.c.business_id == leads.c.business_id)
        .outerjoin(customers, customers.c.customer_id == leads.c.customer_id)
        .order_by(leads.c.received_at, leads.c.id)
    )
    history = _history(conn, scope)
    hours = HoursLookup(conn, settings)
    facts = []
    for row in conn.execute(query):
        received = utc(row.received_at)
        changes = history.get(row.lead_id, [])
        facts.append(
            LeadFact(
                lead_id=row.lead_id,
                received_at=received,
                business_id=row.business_id,
                business_name=row.business_name,
                category=row.category,
                customer_name=row.customer_name,
                status=row.status,
                job_status=row.job_status,
                first_reply_at=utc(row.first_reply_at),
                first_reply_by=row.first_reply_by,
                lead_price_cents=row.lead_price_cents,
                invoice_cents=invoiced_cents(changes),
                job_statuses=frozenset(s for s, _ in changes if s),
                price_assurance_due=answer_by(
                    received, hours.of(row.business_id, row.category, row.category_id)
                ),
            )
        )
    return facts
