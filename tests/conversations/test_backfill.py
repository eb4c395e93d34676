"""Backfill against the real sandbox: leads are recorded by the webhook code, so a backfill and
the webhooks are duplicates of each other whichever comes first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tackbridge.conversations.backfill import BackfillNotAvailableError, backfill
from tackbridge.store.schema import inbound_log, leads
from tests.support.outbound import AccessGrant, SandboxTokens, worker_side
from tests.support.sandbox import Sandbox
from tests.support.servers import serve
from tests.support.tackbridge import RunningServer


def count(server: RunningServer, table: object, *where: object) -> int:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


async def test_backfill_then_webhook_is_a_duplicate(server: RunningServer, fresh: Sandbox) -> None:
    business = fresh.business_ids()[0]
    created = [fresh.new_lead(business) for _ in range(3)]
    tokens = SandboxTokens.connect(fresh, business, "v4")
    seen: list[int] = []
    async with worker_side(server.settings, fresh, tokens) as side:
        result = await backfill(
            side.writer,
            side.thumbtack,
            tokens,
            business,
            on_lead=lambda r: seen.append(r.seen),
        )
        assert (result.seen, result.imported, result.duplicates) == (3, 3, 0)
        assert seen == [1, 2, 3]
        again = await backfill(side.writer, side.thumbtack, tokens, business)
        assert (again.imported, again.duplicates) == (0, 3)

    stored = server.lead(created[0]["leadID"])
    assert stored["customer"]["customerID"] == created[0]["lead"]["customer"]["customerID"]
    # The webhook for a backfilled lead is a duplicate: nothing new, nothing enqueued twice.
    webhook = {
        "event": {"eventType": "NegotiationCreatedV4", "triggeredAt": "2026-11-01T12:00:00Z"},
        "data": created[1]["lead"],
    }
    assert server.partner.post("/v4/webhooks", json=webhook).status_code == 200
    assert count(server, leads) == 3
    assert count(server, inbound_log, inbound_log.c.outcome == "duplicate") == 4
    assert count(server, inbound_log, inbound_log.c.route == "backfill") == 6


async def test_webhook_then_backfill_skips_it(server: RunningServer, fresh: Sandbox) -> None:
    business = fresh.business_ids()[1]
    first = fresh.new_lead(business)
    webhook = {"event": {"eventType": "NegotiationCreatedV4"}, "data": first["lead"]}
    assert server.partner.post("/v4/webhooks", json=webhook).status_code == 200
    fresh.new_lead(business)
    tokens = SandboxTokens.connect(fresh, business, "v4")
    async with worker_side(server.settings, fresh, tokens) as side:
        result = await backfill(side.writer, side.thumbtack, tokens, business)
    assert (result.imported, result.duplicates) == (1, 1)


@pytest.fixture(scope="module")
def no_listing() -> Iterator[str]:
    """A Thumbtack that does not offer the negotiations listing to this client."""

    async def missing(request: Request) -> JSONResponse:
        body = {"type": "about:blank", "title": "Not Found", "status": 404, "errors": []}
        return JSONResponse(body, status_code=404, media_type="application/problem+json")

    app = Starlette(routes=[Route("/api/v4/businesses/{b}/negotiations", missing)])
    with serve(app) as url:
        yield url


async def test_404_means_not_available(server: RunningServer, no_listing: str) -> None:
    class Tokens:
        async def access_token(self, business_id: str) -> AccessGrant:
            return AccessGrant(business_id, "v4", "some-token")

        async def refreshed_after_401(self, business_id: str, rejected: str) -> AccessGrant:
            raise AssertionError("no 401 here")

    async with worker_side(server.settings, no_listing) as side:
        with pytest.raises(BackfillNotAvailableError):
            await backfill(side.writer, side.thumbtack, Tokens(), "123")
