"""Liveness and readiness probes, and the Prometheus metrics (``/metrics``, behind the operator
token): the process's counters (``tackbridge.core.metrics``), the outbox read from the store at
scrape time (``tackbridge.outbox.metrics``), and the interpreter's (process, GC)."""

from __future__ import annotations

from datetime import UTC, datetime

import prometheus_client
from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from tackbridge.core.metrics import REGISTRY
from tackbridge.outbox import readiness
from tackbridge.outbox.metrics import OutboxCollector
from tackbridge.runtime import Runtime
from tackbridge.services import require_operator
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


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format); needs the operator token",
    dependencies=[Depends(require_operator)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics"}},
)
def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    svc = runtime.services
    store = svc.shared("metrics.store", lambda: _store_registry(runtime))
    body = b"".join(
        generate_latest(registry) for registry in (REGISTRY, store, prometheus_client.REGISTRY)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _store_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutboxCollector(runtime.services.db))
    return registry
