"""HTTP for the CRM side: ``POST /coperniq/webhooks/{secret}`` (Coperniq's automations call it)
and the operator's choice of destination per business (``/api/businesses/{id}/destination``).

Coperniq signs nothing, so the secret in the URL is the only proof; it is compared in constant
time and never written anywhere: the inbound log keeps the route as a template. Every delivery,
refused or not, is kept verbatim; an event is stored once (Coperniq retries on non-2xx) and its
job status is worked out by an outbox job, so the answer never waits on Coperniq or Thumbtack.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from tackbridge.connections.crypto import MissingSecretKeyError, load_box
from tackbridge.crm import store
from tackbridge.crm.events import CoperniqEventError, parse_webhook
from tackbridge.crm.jobs import EVENT_KIND
from tackbridge.delivery.outbox import enqueue
from tackbridge.inbound.normalize import timestamp
from tackbridge.inbound.record import InboundRequest, log_request
from tackbridge.inbound.routes import decode_json, is_json, read_body, safe_headers
from tackbridge.operator_auth import require_operator
from tackbridge.problems import problem
from tackbridge.runtime import Runtime

log = logging.getLogger("tackbridge.crm")

ROUTE = "/coperniq/webhooks/{secret}"

router = APIRouter()
BusinessID = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    ROUTE,
    tags=["partner endpoints"],
    summary="Coperniq automation webhook (DEAL_STATUS_MOVEMENT, REQUEST_PHASE_*, APPOINTMENT_*)",
    responses={
        200: {"description": "stored (or already stored)"},
        400: {"description": "malformed JSON"},
        404: {"description": "unknown webhook secret"},
        413: {"description": "body too large"},
        415: {"description": "not JSON"},
        422: {"description": "not a Coperniq automation event"},
    },
)
async def coperniq_webhook(request: Request, secret: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    received_at = datetime.now(UTC)
    headers = safe_headers(request, None)

    async def refuse(
        status: int, slug: str, detail: str, body: bytes | None, size: int, **extra: Any
    ) -> Response:
        entry = InboundRequest(ROUTE, "POST", headers, body, size, received_at)
        body_problem: dict[str, Any] = {"detail": detail, **extra}
        outcome = "unauthorized" if status == 404 else "rejected"
        await runtime.writer.run(
            lambda conn: log_request(
                conn, entry, status_code=status, outcome=outcome, problem=body_problem
            )
        )
        log.info("refused Coperniq webhook: %s", detail)
        errors = [extra] if extra else None
        return problem(status, detail, slug=slug, errors=errors)

    expected = settings.coperniq_webhook_secret
    if expected is None or not hmac.compare_digest(
        secret.encode(), expected.get_secret_value().encode()
    ):
        return await refuse(404, "not-found", "no webhook here", None, 0)
    body, size, cut = await read_body(request, settings.max_body_bytes)
    if not is_json(request.headers.get("content-type")):
        return await refuse(415, "unsupported-media-type", "the body must be JSON", body, size)
    if cut:
        limit = settings.max_body_bytes
        return await refuse(413, "body-too-large", f"the body exceeds {limit} bytes", body, size)
    try:
        payload = decode_json(body)
    except ValueError as exc:
        return await refuse(400, "malformed-json", f"the body is not valid JSON: {exc}", body, size)
    try:
        webhook = parse_webhook(payload)
    except CoperniqEventError as exc:
        return await refuse(422, "invalid-payload", exc.detail, body, size, field=exc.field)

    event = webhook.event
    entry = InboundRequest(ROUTE, "POST", headers, body, size, received_at)

    def unit(conn: Any) -> str:
        row_id = store.record_event(
            conn,
            event_id=event.eventId,
            trigger_key=event.triggerKey,
            record_id=str(event.recordId),
            fired_at=timestamp(event.firedAt),
            payload=payload,
            outcome="queued",
            now=received_at,
        )
        outcome = "accepted" if row_id is not None else "duplicate"
        if row_id is not None:
            enqueue(
                conn,
                kind=EVENT_KIND,
                key=f"{EVENT_KIND}:{event.eventId}",
                payload={"eventRowID": row_id, "eventID": event.eventId},
                now=received_at,
            )
        log_request(
            conn,
            entry,
            status_code=200,
            outcome=outcome,
            event_type=event.triggerKey,
            record_kind="crm_event",
            record_id=event.eventId,
        )
        return outcome

    outcome = await runtime.writer.run(unit)
    runtime.wake_worker()
    return Response(
        orjson.dumps({"status": outcome, "eventID": event.eventId}),
        media_type="application/json",
    )


operator = APIRouter(
    prefix="/api/businesses", tags=["businesses"], dependencies=[Depends(require_operator)]
)


@operator.get(
    "/{business_id}/destination",
    response_model=store.DestinationOut,
    summary="Where this business's leads go (secrets are never shown)",
)
def get_destination(request: Request, business_id: BusinessID) -> store.DestinationOut:
    runtime: Runtime = request.app.state.runtime
    with runtime.db.reader.connect() as conn:
        return store.describe_destination(
            conn, business_id, runtime.settings, lambda: load_box(runtime.settings)
        )


@operator.put(
    "/{business_id}/destination",
    response_model=store.DestinationOut,
    summary="Choose where this business's leads go: coperniq, webhook or none",
)
async def put_destination(
    request: Request, business_id: BusinessID, choice: store.DestinationIn
) -> store.DestinationOut | Response:
    runtime: Runtime = request.app.state.runtime
    if choice.kind == "webhook" and not (
        choice.webhookUrl or runtime.settings.webhook_destination_url
    ):
        return problem(
            422,
            "webhookUrl is required for the webhook destination",
            slug="invalid-destination",
            errors=[{"field": "webhookUrl"}],
        )
    secret = choice.coperniqApiKey or choice.webhookSecret
    try:
        box = load_box(runtime.settings) if secret is not None else None
    except MissingSecretKeyError as exc:
        return problem(503, str(exc), slug="not-configured")
    now = datetime.now(UTC)
    await runtime.writer.run(
        lambda conn: store.save_destination(conn, business_id, choice, box, now)
    )
    with runtime.db.reader.connect() as conn:
        return store.describe_destination(
            conn, business_id, runtime.settings, lambda: load_box(runtime.settings)
        )
