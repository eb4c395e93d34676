"""``POST /api/leads/{leadID}/job-status``: record a job-status change and push it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from tackbridge.core.bounds import ID_PATTERN, MAX_CENTS
from tackbridge.core.problems import problem
from tackbridge.jobstatus.push import LeadNotFoundError, record_change
from tackbridge.jobstatus.rules import STATUSES, InvalidJobStatusError, validate
from tackbridge.services import require_operator, services

router = APIRouter(
    prefix="/api/leads", tags=["job status"], dependencies=[Depends(require_operator)]
)


class JobStatusIn(BaseModel):
    status: str = Field(max_length=32, description=f"One of {', '.join(STATUSES)}")
    invoiceAmountInCents: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_CENTS,
        description="Only with job_complete or invoice_paid",
    )
    changedAt: AwareDatetime | None = Field(
        default=None, description="When the change happened (default: now)"
    )


class JobStatusOut(BaseModel):
    leadID: str
    status: str
    partnerStatusChangedAt: datetime
    invoiceAmountInCents: int | None = None
    idempotencyKey: str
    duplicate: bool


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong operator token"},
    404: {"description": "No such lead"},
    422: {"description": "Unknown status, or an invoice amount with the wrong status"},
}


@router.post(
    "/{lead_id}/job-status",
    status_code=202,
    response_model=JobStatusOut,
    summary="Record a job status change; it is pushed to Thumbtack through the outbox",
    responses=_ERRORS,
)
async def job_status(
    request: Request,
    lead_id: Annotated[str, Path(max_length=64, pattern=ID_PATTERN)],
    body: JobStatusIn,
) -> JobStatusOut | Response:
    svc = services(request)
    now = datetime.now(UTC)
    try:
        change = validate(
            lead_id,
            body.status,
            invoice_amount_cents=body.invoiceAmountInCents,
            changed_at=body.changedAt,
            now=now,
        )
    except InvalidJobStatusError as exc:
        return problem(
            422,
            exc.detail,
            slug="invalid-job-status",
            errors=[{"field": exc.field, "detail": exc.detail}],
        )
    try:
        recorded = await svc.writer.run(lambda conn: record_change(conn, change, now=now))
    except LeadNotFoundError:
        raise HTTPException(404, f"no lead {lead_id!r}") from None
    svc.wake_worker()
    return JobStatusOut(
        leadID=lead_id,
        status=change.status,
        partnerStatusChangedAt=change.changed_at,
        invoiceAmountInCents=change.invoice_amount_cents,
        idempotencyKey=recorded.job_key,
        duplicate=not recorded.created,
    )
