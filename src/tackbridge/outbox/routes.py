"""``/api/jobs``: the outbox for operators. ``/api/deliveries``, its earlier name, answers the
same (deprecated in the OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.routing import APIRoute

from tackbridge.core.bounds import ID_PATTERN
from tackbridge.outbox.kinds import Registry
from tackbridge.outbox.service import (
    JobDetail,
    JobPage,
    RetryRefusedError,
    get_job,
    list_jobs,
    retry_job,
)
from tackbridge.services import require_operator, services


def registry_of(request: Request) -> Registry:
    """The process's registry of job kinds, as the application holds it."""
    found: Registry = request.app.state.registry
    return found


router = APIRouter(prefix="/api/jobs", tags=["jobs"], dependencies=[Depends(require_operator)])

State = Literal["pending", "running", "done", "dead"]
# Job IDs are 64-bit row IDs: a larger number is a 422, never a database overflow.
JobID = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=JobPage, summary="Outbox jobs, newest first")
def jobs_index(
    request: Request,
    state: State | None = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="From nextCursor")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    failing: Annotated[
        bool, Query(description="Only jobs whose last attempt failed (retrying or dead)")
    ] = False,
) -> JobPage:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        return list_jobs(conn, state=state, kind=kind, before=before, limit=limit, failing=failing)


@router.get("/{job_id}", response_model=JobDetail, summary="A job with every attempt")
def jobs_show(request: Request, job_id: JobID) -> JobDetail:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        job = get_job(conn, job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


@router.post(
    "/{job_id}/retry",
    response_model=JobDetail,
    summary="Retry a dead job now, or replay a done one",
    responses={404: {"description": "No such job"}, 409: {"description": "Running"}},
)
async def jobs_retry(request: Request, job_id: JobID) -> JobDetail:
    svc = services(request)
    now = datetime.now(UTC)
    try:
        kinds = registry_of(request).requeue_hooks()
        found = await svc.writer.run(lambda conn: retry_job(conn, job_id, now, kinds))
    except RetryRefusedError as exc:
        raise HTTPException(409, str(exc)) from None
    if not found:
        raise HTTPException(404, f"no job {job_id}")
    svc.wake_worker()
    with svc.db.reader.connect() as conn:
        job = get_job(conn, job_id)
    assert job is not None
    return job


def _deprecated_alias() -> APIRouter:
    """The same operations under ``/api/deliveries``, for clients of earlier versions."""
    alias = APIRouter(
        prefix="/api/deliveries", tags=["jobs"], dependencies=[Depends(require_operator)]
    )
    for route in router.routes:
        assert isinstance(route, APIRoute)
        alias.add_api_route(
            route.path.removeprefix(router.prefix),
            route.endpoint,
            methods=sorted(route.methods or ()),
            response_model=route.response_model,
            summary=route.summary,
            responses=route.responses,
            name=f"deliveries:{route.name}",
            deprecated=True,
        )
    return alias


deliveries = _deprecated_alias()
