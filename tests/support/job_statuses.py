"""The job statuses of thumbtack-v4-leads.txt, spelled as they go over the wire and in the
documented order: the one table the tests pin them with (tackbridge's ``JobStatus`` and
``jobstatus.rules.STATUSES``, and what the sandbox accepts). Written out, not derived from the
product, so a change to the product's list shows as a failing test."""

from __future__ import annotations

JOB_STATUSES: tuple[str, ...] = (
    "not_scheduled",
    "appt_scheduled",
    "job_complete",
    "invoice_paid",
    "customer_cancel",
    "pro_cancel",
)
