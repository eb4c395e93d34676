"""The Deliveries page (``/deliveries``, owners and admins): outbox jobs whose last attempt
failed (retrying, or dead after their last attempt) with their error and a Retry button, and
the deliveries tackbridge refused or did not recognise, each with its body as received (secret
fields masked). The jobs are ``outbox.service``'s (a retry is ``retry_job``, exactly as
``POST /api/jobs/{id}/retry``), the deliveries the inbound log's (``inbound.log_api``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from tackbridge.core.clock import now
from tackbridge.dashboard.auth import SignedIn
from tackbridge.dashboard.staff import staff_form, staff_page
from tackbridge.dashboard.templating import redirect, render
from tackbridge.inbound.log_api import InboundDetail, get_entry, list_entries, redacted
from tackbridge.outbox.routes import registry_of
from tackbridge.outbox.service import JobView, RetryRefusedError, list_jobs, retry_job
from tackbridge.services import services

__all__ = ["REFUSED", "router"]

router = APIRouter(include_in_schema=False)
#: Inbound outcomes the page lists: refused (bad body, bad credentials) and not recognised.
REFUSED = ("rejected", "unauthorized", "ignored")
PAGE_SIZE = 100
# A body longer than this is cut on the page (the API shows it whole).
BODY_CHARS = 20_000
JobID = Annotated[int, Path(ge=1, le=2**63 - 1)]


@dataclass(frozen=True)
class FailedJob:
    job: JobView

    @property
    def lead_id(self) -> str | None:
        lead = self.job.payload.get("leadID")
        return lead if isinstance(lead, str) else None

    @property
    def business_id(self) -> str | None:
        business = self.job.payload.get("business_id") or self.job.payload.get("businessID")
        return business if isinstance(business, str) else None

    @property
    def error(self) -> str:
        error: dict[str, Any] = self.job.lastError or {}
        return str(error.get("detail") or "no detail recorded")

    @property
    def status_code(self) -> int | None:
        error: dict[str, Any] = self.job.lastError or {}
        code = error.get("statusCode", error.get("status"))
        return code if isinstance(code, int) else None


@dataclass(frozen=True)
class Refused:
    entry: InboundDetail
    extra: frozenset[str] = frozenset()  # TACKBRIDGE_REDACT_NAMES

    @property
    def body(self) -> str | None:
        shown = redacted(self.entry.body, self.extra)
        if shown is None:
            return None
        return shown if len(shown) <= BODY_CHARS else shown[:BODY_CHARS] + "\n[…cut]"

    @property
    def problem(self) -> str | None:
        problem = self.entry.problem or {}
        detail = problem.get("detail") or problem.get("title")
        return None if detail is None else str(detail)


Notice = Literal["retried", "running", "missing"]


@router.get("/deliveries")
def deliveries_page(
    request: Request,
    user: Annotated[SignedIn, Depends(staff_page)],
    state: Annotated[Literal["dead", "pending"] | None, Query()] = None,
    notice: Annotated[Notice | None, Query()] = None,
    job: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        jobs = list_jobs(conn, state=state, failing=True, limit=PAGE_SIZE)
        refused_page = list_entries(conn, outcomes=REFUSED, limit=PAGE_SIZE)
        refused = [
            Refused(found, svc.settings.redacted_names)
            for entry in refused_page.items
            if (found := get_entry(conn, entry.id)) is not None
        ]
    return render(
        request,
        "deliveries.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "deliveries",
            "jobs": [FailedJob(j) for j in jobs.items],
            "more_jobs": jobs.nextCursor is not None,
            "refused": refused,
            "more_refused": refused_page.nextCursor is not None,
            "state": state or "",
            "notice": notice,
            "notice_job": job,
        },
    )


@router.post("/deliveries/jobs/{job_id}/retry")
async def retry(
    request: Request, job_id: JobID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    svc = services(request)
    at = now()
    kinds = registry_of(request).requeue_hooks()
    try:
        found = await svc.writer.run(lambda conn: retry_job(conn, job_id, at, kinds))
    except RetryRefusedError:
        return redirect(f"/deliveries?notice=running&job={job_id}")
    if not found:
        return redirect(f"/deliveries?notice=missing&job={job_id}")
    svc.wake_worker()
    return redirect(f"/deliveries?notice=retried&job={job_id}")
