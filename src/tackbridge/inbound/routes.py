"""The partner endpoints Thumbtack calls. Their paths are a public contract.

Each request is authenticated, bounded, decoded and parsed before anything is written; then the
delivery, its domain rows and its outbox jobs are committed together by the group-commit writer,
and only then answered. Refusals are answered as problem+json and kept in the inbound log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from pydantic.json_schema import models_json_schema
from starlette.responses import Response
from starlette.routing import Route

from tackbridge.core.metrics import DELIVERIES, REFUSALS
from tackbridge.core.problems import problem, problem_body
from tackbridge.core.throttle import retry_after
from tackbridge.inbound import parse
from tackbridge.inbound.auth import CHALLENGE
from tackbridge.inbound.http import (
    IncompleteBodyError,
    decode_json,
    is_json,
    read_body,
    safe_headers,
)
from tackbridge.inbound.reactions import Reactions
from tackbridge.inbound.record import (
    FAILED,
    REJECTED,
    UNAUTHORIZED,
    InboundRequest,
    log_request,
    record_deliveries,
)
from tackbridge.inbound.refusals import ADMITTED, client_key, limited, partner_auth, refusals
from tackbridge.leads.models import Delivery, InvalidPayloadError
from tackbridge.payloads import thumbtack as wire
from tackbridge.services import Services, client_address, services
from tackbridge.store.writer import StoreBusyError, WriterClosedError

log = logging.getLogger("tackbridge.inbound")

Parser = Callable[[Any], Delivery]
#: The reactions of a process's front door (``tackbridge.flows.reactions``).
ReactionsOf = Callable[[Services], Reactions]


class _Refused(Exception):
    def __init__(self, status: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field


def _wrap(fn: Callable[[Any], Any]) -> Parser:
    return lambda body: Delivery(record=fn(body))


_PARSERS: dict[str, Parser] = {
    "/v1/lead": _wrap(parse.parse_legacy_lead),
    "/v1/message": _wrap(parse.parse_legacy_message),
    "/v1/lead/update": _wrap(parse.parse_legacy_lead_update),
    "/v1/review": _wrap(parse.parse_legacy_review),
    "/v4/webhooks": parse.parse_v4,
}


async def handle(request: Request, route: str, reactions_of: ReactionsOf) -> Response:
    svc = services(request)
    reactions = reactions_of(svc)
    auth = partner_auth(svc)
    received_at = datetime.now(UTC)

    def inbound(body: bytes | None, size: int, truncated: bool = False) -> InboundRequest:
        # Built only for what is kept: a rate-limited refusal never needs them.
        headers = safe_headers(request, auth.redacted_names)
        return InboundRequest(route, request.method, headers, body, size, received_at, truncated)

    throttle = svc.throttle("partner")
    client = client_address(request)
    account = auth.account(request.headers)
    wait = throttle.check(client, account or None)
    if wait:
        # Not checked, not stored: a locked client's guesses cost a dictionary look-up.
        _count(route, "throttled", "too-many-failures")
        return problem(
            429,
            f"too many wrong partner credentials; retry after {retry_after(wait)} s",
            slug="too-many-failures",
            headers={"Retry-After": retry_after(wait)},
        )
    refusal = auth.refusal(request.headers)
    counted = refusals(svc)
    if refusal is not None:
        log.warning("refused %s %s from %s: %s", request.method, route, client, refusal)
        # Wrong credentials count, none at all do not (a flood of those is another matter).
        if account is not None and throttle.failure(client, account or None):
            log.warning("slowing partner credentials from %s (account %r)", client, account)
        if not request.scope.get(ADMITTED):  # not spent by the gate (RefusalGate) already
            key = client_key(request.client.host if request.client else None)
            retry = counted.admit(key, route, request.method, 401, _declared(request))
            if retry is not None:
                return limited(retry)
        entry = counted.bounded(inbound(None, 0))
        _count(route, UNAUTHORIZED, "unauthorized")
        await _log_refusal(svc, entry, 401, UNAUTHORIZED, {"detail": refusal})
        return problem(
            401,
            "valid partner credentials are required",
            slug="unauthorized",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    throttle.success(client, account)

    limit = svc.settings.max_body_bytes
    body, size, cut = b"", 0, False
    try:
        try:
            body, size, cut = await read_body(request, limit)
        except IncompleteBodyError as short:
            body, size, cut = short.kept, short.size, True
            raise _Refused(short.status, short.slug, short.detail) from None
        if not is_json(request.headers.get("content-type")):
            raise _Refused(415, "unsupported-media-type", "the body must be application/json")
        if cut:
            raise _Refused(413, "body-too-large", f"the body exceeds {limit} bytes")
        try:
            decoded = decode_json(body)
        except ValueError as exc:
            raise _Refused(400, "malformed-json", f"the body is not valid JSON: {exc}") from None
        try:
            delivery = _PARSERS[route](decoded)
        except InvalidPayloadError as exc:
            raise _Refused(422, "invalid-payload", exc.detail, exc.field) from None
    except _Refused as refused:
        counted.count(route, refused.status)  # authenticated: kept, whatever the budget
        errors = [{"field": refused.field, "detail": refused.detail}] if refused.field else None
        body_problem = problem_body(
            refused.status, refused.detail, slug=refused.slug, errors=errors
        )
        log.info("rejected %s %s: %s", request.method, route, refused.detail)
        _count(route, REJECTED, refused.slug)
        inbound_id = await _log_refusal(
            svc, counted.bounded(inbound(body, size, cut)), refused.status, REJECTED, body_problem
        )
        return problem(
            refused.status,
            refused.detail,
            slug=refused.slug,
            errors=errors,
            inboundID=inbound_id,
            headers={"Connection": "close"} if refused.status in (408, 413) else None,
        )

    entry = inbound(body, size)
    try:
        # Batched with the other deliveries of its group commit (see record_deliveries).
        outcome = await svc.writer.run_many(record_deliveries, (entry, delivery, reactions))
    except WriterClosedError:
        _count(route, FAILED, "shutting-down")
        return problem(503, "shutting down; deliver again", headers={"Retry-After": "1"})
    except StoreBusyError as exc:
        # Nothing of it was written: answered 503 with Retry-After (app.py), the sender
        # delivers it again, and it is new then.
        log.warning("store busy: %s %s answered 503 (%s)", request.method, route, exc)
        raise
    except Exception:
        # Keep the delivery verbatim even when its records could not be written, so that
        # an operator can replay it; the sender is asked to deliver again all the same.
        log.exception("could not store %s %s", request.method, route)
        _count(route, FAILED, "store-failed")
        await _log_refusal(
            svc,
            entry,
            503,
            FAILED,
            problem_body(503, "recording the delivery failed", slug="store-failed"),
        )
        return problem(
            503, "could not store the delivery; deliver again", headers={"Retry-After": "5"}
        )
    DELIVERIES.labels(route, outcome.outcome).inc()
    if outcome.queued:
        svc.wake_worker()  # its follow-up jobs are due now (a lead that queued none: no claim)
    payload: dict[str, Any] = {"status": outcome.outcome, "inboundID": outcome.inbound_id}
    if outcome.record_kind:
        payload[outcome.record_kind + "ID"] = outcome.record_id
    return Response(
        orjson.dumps(payload), status_code=outcome.status_code, media_type="application/json"
    )


def _count(route: str, outcome: str, reason: str) -> None:
    DELIVERIES.labels(route, outcome).inc()
    REFUSALS.labels("partner", reason).inc()


async def _log_refusal(
    svc: Services,
    entry: InboundRequest,
    status: int,
    outcome: str,
    problem_detail: dict[str, Any],
) -> int | None:
    try:
        return await svc.writer.run(
            lambda conn: log_request(
                conn, entry, status_code=status, outcome=outcome, problem=problem_detail
            )
        )
    except StoreBusyError:
        log.warning("store busy: the refused %s delivery was not kept", entry.route)
        return None
    except Exception:
        # The refusal is answered even when it cannot be kept; the log line above remains.
        log.exception("could not keep the refused %s delivery", entry.route)
        return None


def _declared(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0


def _body_doc(model: type[Any], summary: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
        "responses": {
            "200": {"description": "Stored (or already stored: a duplicate)."},
            "202": {"description": "Stored; its lead has not arrived yet."},
            "400": {"description": "Malformed JSON, or a body cut short (problem+json)."},
            "401": {"description": "Missing or wrong credentials."},
            "429": {"description": "Too many wrong credentials: retry after Retry-After."},
            "408": {"description": "The body did not arrive in time."},
            "413": {"description": "Body larger than the limit."},
            "415": {"description": "Not JSON."},
            "422": {"description": "The record's identifier is missing (problem+json)."},
            "503": {"description": "The store is busy or failed; deliver again (Retry-After)."},
        },
        "summary": summary,
    }


#: The partner endpoints' paths (what ``RefusalGate`` guards).
PARTNER_PATHS = frozenset(_PARSERS)

PARTNER_MODELS: tuple[type[Any], ...] = (
    wire.LegacyLead,
    wire.LegacyMessage,
    wire.LegacyLeadUpdate,
    wire.LegacyReview,
    wire.V4Webhook,
)


_ROUTES = [
    ("/v1/lead", "POST", wire.LegacyLead, "Receive a lead (legacy v1/v2)"),
    ("/v1/message", "POST", wire.LegacyMessage, "Receive a customer message (legacy)"),
    ("/v1/lead/update", "PUT", wire.LegacyLeadUpdate, "Receive a lead price update (legacy)"),
    ("/v1/review", "POST", wire.LegacyReview, "Receive a review (legacy)"),
    ("/v4/webhooks", "POST", wire.V4Webhook, "Receive a v4 webhook event"),
]


def endpoints(reactions: ReactionsOf) -> dict[tuple[str, str], Callable[[Request], Any]]:
    """The partner endpoints by (method, path), for serving them ahead of the framework (the
    app's lean path); the same handlers as ``router``'s."""
    return {(method, path): _endpoint(path, reactions) for path, method, _, _ in _ROUTES}


def router(reactions: ReactionsOf) -> APIRouter:
    """The partner endpoints; ``reactions`` say, for the process's services, what a new record
    sets in motion."""
    api = APIRouter(tags=["partner endpoints"])
    routes = _ROUTES
    # Plain Starlette routes serve the partner endpoints: they take nothing but the request, and
    # FastAPI's per-request handling (dependencies, validation) costs ~50 us on the hot path.
    # They match first; the API routes after them only document the endpoints in OpenAPI.
    for path, method, _model, _summary in routes:
        api.routes.append(
            Route(
                path,
                _endpoint(path, reactions),
                methods=[method],
                name="serve:" + path,
                include_in_schema=False,
            )
        )
    for path, method, model, summary in routes:
        api.add_api_route(
            path,
            _endpoint(path, reactions),
            methods=[method],
            openapi_extra=_body_doc(model, summary),
            name=path,
            response_class=Response,
        )
    return api


def _endpoint(path: str, reactions: ReactionsOf) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return await handle(request, path, reactions)

    endpoint.__name__ = "partner_" + path.strip("/").replace("/", "_")
    return endpoint


def add_schemas(app: FastAPI, schema: dict[str, Any]) -> None:
    """Put the partner payload models into the OpenAPI components they are referenced from."""
    del app
    _, defs = models_json_schema(
        [(model, "validation") for model in PARTNER_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
