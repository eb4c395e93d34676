"""Recording a job-status change and pushing it to Thumbtack.

The change is written once: a ``lead_status_history`` row (source ``job_status``), the lead's
``job_status``, and the push job, in one transaction. The job carries the change's time, so
``partnerStatusChangedAt`` is the moment of the change on every retry, however late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from tackbridge.delivery.errors import PermanentError
from tackbridge.delivery.grants import Grant, grant_for, with_refresh
from tackbridge.delivery.outbound import Outbound
from tackbridge.delivery.outbox import enqueue
from tackbridge.delivery.worker import Job
from tackbridge.jobstatus.rules import PUSH_KIND, JobStatusChange
from tackbridge.leads.views import utc
from tackbridge.store.schema import lead_status_history, leads
from tackbridge.thumbtack.models import JobStatus, JobStatusUpdate

__all__ = ["PUSH_KIND", "JobStatusHandler", "LeadNotFoundError", "Recorded", "record_change"]


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
    key = change.idempotency_key()
    payload = {
        "leadID": lead.lead_id,
        "businessID": lead.business_id,
        **change.wire(),
    }
    if not enqueue(conn, kind=PUSH_KIND, key=key, payload=payload, now=now):
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

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    async def __call__(self, job: Job) -> None:
        payload = job.payload
        lead_id = str(payload["leadID"])
        business_id = payload.get("businessID")
        if not business_id:
            raise PermanentError(f"lead {lead_id} has no business: no token to send with")
        tokens = self.outbound.tokens
        if tokens is None:
            raise PermanentError("job status needs a v4 connection; no token store is configured")
        update_ = JobStatusUpdate(
            status=JobStatus(payload["status"]),
            partnerStatusChangedAt=utc(datetime.fromisoformat(payload["partnerStatusChangedAt"])),
            invoiceAmountInCents=payload.get("invoiceAmountInCents"),
        )
        grant = await grant_for(tokens, str(business_id))
        if grant.api != "v4":
            raise PermanentError(
                f"business {business_id} is connected through the legacy API, which has no "
                "job status; connect it through v4"
            )

        async def push(g: Grant) -> None:
            await self.outbound.thumbtack.v4.update_job_status(
                lead_id, update_, token=g.access_token
            )

        await with_refresh(tokens, grant, push)
