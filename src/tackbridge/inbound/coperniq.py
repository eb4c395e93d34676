"""``POST /coperniq/webhooks/{secret}``: what Coperniq's automations call.

Coperniq signs nothing, so the secret in the URL is the only proof; it is compared in constant
time and never written anywhere: the inbound log keeps the route as a template. Every delivery,
refused or not, is kept verbatim; an event is stored once (Coperniq retries on non-2xx) and the
job status it means is worked out by an outbox job (``kinds.COPERNIQ_EVENT``), so the answer
never waits on Coperniq or Thumbtack.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tackbridge.core.metrics import DELIVERIES, REFUSALS
from tackbridge.core.problems import problem
from tackbridge.core.throttle import retry_after
from tackbridge.inbound.http import decode_json, is_json, read_body, safe_headers
from tackbridge.inbound.kinds import COPERNIQ_EVENT, CoperniqEventRef
from tackbridge.inbound.normalize import timestamp
from tackbridge.inbound.record import InboundRequest, log_request, record_crm_event
from tackbridge.outbox.queue import enqueue
from tackbridge.payloads.coperniq import CoperniqEventError, parse_webhook
from tackbridge.services import client_address, services

__all__ = ["ROUTE", "router"]

log = logging.getLogger("tackbridge.inbound")

ROUTE = "/coperniq/webhooks/{secret}"

router = APIRouter()


@router.post(
    ROUTE,
    tags=["partner endpoints"],
    summary="Coperniq automation webhook (DEAL_STATUS_MOVEMENT, REQUEST_PHASE_*, APPOINTMENT_*)",
    responses={
        200: {"description": "stored (or already stored)"},
        400: {"description": "malformed JSON"},
        404: {"description": "unknown webhook secret"},
        429: {"description": "too many unknown webhook secrets: retry after Retry-After"},
        413: {"description": "body too large"},
        415: {"description": "not JSON"},
        422: {"description": "not a Coperniq automation event"},
    },
)
async def coperniq_webhook(request: Request, secret: str) -> Response:
    svc = services(request)
    settings = svc.settings
    received_at = datetime.now(UTC)
    headers = safe_headers(request, settings.redacted_names)

    async def refuse(
        status: int, slug: str, detail: str, body: bytes | None, size: int, **extra: Any
    ) -> Response:
        entry = InboundRequest(ROUTE, "POST", headers, body, size, received_at)
        body_problem: dict[str, Any] = {"detail": detail, **extra}
        outcome = "unauthorized" if status == 404 else "rejected"
        DELIVERIES.labels(ROUTE, outcome).inc()
        REFUSALS.labels("coperniq", slug).inc()
        await svc.writer.run(
            lambda conn: log_request(
                conn, entry, status_code=status, outcome=outcome, problem=body_problem
            )
        )
        log.info("refused Coperniq webhook: %s", detail)
        errors = [extra] if extra else None
        return problem(status, detail, slug=slug, errors=errors)

    # The path's secret is a credential: guesses are slowed per client (core/throttle).
    throttle = svc.throttle("coperniq")
    client = client_address(request)
    wait = throttle.check(client, "coperniq")
    if wait:
        DELIVERIES.labels(ROUTE, "throttled").inc()
        REFUSALS.labels("coperniq", "too-many-failures").inc()
        return problem(
            429,
            f"too many wrong webhook paths; retry after {retry_after(wait)} s",
            slug="too-many-failures",
            headers={"Retry-After": retry_after(wait)},
        )
    expected = settings.coperniq_webhook_secret
    if expected is None or not hmac.compare_digest(
        secret.encode(), expected.get_secret_value().encode()
    ):
        throttle.failure(client, "coperniq")
        return await refuse(404, "not-found", "no webhook here", None, 0)
    throttle.success(client, "coperniq")
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
        row_id = record_crm_event(
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
            ref = CoperniqEventRef(eventRowID=row_id, eventID=event.eventId)
            enqueue(conn, COPERNIQ_EVENT, ref, now=received_at)
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

    outcome = await svc.writer.run(unit)
    DELIVERIES.labels(ROUTE, outcome).inc()
    svc.wake_worker()
    return Response(
        orjson.dumps({"status": outcome, "eventID": event.eventId}),
        media_type="application/json",
    )
