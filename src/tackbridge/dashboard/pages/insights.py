"""The insights page (``/insights``): leads per day by category, first-reply times (automatic
and by the pro) and the share answered inside Price Assurance, lead spend against invoiced
revenue per category and per business, and the funnel new -> replied -> scheduled -> complete
-> paid; each chart with its numbers as a table, and the lead table as CSV
(``/insights/leads.csv``). The figures are ``insights``' (the same as ``/api/stats/insights``);
a member's are of their businesses only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from tackbridge.core.clock import now
from tackbridge.dashboard.access import access_of
from tackbridge.dashboard.auth import SignedIn, page_user
from tackbridge.dashboard.charts import Charts
from tackbridge.dashboard.templating import render
from tackbridge.insights.facts import EARLIEST, LATEST, Scope
from tackbridge.insights.routes import compute, csv_answer
from tackbridge.leads.service import lead_facets
from tackbridge.services import services

__all__ = ["DEFAULT_DAYS", "Period", "router"]

router = APIRouter(include_in_schema=False)
#: The period shown unless the user picks one: the last 30 days, today included.
DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``first``..``last`` (inclusive), as the form shows them."""

    first: date
    last: date

    @classmethod
    def of(cls, since: date | None, until: date | None, today: date) -> Period:
        """The period asked for (default: the last 30 days), kept inside 1970..8999."""
        low, high = EARLIEST.date() + timedelta(days=MAX_DAYS), LATEST.date() - timedelta(days=2)
        since = None if since is None else min(max(since, low), high)
        until = None if until is None else min(max(until, low), high)
        last = until or today
        first = since or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            first, last = last, first
        first = max(first, last - timedelta(days=MAX_DAYS - 1))
        return cls(first, last)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


Day = Annotated[date | None, Query()]
Business = Annotated[str | None, Query(max_length=64)]


@dataclass(frozen=True)
class Chosen:
    """What the page and its CSV show: the period, the business picked (None: all the user may
    see) and the insights' scope of both."""

    period: Period
    business: str | None
    scope: Scope


def _chosen(
    user: Annotated[SignedIn, Depends(page_user)],
    business: Business = None,
    since: Day = None,
    until: Day = None,
) -> Chosen:
    """The query's period and business, as far as the user may see (the routes' dependency)."""
    period = Period.of(since, until, now().date())
    access = access_of(user)
    picked = business or None
    if picked is not None and not access.allows(picked):
        picked = None  # not theirs: as if unfiltered (no hint that it exists)
    businesses = access.businesses if picked is None else frozenset({picked})
    scope = Scope(businesses=businesses, since=period.since, until=period.until)
    return Chosen(period, picked, scope)


def _query(business: str | None, period: Period) -> str:
    values = {"since": period.first.isoformat(), "until": period.last.isoformat()}
    if business:
        values["business"] = business
    return urlencode(values)


@router.get("/insights")
def insights_page(
    request: Request,
    user: Annotated[SignedIn, Depends(page_user)],
    shown: Annotated[Chosen, Depends(_chosen)],
) -> Response:
    svc = services(request)
    figures = compute(svc, shown.scope)
    with svc.db.reader.connect() as conn:
        facets = lead_facets(conn, businesses_in=access_of(user).businesses)
    query = _query(shown.business, shown.period)
    return render(
        request,
        "insights.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "insights",
            "figures": figures,
            "charts": Charts(figures),
            "period": shown.period,
            "business": shown.business or "",
            "businesses": facets.businesses,
            "csv_url": f"/insights/leads.csv?{query}",
            "api_query": query,
        },
    )


@router.get("/insights/leads.csv")
def insights_csv(request: Request, shown: Annotated[Chosen, Depends(_chosen)]) -> Response:
    return csv_answer(services(request), shown.scope)
