"""The tackbridge web application: partner endpoints, operator API and probes in one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tackbridge import __version__, flows, health
from tackbridge.autoreply import routes as autoreply_routes
from tackbridge.connections import routes as connection_routes
from tackbridge.conversations import routes as conversation_routes
from tackbridge.core.problems import install_handlers, problem
from tackbridge.crm import routes as crm_routes
from tackbridge.inbound import coperniq as coperniq_webhook
from tackbridge.inbound import log_api
from tackbridge.inbound import routes as inbound_routes
from tackbridge.insights import routes as insight_routes
from tackbridge.jobstatus import routes as job_status_routes
from tackbridge.leads import routes as lead_routes
from tackbridge.outbox import routes as outbox_routes
from tackbridge.runtime import Runtime
from tackbridge.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("tackbridge.app")


class TackbridgeApp(FastAPI):
    """FastAPI with a lean path: the partner endpoints, Thumbtack's hot path, are served ahead
    of the framework's middleware stack and routing, which cost more per request than the
    endpoint's own work once the writer batches (see bench/RESULTS.md). Every other request,
    and a partner path under another method or behind a ``root_path``, takes the usual way."""

    partner: dict[tuple[str, str], Endpoint]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.partner.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self  # as Starlette sets it: services(request) reads the state
                await _serve(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _serve(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = await endpoint(Request(scope, receive))
    except Exception:
        # What the framework's ServerErrorMiddleware would do, as a problem.
        log.exception("%s %s failed", scope["method"], scope["path"])
        response = problem(500, "internal error")
    await response(scope, receive, send)


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
        try:
            yield
        finally:
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
    install_handlers(app)
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
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
