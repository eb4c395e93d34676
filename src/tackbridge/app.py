"""The tackbridge web application: partner endpoints, operator API and probes in one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tackbridge import __version__, flows, health
from tackbridge import openapi as openapi_document
from tackbridge.autoreply import routes as autoreply_routes
from tackbridge.connections import routes as connection_routes
from tackbridge.conversations import routes as conversation_routes
from tackbridge.core.limits import RequestLimits
from tackbridge.core.logs import TraceMiddleware
from tackbridge.core.problems import install_handlers, problem
from tackbridge.core.serving import uvicorn_options
from tackbridge.crm import routes as crm_routes
from tackbridge.dashboard import web as dashboard
from tackbridge.inbound import coperniq as coperniq_webhook
from tackbridge.inbound import log_api, refusals
from tackbridge.inbound import routes as inbound_routes
from tackbridge.insights import routes as insight_routes
from tackbridge.jobstatus import routes as job_status_routes
from tackbridge.leads import routes as lead_routes
from tackbridge.outbox import routes as outbox_routes
from tackbridge.runtime import Runtime
from tackbridge.settings import Settings
from tackbridge.store.locks import is_busy
from tackbridge.store.writer import StoreBusyError

Endpoint = Callable[[Request], Awaitable[Response]]


class TackbridgeApp(FastAPI):
    """FastAPI with a lean path for the partner endpoints (``partner``, see ``LeanPath``)."""

    partner: dict[tuple[str, str], Endpoint]


class LeanPath:
    """The partner endpoints, Thumbtack's hot path, served ahead of FastAPI's exception
    middleware and routing, which cost more per request than the endpoint's own work once the
    writer batches (see bench/RESULTS.md). It is the innermost of the app's middleware: the
    refusal gate, the body limit and deadline, the trace ID and the catch-all 500 problem
    apply to these requests as to any other. Every other request, and a partner path under
    another method or behind a ``root_path``, takes the framework's way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            owner = scope.get("app")  # set by Starlette before its middleware stack
            partner = getattr(owner, "partner", None) or {}
            endpoint = partner.get((scope["method"], scope["path"]))
            if endpoint is not None:
                await _serve(owner, endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _serve(
    owner: Any, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
) -> None:
    request = Request(scope, receive)
    try:
        response = await endpoint(request)
    except Exception as exc:
        # What the framework's exception middleware would do: the app's handler for it
        # (StoreBusyError: 503 with Retry-After...); anything else goes on to CatchAll (500).
        handler = _handler_for(owner, exc)
        if handler is None:
            raise
        response = await handler(request, exc)
    await response(scope, receive, send)


def _handler_for(owner: Any, exc: Exception) -> Callable[[Request, Exception], Any] | None:
    handlers: dict[Any, Any] = getattr(owner, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None  # the catch-all's: CatchAll answers it outside
        handler = handlers.get(cls)
        if handler is not None:
            return handler  # type: ignore[no-any-return]
    return None


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = (settings or Settings()).checked()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or Runtime.open(settings)
        rt.start()
        app.state.runtime = rt
        app.state.services = rt.services
        app.state.connections = rt.connections
        app.state.registry = rt.registry
        if settings.run_worker and own:
            rt.start_worker()
        # The counts of rate-limited refusals reach the inbound log every few seconds.
        flusher = asyncio.create_task(refusals.run_flusher(rt.services), name="refusal-counts")
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await rt.stop_worker()
            if own:
                await rt.aclose()
                rt.close()

    app = TackbridgeApp(
        title="tackbridge",
        version=__version__,
        description=(
            "Receives Thumbtack leads, messages, lead updates and reviews durably and exactly "
            "once, and exposes them to operators."
        ),
        lifespan=lifespan,
    )
    # Innermost of ours (added first): the partner endpoints behind all the middleware below.
    app.add_middleware(LeanPath)
    install_handlers(app)
    app.add_middleware(TraceMiddleware)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        body_seconds=settings.body_timeout_seconds,
    )
    # Outermost of ours: a flood of refused credentials is answered before anything else runs.
    app.add_middleware(refusals.RefusalGate, paths=inbound_routes.PARTNER_PATHS)
    app.add_exception_handler(StoreBusyError, _store_busy)
    app.add_exception_handler(OperationalError, _store_locked)
    app.partner = inbound_routes.endpoints(flows.reactions)
    app.include_router(inbound_routes.router(flows.reactions))
    app.include_router(coperniq_webhook.router)
    app.include_router(lead_routes.router)
    app.include_router(conversation_routes.router)
    app.include_router(job_status_routes.router)
    app.include_router(outbox_routes.router)
    app.include_router(outbox_routes.deliveries)
    app.include_router(log_api.router)
    app.include_router(connection_routes.router)
    app.include_router(crm_routes.operator)
    app.include_router(autoreply_routes.router)
    app.include_router(insight_routes.router)
    app.include_router(health.router)
    dashboard.install(app)
    if settings.bench_endpoints:

        @app.post("/_bench/ok", include_in_schema=False)
        async def bench_ok(request: Request) -> Response:
            await request.body()
            return Response(b'{"status":"ok"}', media_type="application/json")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            inbound_routes.add_schemas(app, schema)
            app.openapi_schema = openapi_document.complete(schema, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """What ``uvicorn.Config`` needs beside the app to serve it as it must be served: the
    header deadline and size (``core/serving.py``) and the keep-alive timeout."""
    return uvicorn_options(
        header_seconds=settings.header_timeout_seconds,
        max_header_bytes=settings.max_header_bytes,
        keep_alive_seconds=settings.keep_alive_seconds,
    )


async def _store_busy(_request: Request, exc: Exception) -> Response:
    """A write that waited ``TACKBRIDGE_STORE_WAIT_SECONDS`` for the store (another process
    holding its lock) and was dropped unwritten: the caller may simply try again."""
    retry_after = exc.retry_after if isinstance(exc, StoreBusyError) else 1
    return problem(
        503,
        "the store is busy (another writer holds it); nothing was written, try again",
        slug="store-busy",
        headers={"Retry-After": str(retry_after)},
    )


async def _store_locked(request: Request, exc: Exception) -> Response:
    """A read that met the store's lock for its whole busy timeout answers as a busy write."""
    if not is_busy(exc):
        raise exc
    return await _store_busy(request, exc)
