"""A business choosing its destination: the checks and the write behind
``PUT /api/businesses/{id}/destination`` and the dashboard's Connections page alike."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from tackbridge.crm import store
from tackbridge.crm.destinations import destination_types
from tackbridge.services import Services
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["DestinationRefusedError", "choose_destination"]


class DestinationRefusedError(Exception):
    """The choice cannot be stored: ``status`` 422 (``field`` names what is missing) or 503."""

    def __init__(self, status: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field


async def choose_destination(svc: Services, business_id: str, body: BaseModel) -> BaseModel:
    """Store ``body`` (a validated ``DestinationIn``) as the business's choice; returns the
    answer ``GET /api/businesses/{id}/destination`` now gives."""
    types = destination_types(svc)
    chosen = types.choice(body)
    for name in types.missing(chosen, svc.settings):
        raise DestinationRefusedError(
            422,
            "invalid-destination",
            f"{name} is required for the {chosen.kind} destination",
            field=name,
        )
    try:
        box = svc.box() if chosen.carries_secret else None
    except MissingSecretKeyError as exc:
        raise DestinationRefusedError(503, "not-configured", str(exc)) from None
    now = datetime.now(UTC)
    await svc.writer.run(lambda conn: store.save_destination(conn, business_id, chosen, box, now))
    with svc.db.reader.connect() as conn:
        return store.describe_destination(conn, business_id, svc.settings, svc.box, types)
