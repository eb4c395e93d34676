"""The operator's choice of destination per business (``/api/businesses/{id}/destination``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from tackbridge.core.problems import problem
from tackbridge.crm import store
from tackbridge.services import require_operator, services
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["operator"]

BusinessID = Annotated[str, Path(min_length=1, max_length=64)]


operator = APIRouter(
    prefix="/api/businesses", tags=["businesses"], dependencies=[Depends(require_operator)]
)


@operator.get(
    "/{business_id}/destination",
    response_model=store.DestinationOut,
    summary="Where this business's leads go (secrets are never shown)",
)
def get_destination(request: Request, business_id: BusinessID) -> store.DestinationOut:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        return store.describe_destination(conn, business_id, svc.settings, svc.box)


@operator.put(
    "/{business_id}/destination",
    response_model=store.DestinationOut,
    summary="Choose where this business's leads go: coperniq, webhook or none",
)
async def put_destination(
    request: Request, business_id: BusinessID, choice: store.DestinationIn
) -> store.DestinationOut | Response:
    svc = services(request)
    if choice.kind == "webhook" and not (choice.webhookUrl or svc.settings.webhook_destination_url):
        return problem(
            422,
            "webhookUrl is required for the webhook destination",
            slug="invalid-destination",
            errors=[{"field": "webhookUrl"}],
        )
    secret = choice.coperniqApiKey or choice.webhookSecret
    try:
        box = svc.box() if secret is not None else None
    except MissingSecretKeyError as exc:
        return problem(503, str(exc), slug="not-configured")
    now = datetime.now(UTC)
    await svc.writer.run(lambda conn: store.save_destination(conn, business_id, choice, box, now))
    with svc.db.reader.connect() as conn:
        return store.describe_destination(conn, business_id, svc.settings, svc.box)
