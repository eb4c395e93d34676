"""A business choosing its destination: the checks and the write behind
``PUT /api/businesses/{id}/destination`` and the dashboard's Connections page alike."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from tackbridge.core.netguard import RefusedAddressError
from tackbridge.crm import store
from tackbridge.crm.destinations import Choice, DestinationRegistry, destination_types
from tackbridge.services import Services, destination_policy
from tackbridge.settings import Settings
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["DestinationRefusedError", "choose_destination"]


class DestinationRefusedError(Exception):
    """The choice cannot be stored: ``status`` 422 (``field`` names what is missing) or 503."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        field: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field
        self.reason = reason

    @property
    def errors(self) -> list[dict[str, str]] | None:
        """The problem's ``errors``: the field, and why its URL was refused."""
        if self.field is None:
            return None
        error = {"field": self.field}
        if self.reason is not None:
            error["detail"] = self.reason
        return [error]


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
    await _refuse_unsafe_urls(types, chosen, svc.settings)
    needed = types.needs_own_secret(chosen, svc.settings)
    if needed is not None and chosen.secret is None:
        with svc.db.reader.connect() as conn:
            kept = store.own_secret_kind(conn, business_id) == chosen.kind
        if not kept:
            raise DestinationRefusedError(
                422,
                "invalid-destination",
                f"{needed} is required: the account's key goes only to the account's base URL",
                field=needed,
            )
    try:
        box = svc.box() if chosen.carries_secret else None
    except MissingSecretKeyError as exc:
        raise DestinationRefusedError(503, "not-configured", str(exc)) from None
    now = datetime.now(UTC)
    await svc.writer.run(lambda conn: store.save_destination(conn, business_id, chosen, box, now))
    with svc.db.reader.connect() as conn:
        return store.describe_destination(conn, business_id, svc.settings, svc.box, types)


async def _refuse_unsafe_urls(
    types: DestinationRegistry, chosen: Choice, settings: Settings
) -> None:
    """Refuse a URL the business may not send to (``core.netguard``); never echoes it (a webhook
    URL often carries a token), only its field and why."""
    policy = destination_policy(settings)
    for name, url in types.urls(chosen):
        reason = policy.check_url(url)
        if reason is None:
            try:
                await policy.check_resolved(url)
            except RefusedAddressError as exc:
                reason = f"resolves to an address that is not public ({exc})"
        if reason is not None:
            raise DestinationRefusedError(
                422, "unsafe-destination", f"{name} {reason}", field=name, reason=reason
            )
