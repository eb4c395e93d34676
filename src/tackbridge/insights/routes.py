"""``/api/stats``: figures for the pro's office, computed from the store on request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tackbridge.core.bounds import ID_PATTERN, Moment
from tackbridge.core.clock import utc
from tackbridge.insights.response_times import LeadResponse, ResponseTimeSummary, summarize
from tackbridge.services import require_operator, services
from tackbridge.store.schema import leads

router = APIRouter(prefix="/api/stats", tags=["insights"], dependencies=[Depends(require_operator)])


def _as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get(
    "/response-times",
    response_model=ResponseTimeSummary,
    summary="How fast leads got their first reply, and from whom (auto or person)",
)
def response_times(
    request: Request,
    business: Annotated[
        str | None, Query(max_length=64, pattern=ID_PATTERN, description="Only this business.")
    ] = None,
    since: Annotated[Moment | None, Query(description="Leads received at or after.")] = None,
    until: Annotated[Moment | None, Query(description="Leads received before.")] = None,
) -> ResponseTimeSummary:
    svc = services(request)
    query = select(leads.c.received_at, leads.c.first_reply_at, leads.c.first_reply_by).where(
        leads.c.is_test.is_(False)
    )
    if business:
        query = query.where(leads.c.business_id == business)
    if since is not None:
        query = query.where(leads.c.received_at >= _as_utc(since))
    if until is not None:
        query = query.where(leads.c.received_at < _as_utc(until))
    with svc.db.reader.connect() as conn:
        rows = conn.execute(query).all()
    return summarize(
        LeadResponse(utc(r.received_at), utc(r.first_reply_at), r.first_reply_by) for r in rows
    )
