"""Turning a service's (or one category's) targeting on or off: a legacy v3 call, queued like
every outbound effect so it survives a restart and retries on 429/5xx."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection

from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, JobKind, Payload, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.thumbtack import call_with_refresh, grant_for
from tackbridge.services import Services
from tackbridge.thumbtack import ThumbtackClient
from tackbridge.thumbtack.grants import Grant, GrantSource

__all__ = ["TARGETING", "TARGETING_KIND", "TargetingHandler", "TargetingJob", "queue_targeting"]


class TargetingJob(Payload):
    businessID: str
    serviceID: str
    categoryID: str | None = None
    enabled: bool
    # Each request is its own effect (on, off, on again are three calls).
    requestID: str


def _key(job: TargetingJob) -> str:
    where = f"{job.businessID}:{job.serviceID}:{job.categoryID or '*'}"
    return f"thumbtack.targeting:{where}:{job.requestID}"


TARGETING_KIND = JobKind.of("thumbtack.targeting", TargetingJob, _key)


def queue_targeting(
    conn: Connection,
    *,
    business_id: str,
    service_id: str,
    category_id: str | None,
    enabled: bool,
    now: datetime,
) -> str:
    """Queue the change; returns the job's idempotency key."""
    job = TargetingJob(
        businessID=business_id,
        serviceID=service_id,
        categoryID=category_id,
        enabled=enabled,
        requestID=uuid.uuid4().hex,
    )
    enqueue(conn, TARGETING_KIND, job, now=now)
    return TARGETING_KIND.key_of(job)


class TargetingHandler:
    def __init__(self, thumbtack: ThumbtackClient, grants: GrantSource | None) -> None:
        self.thumbtack = thumbtack
        self.grants = grants

    async def __call__(self, job: Job[TargetingJob]) -> None:
        payload = job.payload
        grants = self.grants
        if grants is None:
            raise PermanentError("targeting needs a legacy connection; no token store configured")
        business_id = payload.businessID
        grant = await grant_for(grants, business_id)
        if grant.api != "legacy":
            raise PermanentError(
                f"business {business_id} is connected through v4; targeting is a legacy (v3) "
                "call that needs a legacy connection with the targeting scope"
            )
        legacy = self.thumbtack.legacy
        service, category, enabled = payload.serviceID, payload.categoryID, payload.enabled

        async def call(g: Grant) -> None:
            if category:
                await legacy.set_category_targeting(
                    service, category, enabled, token=g.access_token
                )
            else:
                await legacy.set_service_targeting(service, enabled, token=g.access_token)

        await call_with_refresh(grants, grant, call)


def _handler(services: Services) -> TargetingHandler:
    return TargetingHandler(services.thumbtack, services.grants)


TARGETING = Registration(TARGETING_KIND, _handler)
