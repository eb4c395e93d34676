"""The operator's choice of destination per business (``/api/businesses/{id}/destination``).
The request and answer models are the product registry's (``DESTINATION_TYPES``): each type
brings its fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from starlette.responses import Response

from tackbridge.core.bounds import ID_PATTERN
from tackbridge.core.netguard import RefusedAddressError
from tackbridge.core.problems import problem
from tackbridge.crm import store
from tackbridge.crm.destinations import (
    DESTINATION_TYPES,
    Choice,
    DestinationRegistry,
    destination_types,
)
from tackbridge.services import destination_policy, require_operator, services
from tackbridge.settings import Settings
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["DestinationIn", "DestinationOut", "operator"]

BusinessID = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]

DestinationIn = DESTINATION_TYPES.request_model
DestinationOut = DESTINATION_TYPES.answer_model


operator = APIRouter(
    prefix="/api/businesses", tags=["businesses"], dependencies=[Depends(require_operator)]
)


@operator.get(
    "/{business_id}/destination",
    response_model=DestinationOut,
    summary="Where this business's leads go (secrets are never shown)",
)
def get_destination(request: Request, business_id: BusinessID) -> BaseModel:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        return store.describe_destination(
            conn, business_id, svc.settings, svc.box, destination_types(svc)
        )


@operator.put(
    "/{business_id}/destination",
    response_model=DestinationOut,
    summary="Choose where this business's leads go: coperniq, webhook or none",
)
async def put_destination(
    request: Request,
    business_id: BusinessID,
    # A model the registry builds: FastAPI reads it, mypy cannot (it sees a BaseModel).
    choice: DestinationIn,  # type: ignore[valid-type]
) -> BaseModel | Response:
    svc = services(request)
    types = destination_types(svc)
    chosen = types.choice(choice)
    for name in types.missing(chosen, svc.settings):
        return problem(
            422,
            f"{name} is required for the {chosen.kind} destination",
            slug="invalid-destination",
            errors=[{"field": name}],
        )
    refused = await _unsafe_url(types, chosen, svc.settings)
    if refused is not None:
        return refused
    needed = types.needs_own_secret(chosen, svc.settings)
    if needed is not None and chosen.secret is None:
        with svc.db.reader.connect() as conn:
            kept = store.own_secret_kind(conn, business_id) == chosen.kind
        if not kept:
            return problem(
                422,
                f"{needed} is required: the account's key goes only to the account's base URL",
                slug="invalid-destination",
                errors=[{"field": needed}],
            )
    try:
        box = svc.box() if chosen.carries_secret else None
    except MissingSecretKeyError as exc:
        return problem(503, str(exc), slug="not-configured")
    now = datetime.now(UTC)
    await svc.writer.run(lambda conn: store.save_destination(conn, business_id, chosen, box, now))
    with svc.db.reader.connect() as conn:
        return store.describe_destination(conn, business_id, svc.settings, svc.box, types)


async def _unsafe_url(
    types: DestinationRegistry, chosen: Choice, settings: Settings
) -> Response | None:
    """A 422 for a URL the business may not send to (``core.netguard``); never echoes it (a
    webhook URL often carries a token), only its field and host."""
    policy = destination_policy(settings)
    for name, url in types.urls(chosen):
        reason = policy.check_url(url)
        if reason is None:
            try:
                await policy.check_resolved(url)
            except RefusedAddressError as exc:
                reason = f"resolves to an address that is not public ({exc})"
        if reason is not None:
            return problem(
                422,
                f"{name} {reason}",
                slug="unsafe-destination",
                errors=[{"field": name, "detail": reason}],
            )
    return None
