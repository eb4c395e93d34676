"""``/api/stats``: figures for the pro's office, computed from the store on request: the
first-reply times, every figure of the insights page (``/insights``), and the lead table as
CSV. The dashboard's page computes from the same functions (``compute``, ``csv_answer``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints
from sqlalchemy import select
from starlette.responses import Response

from tackbridge.core.bounds import ID_PATTERN, Moment
from tackbridge.core.clock import now as utc_now
from tackbridge.core.clock import utc
from tackbridge.core.problems import problem
from tackbridge.insights.export import csv_lines
from tackbridge.insights.facts import Scope, load_facts
from tackbridge.insights.figures import Insights, insights
from tackbridge.insights.response_times import LeadResponse, ResponseTimeSummary, summarize
from tackbridge.services import Services, require_operator, services
from tackbridge.store.schema import leads

__all__ = ["compute", "csv_answer", "router"]

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


BusinessId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
Businesses = Annotated[
    list[BusinessId] | None,
    Query(alias="business", description="Only these businesses (repeatable)."),
]
Since = Annotated[datetime | None, Query(description="Leads received at or after.")]
Until = Annotated[datetime | None, Query(description="Leads received before.")]


def compute(svc: Services, scope: Scope) -> Insights:
    """Every figure of the leads in ``scope``."""
    with svc.db.reader.connect() as conn:
        facts = load_facts(conn, svc.settings, scope)
    return insights(facts, utc_now(), scope.since, scope.until)


def csv_answer(svc: Services, scope: Scope) -> StreamingResponse:
    """The lead table of ``scope`` as a CSV download."""
    with svc.db.reader.connect() as conn:
        facts = load_facts(conn, svc.settings, scope)
    return StreamingResponse(
        csv_lines(facts, utc_now()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="leads.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/insights",
    response_model=Insights,
    summary="Leads per day by category, response times, Price Assurance, spend vs revenue, funnel",
)
def insights_index(
    request: Request, business: Businesses = None, since: Since = None, until: Until = None
) -> Insights | Response:
    try:
        scope = Scope(businesses=business, since=since, until=until)
    except ValueError as exc:
        return problem(422, str(exc), slug="invalid-period")
    return compute(services(request), scope)


@router.get(
    "/leads.csv",
    response_class=StreamingResponse,
    summary="The lead table as CSV (one row per lead, test leads left out)",
    responses={200: {"content": {"text/csv": {}}}},
)
def leads_csv(
    request: Request, business: Businesses = None, since: Since = None, until: Until = None
) -> Response:
    try:
        scope = Scope(businesses=business, since=since, until=until)
    except ValueError as exc:
        return problem(422, str(exc), slug="invalid-period")
    return csv_answer(services(request), scope)
