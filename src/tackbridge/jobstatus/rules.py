"""Pure validation of a job-status change: the six statuses of thumbtack-v4-leads.txt, and an
invoice amount only with ``job_complete`` or ``invoice_paid``.

``partnerStatusChangedAt`` is when the change happened, fixed once here; the push job carries
it verbatim so every retry (and a replay) tells Thumbtack the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tackbridge.core.bounds import EARLIEST, MAX_CENTS
from tackbridge.thumbtack.models import JobStatus, format_rfc3339

STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
INVOICE_STATUSES = frozenset({JobStatus.JOB_COMPLETE.value, JobStatus.INVOICE_PAID.value})
#: How far ahead of our clock a change may be dated (a sender's clock may run a little fast; a
#: change is something that happened, not a plan).
MAX_AHEAD = timedelta(days=1)


class InvalidJobStatusError(ValueError):
    """The change cannot be sent; ``field`` names the offending input."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class JobStatusChange:
    lead_id: str
    status: str
    changed_at: datetime  # aware, UTC
    invoice_amount_cents: int | None = None

    def wire(self) -> dict[str, Any]:
        """The body of ``POST /api/v4/negotiations/{id}/job-status``."""
        body: dict[str, Any] = {
            "status": self.status,
            "partnerStatusChangedAt": format_rfc3339(self.changed_at),
        }
        if self.invoice_amount_cents is not None:
            body["invoiceAmountInCents"] = self.invoice_amount_cents
        return body


def validate(
    lead_id: str,
    status: str,
    *,
    invoice_amount_cents: int | None = None,
    changed_at: datetime | None = None,
    now: datetime,
) -> JobStatusChange:
    """A checked change; raises InvalidJobStatusError naming the field at fault."""
    if status not in STATUSES:
        raise InvalidJobStatusError("status", f"status must be one of {', '.join(STATUSES)}")
    if invoice_amount_cents is not None:
        if isinstance(invoice_amount_cents, bool) or not isinstance(invoice_amount_cents, int):
            raise InvalidJobStatusError(
                "invoiceAmountInCents", "invoiceAmountInCents must be a whole number of cents"
            )
        if invoice_amount_cents < 0:
            raise InvalidJobStatusError(
                "invoiceAmountInCents", "invoiceAmountInCents must not be negative"
            )
        if invoice_amount_cents > MAX_CENTS:
            raise InvalidJobStatusError(
                "invoiceAmountInCents", f"invoiceAmountInCents must be at most {MAX_CENTS}"
            )
        if status not in INVOICE_STATUSES:
            raise InvalidJobStatusError(
                "invoiceAmountInCents",
                "invoiceAmountInCents is only allowed with job_complete or invoice_paid",
            )
    when = now if changed_at is None else changed_at
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidJobStatusError("changedAt", "changedAt must carry a time zone")
    try:
        utc = when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC instant
        utc = EARLIEST - MAX_AHEAD
    if not EARLIEST <= utc <= now + MAX_AHEAD:
        raise InvalidJobStatusError(
            "changedAt",
            f"changedAt must lie between {EARLIEST.year} and a day from now (it is when the "
            "change happened)",
        )
    return JobStatusChange(lead_id, status, utc, invoice_amount_cents)
