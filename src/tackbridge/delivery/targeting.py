"""Turning a service's (or one category's) targeting on or off: a legacy v3 call, queued like
every outbound effect so it survives a restart and retries on 429/5xx."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection

from tackbridge.delivery.errors import PermanentError
from tackbridge.delivery.grants import Grant, grant_for, with_refresh
from tackbridge.delivery.outbound import Outbound
from tackbridge.delivery.outbox import enqueue
from tackbridge.delivery.worker import Job

TARGETING_KIND = "thumbtack.targeting"


def queue_targeting(
    conn: Connection,
    *,
    business_id: str,
    service_id: str,
    category_id: str | None,
    enabled: bool,
    now: datetime,
) -> str:
    """Queue the change; returns the job's idempotency key. Each request is its own effect
    (on, off, on again are three calls), so the key is unique per request."""
    key = f"{TARGETING_KIND}:{business_id}:{service_id}:{category_id or '*'}:{uuid.uuid4().hex}"
    enqueue(
        conn,
        kind=TARGETING_KIND,
        key=key,
        payload={
            "businessID": business_id,
            "serviceID": service_id,
            "categoryID": category_id,
            "enabled": enabled,
        },
        now=now,
    )
    return key


class TargetingHandler:
    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    async def __call__(self, job: Job) -> None:
        payload = job.payload
        tokens = self.outbound.tokens
        if tokens is None:
            raise PermanentError("targeting needs a legacy connection; no token store configured")
        business_id = str(payload["businessID"])
        grant = await grant_for(tokens, business_id)
        if grant.api != "legacy":
            raise PermanentError(
                f"business {business_id} is connected through v4; targeting is a legacy (v3) "
                "call that needs a legacy connection with the targeting scope"
            )
        legacy = self.outbound.thumbtack.legacy
        service, category = str(payload["serviceID"]), payload.get("categoryID")
        enabled = bool(payload["enabled"])

        async def call(g: Grant) -> None:
            if category:
                await legacy.set_category_targeting(
                    service, str(category), enabled, token=g.access_token
                )
            else:
                await legacy.set_service_targeting(service, enabled, token=g.access_token)

        await with_refresh(tokens, grant, call)
