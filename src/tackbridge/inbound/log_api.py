"""``GET /api/inbound``: the verbatim inbound log, for operators to inspect what arrived,
including refused deliveries and v4 event types tackbridge stores without acting on.

``list_entries`` and ``get_entry`` are the queries (the dashboard's Deliveries page uses them
too); ``redacted`` masks secret-looking fields of a body for display."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import Connection, select

from tackbridge.core.bounds import ID_PATTERN
from tackbridge.core.clock import utc
from tackbridge.core.redact import REDACTED, is_secret_name, redact_urls_in
from tackbridge.inbound.refusals import refusals
from tackbridge.services import require_operator, services
from tackbridge.store.schema import inbound_log

__all__ = [
    "InboundDetail",
    "InboundEntry",
    "InboundPage",
    "get_entry",
    "list_entries",
    "redacted",
    "router",
]

router = APIRouter(
    prefix="/api/inbound", tags=["inbound log"], dependencies=[Depends(require_operator)]
)


class InboundEntry(BaseModel):
    id: int
    receivedAt: datetime
    route: str
    method: str
    statusCode: int
    outcome: str
    eventType: str | None = None
    recordKind: str | None = None
    recordID: str | None = None
    bodySize: int
    bodyTruncated: bool
    problem: dict[str, Any] | None = None


class InboundDetail(InboundEntry):
    headers: dict[str, str]
    body: str | None = None
    bodyBase64: str | None = None


class InboundPage(BaseModel):
    items: list[InboundEntry]
    nextCursor: int | None = None


def _entry(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "receivedAt": utc(row.received_at),
        "route": row.route,
        "method": row.method,
        "statusCode": row.status_code,
        "outcome": row.outcome,
        "eventType": row.event_type,
        "recordKind": row.record_kind,
        "recordID": row.record_id,
        "bodySize": row.body_size,
        "bodyTruncated": row.body_truncated,
        "problem": row.problem,
    }


def list_entries(
    conn: Connection,
    *,
    outcomes: Sequence[str] = (),
    event_type: str | None = None,
    route: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> InboundPage:
    """Entries newest first, without their bodies; ``outcomes``: any of these (empty: all)."""
    columns = [c for c in inbound_log.c if c.name not in {"body", "headers"}]
    query = select(*columns).order_by(inbound_log.c.id.desc()).limit(limit + 1)
    if outcomes:
        query = query.where(inbound_log.c.outcome.in_(list(outcomes)))
    if event_type:
        query = query.where(inbound_log.c.event_type == event_type)
    if route:
        query = query.where(inbound_log.c.route == route)
    if before:
        query = query.where(inbound_log.c.id < before)
    rows = conn.execute(query).all()
    items = [InboundEntry(**_entry(row)) for row in rows[:limit]]
    return InboundPage(items=items, nextCursor=rows[limit - 1].id if len(rows) > limit else None)


def get_entry(conn: Connection, entry_id: int) -> InboundDetail | None:
    """One entry with its headers (credentials already redacted) and its body as stored."""
    row = conn.execute(select(inbound_log).where(inbound_log.c.id == entry_id)).first()
    if row is None:
        return None
    body_text: str | None = None
    body_b64: str | None = None
    if row.body is not None:
        try:
            body_text = bytes(row.body).decode("utf-8")
        except UnicodeDecodeError:
            body_b64 = base64.b64encode(bytes(row.body)).decode()
    return InboundDetail(**_entry(row), headers=row.headers, body=body_text, bodyBase64=body_b64)


def _mask(value: Any, extra: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED
            if is_secret_name(str(k), extra) and v not in (None, "")
            else _mask(v, extra)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, extra) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_urls_in(value, extra)
    return value


def redacted(body: str | None, extra: Iterable[str] = ()) -> str | None:
    """A body for display: a JSON body pretty-printed with the values of fields named like
    secrets masked (``core.redact``'s rule, the one of headers: ``password``, ``apiKey``,
    ``token``...; ``extra``: the operator's ``TACKBRIDGE_REDACT_NAMES``) and URLs shown without
    their secrets; any other text as it came."""
    if body is None:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    names = frozenset(e.lower() for e in extra)
    return json.dumps(_mask(parsed, names), indent=2, ensure_ascii=False)


@router.get("", response_model=InboundPage, summary="Deliveries received, newest first")
def inbound_index(
    request: Request,
    outcome: Annotated[str | None, Query(max_length=16, pattern=ID_PATTERN)] = None,
    event_type: Annotated[
        str | None, Query(alias="eventType", max_length=64, pattern=ID_PATTERN)
    ] = None,
    route: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="From nextCursor")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboundPage:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        return list_entries(
            conn,
            outcomes=(outcome,) if outcome else (),
            event_type=event_type,
            route=route,
            before=before,
            limit=limit,
        )


class RefusalCount(BaseModel):
    route: str
    status: int
    count: int


class RefusalCounts(BaseModel):
    """Refusals this process answered since it started (429s among them), and how many
    limited ones wait to be written as ``rate_limited`` entries."""

    items: list[RefusalCount]
    limitedClients: int
    pendingCounts: int


@router.get(
    "/refusals",
    response_model=RefusalCounts,
    summary="Refused deliveries counted by this process, by route and status",
)
def refusal_counts(request: Request) -> RefusalCounts:
    counted = refusals(services(request))
    items = [
        RefusalCount(route=route, status=status, count=n)
        for (route, status), n in sorted(counted.counts.items())
    ]
    return RefusalCounts(
        items=items, limitedClients=counted.limited_clients, pendingCounts=counted.pending
    )


@router.get("/{entry_id}", response_model=InboundDetail, summary="One delivery, verbatim")
def inbound_show(
    request: Request, entry_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> InboundDetail:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        entry = get_entry(conn, entry_id)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"no inbound entry {entry_id}")
    return entry
