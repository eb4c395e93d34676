"""The operator's choice of destination per business (``/api/businesses/{id}/destination``).
The request and answer models are the product registry's (``DESTINATION_TYPES``): each type
brings its fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from starlette.responses import Response

from tackbridge.core.bounds import ID_PATTERN
from tackbridge.core.problems import problem
from tackbridge.crm import store
from tackbridge.crm.choice import DestinationRefusedError, choose_destination
from tackbridge.crm.destinations import DESTINATION_TYPES, destination_types
from tackbridge.services import require_operator, services

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
    try:
        return await choose_destination(svc, business_id, choice)
    except DestinationRefusedError as exc:
        return problem(exc.status, exc.detail, slug=exc.slug, errors=exc.errors)
