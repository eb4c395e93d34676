"""v4 job status: the ``JobStatus`` values and the ``JobStatusUpdate`` body of
``POST /api/v4/negotiations/{id}/job-status``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, Field, field_serializer, model_validator

from ._base import _Request, format_rfc3339

__all__ = ["JobStatus", "JobStatusUpdate"]


class JobStatus(StrEnum):
    """The six job statuses of thumbtack-v4-leads.txt, and nothing else."""

    NOT_SCHEDULED = "not_scheduled"
    APPT_SCHEDULED = "appt_scheduled"
    JOB_COMPLETE = "job_complete"
    INVOICE_PAID = "invoice_paid"
    CUSTOMER_CANCEL = "customer_cancel"
    PRO_CANCEL = "pro_cancel"


_INVOICE_STATUSES = frozenset({JobStatus.JOB_COMPLETE, JobStatus.INVOICE_PAID})


class JobStatusUpdate(_Request):
    """Body of ``POST /api/v4/negotiations/{id}/job-status``.

    ``partnerStatusChangedAt`` is when the change happened on our side, not when we call:
    build this once when the change is recorded and resend the same value on every retry.
    """

    status: JobStatus
    partnerStatusChangedAt: AwareDatetime
    invoiceAmountInCents: int | None = Field(default=None, ge=0, strict=True)

    @model_validator(mode="after")
    def _invoice_only_when_invoiced(self) -> Self:
        if self.invoiceAmountInCents is not None and self.status not in _INVOICE_STATUSES:
            raise ValueError(
                "invoiceAmountInCents is only allowed with job_complete or invoice_paid"
            )
        return self

    @field_serializer("partnerStatusChangedAt")
    def _rfc3339(self, value: datetime) -> str:
        return format_rfc3339(value)
