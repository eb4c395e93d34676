"""Liveness and readiness probes."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse

from tackbridge.outbox import readiness
from tackbridge.runtime import Runtime
from tackbridge.store import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and takes writes, its schema is current, and the "
    "outbox can make progress",
    responses={503: {"description": "Not ready: `reasons` names each problem"}},
)
def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    svc = runtime.services
    try:
        with svc.db.reader.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revision(svc.db.reader)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    head = migrate.head_revision()
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "migrations": {"current": current, "head": head}},
            status_code=503,
        )
    worker = runtime.worker
    settings = runtime.settings
    reasons = readiness.outbox_reasons(
        svc.db,
        kinds=_handler_kinds(runtime),
        worker=None if worker is None else worker.health(),
        now=datetime.now(UTC),
        stall_seconds=readiness.stall_after(
            settings.worker_stall_seconds, settings.worker_poll_seconds
        ),
    )
    migrations = {"current": current, "head": head}
    if reasons:
        return JSONResponse(
            {
                "status": "unavailable",
                "reasons": [r.as_json() for r in reasons],
                "migrations": migrations,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "migrations": migrations})


def _handler_kinds(runtime: Runtime) -> frozenset[str]:
    """The kinds this deployment's workers handle: the running worker's, or in a process
    without one, those of the registry ``tackbridge worker`` runs."""
    if runtime.worker is not None:
        return frozenset(runtime.worker.handlers)
    return runtime.registry.names
