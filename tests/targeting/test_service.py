"""Targeting changes go out through the outbox as legacy v3 calls, against the real sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

from tackbridge.targeting.service import queue_targeting
from tests.support.outbound import SandboxTokens, worker_side
from tests.support.sandbox import Sandbox
from tests.support.tackbridge import RunningServer


async def test_service_targeting_off_then_an_unknown_category_dead_letters(
    server: RunningServer, fresh: Sandbox
) -> None:
    business = fresh.business_ids()[0]
    tokens = SandboxTokens.connect(fresh, business, "legacy")
    async with worker_side(server.settings, fresh, tokens) as side:
        for category, enabled in ((None, False), ("no-such-category", True)):
            await side.writer.run(
                lambda conn, c=category, e=enabled: queue_targeting(
                    conn,
                    business_id=business,
                    service_id=business,  # the sandbox's service IDs are its business IDs
                    category_id=c,
                    enabled=e,
                    now=datetime.now(UTC),
                )
            )
        await side.drain()
        jobs = server.operator.get("/api/jobs", params={"kind": "thumbtack.targeting"})
    states = {j["payload"]["categoryID"]: j["state"] for j in jobs.json()["items"]}
    assert states == {None: "done", "no-such-category": "dead"}
    changes = [(t["businessID"], t["categoryID"], t["enabled"]) for t in fresh.inspect("targeting")]
    assert changes == [(business, None, False)]
    assert fresh.inspect("businesses")[0]["serviceTargeting"] is False


async def test_a_v4_connection_cannot_change_targeting(
    server: RunningServer, sandbox: Sandbox
) -> None:
    business = sandbox.business_ids()[1]
    tokens = SandboxTokens.connect(sandbox, business, "v4")
    async with worker_side(server.settings, sandbox, tokens) as side:
        await side.writer.run(
            lambda conn: queue_targeting(
                conn,
                business_id=business,
                service_id=business,
                category_id=None,
                enabled=True,
                now=datetime.now(UTC),
            )
        )
        await side.drain()
        job = side.job("thumbtack.targeting:")
    assert job.state == "dead"
    assert "legacy" in (job.lastError or {})["detail"]
