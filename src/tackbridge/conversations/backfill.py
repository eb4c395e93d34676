"""Backfill: importing a business's existing leads from
``GET /api/v4/businesses/{id}/negotiations``.

Each lead is recorded exactly as a ``NegotiationCreatedV4`` webhook carrying it would be (same
parser, same recording code, logged in the inbound log under the route ``backfill``), so a
backfill and the webhooks are idempotent with each other: whichever comes second is a duplicate.
A 404 from the listing means the endpoint is not offered to this client (see
``NotAvailableError``): leads then arrive only through webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection

from tackbridge.inbound import parse
from tackbridge.inbound.reactions import QUEUE_ONLY, Reactions
from tackbridge.inbound.record import InboundRequest, Outcome, record_delivery
from tackbridge.leads.models import Delivery
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.thumbtack import call_with_refresh, classify, grant_for
from tackbridge.store.writer import Writer
from tackbridge.thumbtack import ThumbtackClient
from tackbridge.thumbtack.errors import NotAvailableError, ThumbtackError
from tackbridge.thumbtack.grants import Grant, GrantSource
from tackbridge.thumbtack.models import Negotiation

ROUTE = "backfill"


class BackfillNotAvailableError(Exception):
    """The negotiations listing answered 404: not offered to this client."""


@dataclass
class BackfillResult:
    seen: int = 0
    imported: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)


def envelope(negotiation: Negotiation, business_id: str) -> bytes:
    """The lead as the body of the webhook that would have carried it."""
    data = negotiation.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.setdefault("business", {"businessID": business_id})
    return orjson.dumps(
        {
            "event": {
                "eventType": "NegotiationCreatedV4",
                "description": "imported by tackbridge backfill",
                "triggeredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "data": data,
        }
    )


async def backfill(
    writer: Writer,
    thumbtack: ThumbtackClient,
    tokens: GrantSource,
    business_id: str,
    *,
    on_lead: Callable[[BackfillResult], None] | None = None,
    page_size: int | None = None,
    reactions: Reactions = QUEUE_ONLY,
) -> BackfillResult:
    """``reactions``: what each new lead sets in motion (the runtime's, ``flows.REACTIONS``)."""
    result = BackfillResult()
    grant = await grant_for(tokens, business_id)
    if grant.api != "v4":
        raise PermanentError(f"business {business_id} has no v4 connection: nothing to list")

    async def first_page(g: Grant) -> None:
        # Only the first call is retried after a refresh; the iterator below keeps the token.
        nonlocal grant
        grant = g
        await thumbtack.v4.list_negotiations(business_id, limit=page_size, token=g.access_token)

    try:
        await call_with_refresh(tokens, grant, first_page)
    except PermanentError as exc:
        if exc.status_code == 404:
            raise BackfillNotAvailableError(exc.detail) from None
        raise

    async def current_token() -> str:
        # Resolved per page: a token refreshed by anyone mid-way is picked up.
        return (await tokens.access_token(business_id)).access_token

    try:
        async for negotiation in thumbtack.v4.iter_negotiations(
            business_id, limit=page_size, token=current_token
        ):
            result.seen += 1
            body = envelope(negotiation, business_id)
            request = InboundRequest(ROUTE, "GET", {}, body, len(body), datetime.now(UTC))
            try:
                delivery = parse.parse_v4(orjson.loads(body))
                outcome = await writer.run(_recorder(request, delivery, reactions))
            except Exception:
                result.failed.append(negotiation.negotiationID)
            else:
                if outcome.outcome == "duplicate":
                    result.duplicates += 1
                else:
                    result.imported += 1
            if on_lead is not None:
                on_lead(result)
    except NotAvailableError as exc:
        raise BackfillNotAvailableError(exc.message) from None
    except ThumbtackError as exc:
        raise classify(exc) from None
    return result


def _recorder(
    request: InboundRequest, delivery: Delivery, reactions: Reactions
) -> Callable[[Connection], Outcome]:
    def unit(conn: Connection) -> Outcome:
        return record_delivery(conn, request, delivery, reactions)

    return unit
