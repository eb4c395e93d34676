"""Coperniq's public API under ``/coperniq/v1`` (``https://api.coperniq.io/v1`` in production):
``x-api-key`` auth, the 100 requests/s and 5,000 requests/day limits with ``X-RateLimit-*``
headers, opportunities (and the old ``/requests`` alias), projects, contacts, accounts (alias
``/clients``), notes of each (the old ``comments`` paths too), properties and workflows. The key
check and the limits are ``guard`` and ``RateLimiter``; the rules live in ``store`` (and the
modules it uses), the answers' shapes in ``wire``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from tackbridge.payloads.coperniq import Opportunity as OpportunityModel
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.coperniq.matching import comparable
from tackbridge.sandbox.coperniq.records import Opportunity
from tackbridge.sandbox.coperniq.store import CoperniqStore
from tackbridge.sandbox.coperniq.wire import (
    account_wire,
    contact_wire,
    note_wire,
    opportunity_wire,
)
from tackbridge.sandbox.errors import CoperniqError
from tackbridge.sandbox.httputil import json_object, parse_timestamp, same_secret

__all__ = ["RateLimiter", "guard", "router"]

OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "in", "nin", "between")
ORDER_BY = ("asc", "desc")


class RateLimiter:
    """Per API key: a sliding one-second window and a calendar-day count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._daily: dict[tuple[str, date], int] = {}

    def hit(
        self, key: str, per_second: int, per_day: int, today: date, window_seconds: float = 1.0
    ) -> tuple[bool, int, int]:
        """(allowed, limit, remaining) for one more request now."""
        now = time.monotonic()
        with self._lock:
            window = self._recent.setdefault(key, deque())
            while window and now - window[0] >= window_seconds:
                window.popleft()
            used_today = self._daily.get((key, today), 0)
            if len(window) >= per_second or used_today >= per_day:
                return False, per_second, 0
            window.append(now)
            self._daily[(key, today)] = used_today + 1
            remaining = min(per_second - len(window), per_day - used_today - 1)
            return True, per_second, remaining

    def used(self, today: date) -> int:
        """Requests let through today, over every key."""
        with self._lock:
            return sum(n for (_, day), n in self._daily.items() if day == today)


def guard(request: Request, box: Sandbox = Depends(sandbox)) -> Sandbox:
    key = request.headers.get("x-api-key")
    if not key or not same_secret(key, box.state.config.coperniq_api_key):
        raise CoperniqError(401, "missing or invalid x-api-key", "UNAUTHORIZED")
    limiter: RateLimiter = request.app.state.coperniq_limiter
    config = box.state.config
    allowed, limit, remaining = limiter.hit(
        key,
        config.coperniq_rate_per_second,
        config.coperniq_rate_per_day,
        box.state.clock.now().date(),
        config.coperniq_rate_window_seconds,
    )
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
    # Read by the API middleware, which puts the headers on whatever the answer turns out to be.
    request.state.ratelimit = headers
    if not allowed:
        raise CoperniqError(
            429, "rate limit exceeded", "RATE_LIMITED", headers={"Retry-After": "1"}
        )
    return box


router = APIRouter(prefix="/coperniq/v1", tags=["Coperniq"], dependencies=[Depends(guard)])


def _store(box: Sandbox) -> CoperniqStore:
    return box.state.coperniq


def _bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise CoperniqError(400, f"{name} must be true or false", "VALIDATION_ERROR", name)
    return raw in ("true", "1")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise CoperniqError(
            400, f"{name} must be an integer from {low} to {high}", "VALIDATION_ERROR", name
        )
    return int(raw)


# opportunities ------------------------------------------------------------------------------


def _both(method: Callable[..., Any], path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Registers a route on ``/opportunities...``, on its old alias ``/requests...`` and on
    ``/projects...``: the three share the rules; ``_kind`` tells a handler which it serves."""

    def register(func: Any) -> Any:
        method(path, **kwargs)(func)
        alias = {**kwargs, "include_in_schema": False}
        method(path.replace("/opportunities", "/requests", 1), **alias)(func)
        method(path.replace("/opportunities", "/projects", 1), **kwargs)(func)
        return func

    return register


def _kind(request: Request) -> str:
    """``project`` on ``/projects/**``, else ``opportunity``."""
    return "project" if request.url.path.startswith(f"{router.prefix}/projects") else "opportunity"


@_both(router.post, "/opportunities")
async def create_opportunity(
    request: Request, response: Response, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    match_by = request.query_params.get("match_by", "title")
    strategy = request.query_params.get("match_found_strategy", "skip")
    allow_new = _bool(request, "allow_new_options")
    body = await json_object(request)
    store = _store(box)
    opportunity, outcome = store.create_opportunity(
        body,
        match_by=match_by,
        strategy=strategy,
        allow_new_options=allow_new,
        kind=_kind(request),
    )
    response.headers["X-Sandbox-Match"] = outcome
    box.state.note(f"coperniq {opportunity.kind} {opportunity.id} {outcome}")
    return opportunity_wire(store, opportunity)


def _order(request: Request) -> bool:
    """``order_by`` is a direction, ``asc`` (the default) or ``desc``, over record IDs."""
    raw = request.query_params.get("order_by", "asc").strip().lower()
    if raw not in ORDER_BY:
        raise CoperniqError(400, "order_by must be asc or desc", field="order_by")
    return raw == "desc"


def _page(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    page = _int_param(request, "page", 1, 1, 1_000_000)
    size = _int_param(request, "page_size", 20, 1, 100)
    descending = _order(request)
    items.sort(key=lambda w: w.get("id") or 0, reverse=descending)
    return items[(page - 1) * size : page * size]


def _time_filters(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for name, after in (("updated_after", True), ("updated_before", False)):
        raw = request.query_params.get(name)
        if raw is None:
            continue
        bound = parse_timestamp(raw)
        if bound is None:
            raise CoperniqError(400, f"{name} must be an ISO 8601 timestamp", field=name)
        kept = []
        for wire in items:
            updated = parse_timestamp(wire["updatedAt"])
            if updated is not None and (updated > bound if after else updated < bound):
                kept.append(wire)
        items = kept
    return items


@_both(router.get, "/opportunities")
async def list_opportunities(
    request: Request, box: Sandbox = Depends(guard)
) -> list[dict[str, Any]]:
    store = _store(box)
    items = [opportunity_wire(store, o) for o in store.live_opportunities(_kind(request))]
    return _page(request, _time_filters(request, items))


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "neq": lambda a, b: bool(a != b),
    "gt": lambda a, b: bool(a > b),
    "gte": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "lte": lambda a, b: bool(a <= b),
}


def _predicate(op: str, raw: str) -> Callable[[Any], bool]:
    """The filter ``op raw`` as a test of one value, its right-hand side parsed once (a search
    runs it against every record)."""
    if op == "contains":
        needle = raw.lower()
        single: Callable[[Any], bool] = lambda actual: (  # noqa: E731
            actual is not None and needle in str(actual).lower()
        )
    elif op in ("in", "nin"):
        options = [comparable(v.strip()) for v in raw.split(",")]

        def single(actual: Any) -> bool:
            found = actual is not None and comparable(actual) in options
            return found if op == "in" else not found

    elif op == "between":
        low, sep, high = raw.partition(",")
        if not sep:
            raise CoperniqError(400, "between needs two comma-separated values", field="value")
        lo, hi = comparable(low.strip()), comparable(high.strip())

        def single(actual: Any) -> bool:
            if actual is None:
                return False
            try:
                return bool(lo <= comparable(actual) <= hi)
            except TypeError:
                return False

    else:
        right, compare = comparable(raw), _ORDER[op]

        def single(actual: Any) -> bool:
            if actual is None:
                return op == "neq"
            try:
                return compare(comparable(actual), right)
            except TypeError:  # a number against text never matches an ordering
                return op == "neq"

    def test(actual: Any) -> bool:
        if isinstance(actual, list):
            if op in ("neq", "nin"):
                return all(single(item) for item in actual) if actual else True
            return any(single(item) for item in actual)
        return single(actual)

    return test


def _filters(
    request: Request, store: CoperniqStore, sample: dict[str, Any]
) -> list[tuple[str, str, str]]:
    query = request.query_params
    filters: list[tuple[str, str, str]] = []
    for n in ("1", "2"):
        prop, op, value = query.get(f"prop{n}"), query.get(f"op{n}"), query.get(f"value{n}")
        if prop is None and op is None and value is None:
            continue
        if prop is None or op is None or value is None:
            missing = next(
                x
                for x, v in ((f"prop{n}", prop), (f"op{n}", op), (f"value{n}", value))
                if v is None
            )
            raise CoperniqError(400, f"{missing} is required with the filter {n}", field=missing)
        key = prop.removeprefix("custom.")
        if prop not in sample and key not in store.properties:
            raise CoperniqError(400, f"unknown property {prop!r}", field=f"prop{n}")
        if op not in OPS:
            raise CoperniqError(400, f"op{n} must be one of {', '.join(OPS)}", field=f"op{n}")
        filters.append((prop, op, value))
    if not filters:
        raise CoperniqError(400, "prop1, op1 and value1 are required", field="prop1")
    return filters


@_both(router.get, "/opportunities/search")
async def search_opportunities(
    request: Request, box: Sandbox = Depends(guard)
) -> list[dict[str, Any]]:
    store = _store(box)
    logic = request.query_params.get("logic", "and").lower()
    if logic not in ("and", "or"):
        raise CoperniqError(400, "logic must be and or or", field="logic")
    sample_fields = set(OpportunityModel.model_fields)
    filters = _filters(request, store, {k: None for k in sample_fields})
    combine = all if logic == "and" else any
    # Filters on stored fields and custom properties (a lead-ID look-up) are evaluated on the
    # record itself; only a filter on a field the wire derives needs each record rendered.
    derived = any(p in sample_fields and p not in _STORED for p, _, _ in filters)

    def value_of(o: Opportunity, wire: dict[str, Any] | None, prop: str) -> Any:
        if wire is not None and prop in wire and not prop.startswith("custom."):
            return wire[prop]
        if prop in _STORED:
            return _stored(o, prop)
        return (o.fields.get("custom") or {}).get(prop.removeprefix("custom."))

    tests = [(p, _predicate(op, v)) for p, op, v in filters]
    kind = _kind(request)
    candidates = store.live_opportunities(kind)
    if logic == "and" or len(filters) == 1:
        for p, op, v in filters:
            if op == "eq" and (p.startswith("custom.") or p not in sample_fields):
                candidates = store.with_custom_value(p.removeprefix("custom."), v, kind)
                break
    found = []
    for o in candidates:
        wire = opportunity_wire(store, o) if derived else None
        if combine(test(value_of(o, wire, p)) for p, test in tests):
            found.append(wire or opportunity_wire(store, o))
    return _page(request, found)


# Wire fields that are stored fields as they are (see ``opportunity_wire``).
_STORED = frozenset(
    {
        *("id", "number", "title", "description", "address", "primaryEmail", "primaryPhone"),
        *("trades", "value", "size", "confidence", "status", "workflowId", "accountId"),
    }
)


def _stored(o: Opportunity, prop: str) -> Any:
    if prop == "id":
        return o.id
    if prop == "number":
        return o.number
    if prop in ("address", "trades"):
        return list(o.fields.get(prop) or [])
    return o.fields.get(prop)


@_both(router.get, "/opportunities/{opportunity_id}")
async def get_opportunity(
    opportunity_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    store = _store(box)
    kind = _kind(request)
    # A project's own answer is ProjectWithPhaseInstances: its phase instances too.
    return opportunity_wire(store, store.get_opportunity(opportunity_id, kind), detail=True)


@_both(router.patch, "/opportunities/{opportunity_id}")
async def patch_opportunity(
    opportunity_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    store = _store(box)
    body = await json_object(request)
    opportunity = store.patch_opportunity(
        opportunity_id,
        body,
        allow_new_options=_bool(request, "allow_new_options"),
        kind=_kind(request),
    )
    return opportunity_wire(store, opportunity)


@_both(router.delete, "/opportunities/{opportunity_id}")
async def delete_opportunity(
    opportunity_id: int, request: Request, box: Sandbox = Depends(guard)
) -> Response:
    _store(box).delete_opportunity(opportunity_id, _kind(request))
    return Response(status_code=200)


# notes --------------------------------------------------------------------------------------


@_both(router.get, "/opportunities/{opportunity_id}/notes")
@_both(router.get, "/opportunities/{opportunity_id}/comments", include_in_schema=False)
async def list_notes(
    opportunity_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    notes = [note_wire(n) for n in _store(box).notes_of(opportunity_id, _kind(request))]
    return {"notes": notes, "totalCount": len(notes)}


@_both(router.post, "/opportunities/{opportunity_id}/notes", status_code=201)
@_both(router.post, "/opportunities/{opportunity_id}/comments", status_code=201)
async def create_note(
    opportunity_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    body = await json_object(request)
    return note_wire(_store(box).add_note(opportunity_id, body.get("body"), _kind(request)))


@router.get("/accounts/{account_id}/notes")
@router.get("/clients/{account_id}/comments", include_in_schema=False)
async def list_account_notes(account_id: int, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    notes = [note_wire(n) for n in _store(box).notes_of(account_id, "account")]
    return {"notes": notes, "totalCount": len(notes)}


@router.post("/accounts/{account_id}/notes", status_code=201)
@router.post("/clients/{account_id}/comments", status_code=201, include_in_schema=False)
async def create_account_note(
    account_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    body = await json_object(request)
    return note_wire(_store(box).add_note(account_id, body.get("body"), "account"))


# The document's legacy paths of ``PATCH|DELETE /notes/{noteId}`` name the note's record.
_LEGACY_NOTE_PATHS = (
    "/projects/{record_id}/comments/{note_id}",
    "/requests/{record_id}/comments/{note_id}",
    "/clients/{record_id}/comments/{note_id}",
)


async def patch_note(
    note_id: int, request: Request, record_id: int | None = None, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    body = await json_object(request)
    return note_wire(_store(box).patch_note(note_id, body.get("body"), record_id))


async def delete_note(
    note_id: int, record_id: int | None = None, box: Sandbox = Depends(guard)
) -> Response:
    # 200, as the operation's responses say (its description says 204 No Content).
    _store(box).delete_note(note_id, record_id)
    return Response(status_code=200)


router.patch("/notes/{note_id}")(patch_note)
router.delete("/notes/{note_id}")(delete_note)
for _legacy in _LEGACY_NOTE_PATHS:
    router.patch(_legacy, include_in_schema=False)(patch_note)
    router.delete(_legacy, include_in_schema=False)(delete_note)


# contacts and accounts ----------------------------------------------------------------------


@router.post("/contacts", status_code=201)
async def create_contact(request: Request, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    store = _store(box)
    return contact_wire(store, store.create_contact(await json_object(request)))


@router.get("/contacts")
async def list_contacts(request: Request, box: Sandbox = Depends(guard)) -> list[dict[str, Any]]:
    store = _store(box)
    with box.state.lock:
        items = [contact_wire(store, c) for c in store.contacts.values()]
    return _page(request, items)


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: int, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    store = _store(box)
    return contact_wire(store, store.get_contact(contact_id))


@router.patch("/contacts/{contact_id}")
async def patch_contact(
    contact_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    store = _store(box)
    return contact_wire(store, store.patch_contact(contact_id, await json_object(request)))


@router.delete("/contacts/{contact_id}")
async def delete_contact(contact_id: int, box: Sandbox = Depends(guard)) -> Response:
    _store(box).delete_contact(contact_id)
    return Response(status_code=200)


@router.post("/accounts")
@router.post("/clients", include_in_schema=False)
async def create_account(request: Request, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    store = _store(box)
    return account_wire(store, store.create_account(await json_object(request)))


@router.get("/accounts")
@router.get("/clients", include_in_schema=False)
async def list_accounts(request: Request, box: Sandbox = Depends(guard)) -> list[dict[str, Any]]:
    store = _store(box)
    items = [account_wire(store, a) for a in store.accounts.values()]
    return _page(request, items)


@router.get("/accounts/{account_id}")
@router.get("/clients/{account_id}", include_in_schema=False)
async def get_account(account_id: int, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    store = _store(box)
    return account_wire(store, store.get_account(account_id))


@router.patch("/accounts/{account_id}")
@router.patch("/clients/{account_id}", include_in_schema=False)
async def patch_account(
    account_id: int, request: Request, box: Sandbox = Depends(guard)
) -> dict[str, Any]:
    store = _store(box)
    return account_wire(store, store.patch_account(account_id, await json_object(request)))


@router.delete("/accounts/{account_id}")
@router.delete("/clients/{account_id}", include_in_schema=False)
async def delete_account(account_id: int, box: Sandbox = Depends(guard)) -> Response:
    _store(box).delete_account(account_id)
    return Response(status_code=200)


# properties and workflows -------------------------------------------------------------------

# The keys of ``GET /properties``; ``client`` and ``request`` are the old names of ``account``
# and ``opportunity`` and answer the same data beside them. As ``record_type`` the document's
# enum (PropertiesGetParametersRecordType) lists only the five, but the parameter's own text
# says the two old names "are still accepted as input": the sandbox accepts them.
RECORD_TYPES = ("account", "opportunity", "project", "vendor", "ahj")
ALIASES = {"client": "account", "request": "opportunity"}
_ALIAS_OF = {v: k for k, v in ALIASES.items()}


@router.get("/properties")
async def list_properties(
    request: Request, box: Sandbox = Depends(guard)
) -> dict[str, list[dict[str, Any]]]:
    asked = [
        name.strip()
        for raw in request.query_params.getlist("record_type")
        for name in raw.split(",")
        if name.strip()
    ]
    for name in asked:
        if name not in RECORD_TYPES and name not in ALIASES:
            choices = ", ".join((*RECORD_TYPES, *ALIASES))
            raise CoperniqError(400, f"record_type must be one of {choices}", field="record_type")
    wanted = [ALIASES.get(n, n) for n in asked] or list(RECORD_TYPES)
    props = list(_store(box).properties.values())
    answer: dict[str, list[dict[str, Any]]] = {}
    for record_type in dict.fromkeys(wanted):
        # The sandbox keeps one property per key, and a project's custom values are checked
        # against the opportunity properties alike: the project key lists them too (as an
        # account that defined its properties on both would), so what it accepts is listed.
        items = [
            {**p.wire(), "recordType": record_type}
            for p in props
            if p.record_type == record_type
            or (record_type == "project" and p.record_type == "opportunity")
        ]
        answer[record_type] = items
        if record_type in _ALIAS_OF:
            answer[_ALIAS_OF[record_type]] = items
    return answer


@router.get("/workflows")
async def list_workflows(box: Sandbox = Depends(guard)) -> list[dict[str, Any]]:
    return [w.wire() for w in _store(box).workflows.values()]


@router.get("/workflows/{workflow_id}")
async def get_workflow(workflow_id: int, box: Sandbox = Depends(guard)) -> dict[str, Any]:
    workflow = _store(box).workflows.get(workflow_id)
    if workflow is None:
        raise CoperniqError(404, f"workflow {workflow_id} not found", "NOT_FOUND")
    return workflow.wire()
