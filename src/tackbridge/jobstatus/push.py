"""Recording a job-status change and pushing it to Thumbtack.

The change is written once: a ``lead_status_history`` row (source ``job_status``), the lead's
``job_status``, and the push job, in one transaction. The job carries the change's time, so
``partnerStatusChangedAt`` is the moment of the change on every retry, however late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from tackbridge.core.clock import utc
from tackbridge.jobstatus.rules import JobStatusChange
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, JobKind, Payload, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.thumbtack import call_with_refresh, grant_for
from tackbridge.services import Services
from tackbridge.store.schema import lead_status_history, leads
from tackbridge.thumbtack import ThumbtackClient
from tackbridge.thumbtack.grants import Grant, GrantSource
from tackbridge.thumbtack.models import JobStatus, JobStatusUpdate

__all__ = [
    "PUSH",
    "PUSH_KIND",
    "JobStatusHandler",
    "JobStatusJob",
    "LeadNotFoundError",
    "Recorded",
    "push_key",
    "record_change",
]


class JobStatusJob(Payload):
    """A change as it is pushed: the body of the call, with its lead and business."""

    leadID: str
    businessID: str | None = None
    status: str
    partnerStatusChangedAt: str  # RFC 3339, fixed at the change
    invoiceAmountInCents: int | None = None


def _key(job: JobStatusJob) -> str:
    # The same change recorded twice (a double click, a re-run CLI) is one push.
    cents = "" if job.invoiceAmountInCents is None else str(job.invoiceAmountInCents)
    return f"thumbtack.job_status:{job.leadID}:{job.status}:{job.partnerStatusChangedAt}:{cents}"


PUSH_KIND = JobKind.of("thumbtack.job_status", JobStatusJob, _key)


def _job(change: JobStatusChange, business_id: str | None) -> JobStatusJob:
    return JobStatusJob.model_validate(
        {"leadID": change.lead_id, "businessID": business_id, **change.wire()}
    )


def push_key(change: JobStatusChange) -> str:
    """The idempotency key of ``change``'s push."""
    return PUSH_KIND.key_of(_job(change, None))


class LeadNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Recorded:
    job_key: str
    created: bool  # False: the same change was recorded before


def record_change(conn: Connection, change: JobStatusChange, *, now: datetime) -> Recorded:
    lead = conn.execute(
        select(leads.c.lead_id, leads.c.business_id).where(leads.c.lead_id == change.lead_id)
    ).first()
    if lead is None:
        raise LeadNotFoundError(change.lead_id)
    job = _job(change, lead.business_id)
    key = PUSH_KIND.key_of(job)
    if not enqueue(conn, PUSH_KIND, job, now=now):
        return Recorded(key, created=False)
    conn.execute(
        lead_status_history.insert().values(
            lead_id=lead.lead_id,
            source="job_status",
            job_status=change.status,
            invoice_amount_cents=change.invoice_amount_cents,
            applied=True,
            occurred_at=change.changed_at,
            recorded_at=now,
        )
    )
    # Changes can be recorded out of order (a back-dated --at): the lead shows the latest one.
    later = conn.execute(
        select(lead_status_history.c.id)
        .where(
            lead_status_history.c.lead_id == lead.lead_id,
            lead_status_history.c.source == "job_status",
            lead_status_history.c.occurred_at > change.changed_at,
        )
        .limit(1)
    ).first()
    if later is None:
        conn.execute(
            update(leads)
            .where(leads.c.lead_id == lead.lead_id)
            .values(job_status=change.status, updated_at=now)
        )
    return Recorded(key, created=True)


class JobStatusHandler:
    """``POST /api/v4/negotiations/{id}/job-status``: a v4-only call."""

    def __init__(self, thumbtack: ThumbtackClient, grants: GrantSource | None) -> None:
        self.thumbtack = thumbtack
        self.grants = grants

    async def __call__(self, job: Job[JobStatusJob]) -> None:
        payload = job.payload
        lead_id = payload.leadID
        business_id = payload.businessID
        if not business_id:
            raise PermanentError(f"lead {lead_id} has no business: no token to send with")
        grants = self.grants
        if grants is None:
            raise PermanentError("job status needs a v4 connection; no token store is configured")
        update_ = JobStatusUpdate(
            status=JobStatus(payload.status),
            partnerStatusChangedAt=utc(datetime.fromisoformat(payload.partnerStatusChangedAt)),
            invoiceAmountInCents=payload.invoiceAmountInCents,
        )
        grant = await grant_for(grants, business_id)
        if grant.api != "v4":
            raise PermanentError(
                f"business {business_id} is connected through the legacy API, which has no "
                "job status; connect it through v4"
            )

        async def push(g: Grant) -> None:
            await self.thumbtack.v4.update_job_status(lead_id, update_, token=g.access_token)

        await call_with_refresh(grants, grant, push)


def _handler(services: Services) -> JobStatusHandler:
    return JobStatusHandler(services.thumbtack, services.grants)


PUSH = Registration(PUSH_KIND, _handler)
