"""``GET /api/leads`` and ``GET /api/leads/{leadID}`` for operators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from tackbridge.core.bounds import ID_PATTERN, Moment
from tackbridge.leads.service import InvalidCursorError, get_lead, list_leads
from tackbridge.leads.views import LeadPage, LeadView
from tackbridge.services import require_operator, services

router = APIRouter(prefix="/api/leads", tags=["leads"], dependencies=[Depends(require_operator)])

_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or wrong operator token"}}


@router.get("", response_model=LeadPage, summary="List leads, newest first", responses=_AUTH)
def leads_index(
    request: Request,
    business: Annotated[
        str | None, Query(max_length=64, pattern=ID_PATTERN, description="Business ID")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=32, pattern=ID_PATTERN, description="Lead status")
    ] = None,
    since: Annotated[Moment | None, Query(description="Received at or after (RFC 3339)")] = None,
    cursor: Annotated[
        str | None, Query(max_length=128, pattern=ID_PATTERN, description="From nextCursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LeadPage:
    svc = services(request)
    try:
        with svc.db.reader.connect() as conn:
            return list_leads(
                conn, business_id=business, status=status, since=since, cursor=cursor, limit=limit
            )
    except InvalidCursorError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.get(
    "/{lead_id}",
    response_model=LeadView,
    response_model_by_alias=True,
    summary="A lead with its customer, request, messages, reviews and status history",
    responses={**_AUTH, 404: {"description": "No such lead"}},
)
def leads_show(
    request: Request,
    lead_id: Annotated[str, Path(max_length=64, alias="lead_id", pattern=ID_PATTERN)],
) -> LeadView:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        lead = get_lead(conn, lead_id)
    if lead is None:
        raise HTTPException(status_code=404, detail=f"no lead {lead_id!r}")
    return lead
