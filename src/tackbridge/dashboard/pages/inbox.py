"""The inbox (``/``): leads newest first, filtered by business, status, category and whether
they are answered, searched by text; each unanswered lead with the business time left to answer
inside Price Assurance's 4 hours. Live: ``dashboard.live`` tells the page when to refresh."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Connection
from starlette.responses import Response

from tackbridge.core.clock import now
from tackbridge.dashboard.access import access_of
from tackbridge.dashboard.auth import SignedIn, page_user
from tackbridge.dashboard.live import inbox_stamp
from tackbridge.dashboard.price_clock import PriceClock
from tackbridge.dashboard.templating import render
from tackbridge.insights.price_assurance import TimeLeft
from tackbridge.leads.service import Facets, InvalidCursorError, lead_facets, list_leads
from tackbridge.leads.views import LeadSummary
from tackbridge.services import Services, services

__all__ = ["FACETS_TTL", "PAGE_SIZE", "cached_facets", "router"]

PAGE_SIZE = 50
#: The filters' choices take a scan of every lead: kept this long per process and scope (a new
#: category shows up in the filter within it; bench/dashboard.py).
FACETS_TTL = 30.0
router = APIRouter(include_in_schema=False)


@dataclass
class _FacetCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    found: dict[frozenset[str] | None, tuple[float, Facets]] = field(default_factory=dict)


def cached_facets(svc: Services, conn: Connection, scope: frozenset[str] | None) -> Facets:
    cache = svc.shared("dashboard.inbox_facets", _FacetCache)
    at = time.monotonic()
    with cache.lock:
        hit = cache.found.get(scope)
    if hit is not None and at - hit[0] < FACETS_TTL:
        return hit[1]
    facets = lead_facets(conn, businesses_in=scope)
    with cache.lock:
        if len(cache.found) > 256:  # one entry per distinct member scope: bounded
            cache.found.clear()
        cache.found[scope] = (at, facets)
    return facets


@dataclass(frozen=True)
class Row:
    lead: LeadSummary
    left: TimeLeft | None  # None: answered (or Thumbtack's test lead)


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/")
def inbox(
    request: Request,
    user: Annotated[SignedIn, Depends(page_user)],
    business: Text = None,
    status: Text = None,
    category: Text = None,
    unanswered: Annotated[bool, Query()] = False,
    q: Text = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    svc = services(request)
    access = access_of(user)
    scope = access.businesses
    business = business or None
    if business is not None and not access.allows(business):
        business = None  # not theirs: as if unfiltered (no hint that it exists)
    at = now()
    with svc.db.reader.connect() as conn:
        facets = cached_facets(svc, conn, scope)
        stamp = inbox_stamp(conn, scope)
        try:
            page = list_leads(
                conn,
                business_id=business,
                status=status or None,
                category=category or None,
                unanswered=unanswered,
                search=q,
                businesses_in=scope,
                cursor=cursor or None,
                limit=PAGE_SIZE,
            )
        except InvalidCursorError:
            page = list_leads(conn, businesses_in=scope, limit=PAGE_SIZE)
        clock = PriceClock(conn, svc.settings)
        rows = [
            Row(
                lead,
                None
                if lead.firstReplyAt is not None or lead.isTest
                else clock.left(lead.receivedAt, lead.businessID, lead.category, now=at),
            )
            for lead in page.items
        ]
    filters = {
        "business": business or "",
        "status": status or "",
        "category": category or "",
        "unanswered": unanswered,
        "q": q or "",
    }
    more = None
    if page.nextCursor:
        kept = {k: v for k, v in filters.items() if v}
        more = "/?" + urlencode({**kept, "cursor": page.nextCursor})
    return render(
        request,
        "inbox.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "inbox",
            "rows": rows,
            "facets": facets,
            "filters": filters,
            "filtered": any(filters.values()),
            "more": more,
            "stamp": stamp,
            "live_url": "/dashboard/events/inbox",
        },
    )
