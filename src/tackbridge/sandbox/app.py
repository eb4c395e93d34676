"""Builds the sandbox ASGI app: one port serving the legacy Pro API at the root, v4 under
``/api/v4``, the v4 OAuth server at ``/oauth2``, Coperniq under ``/coperniq/v1`` and the sandbox's
own inspection and control under ``/_sandbox``. The dispatcher and the scenario engine run as
tasks of the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from tackbridge.sandbox import control, inspect_api, legacy, oauth, page, v4
from tackbridge.sandbox.config import SandboxConfig
from tackbridge.sandbox.context import Sandbox
from tackbridge.sandbox.coperniq import routes as coperniq
from tackbridge.sandbox.dispatcher import Dispatcher
from tackbridge.sandbox.errors import install_error_handlers
from tackbridge.sandbox.faults import ApiMiddleware
from tackbridge.sandbox.scenario import ScenarioEngine
from tackbridge.sandbox.state import SandboxState


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A fresh sandbox with its own state; ``config`` defaults to development values."""
    state = SandboxState(config or SandboxConfig())
    dispatcher = Dispatcher(state)
    scenario = ScenarioEngine(state, dispatcher)
    box = Sandbox(state, dispatcher, scenario)
    state.coperniq.listeners.append(dispatcher.coperniq_event)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        if state.config.scenario_autostart and state.config.lead_rate > 0:
            scenario.start()
        try:
            yield
        finally:
            await scenario.close()
            await dispatcher.stop()

    app = FastAPI(
        title="tackbridge sandbox",
        summary="A local stand-in for Thumbtack (legacy Pro API, v4 API, OAuth) and Coperniq.",
        version="1",
        lifespan=lifespan,
    )
    app.state.sandbox = box
    app.state.coperniq_limiter = coperniq.RateLimiter()
    install_error_handlers(app)
    app.add_middleware(ApiMiddleware, state=state)
    for module in (legacy, oauth, v4, coperniq, inspect_api, control, page):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/_sandbox/")

    return app
