"""A tackbridge on its own SQLite file, for tests: served in process (``in_process``: the app and
its lifespan run in an event loop of their own thread, as under uvicorn, but requests reach it
without a socket), or a real server on loopback (``running``) for tests that need one: another
process or the sandbox calling it, or what only a real HTTP server does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from tackbridge.app import create_app, server_options
from tackbridge.devstack import Ports
from tackbridge.settings import Settings
from tests.support import stores
from tests.support.servers import serve

WEBHOOK_AUTH = ("thumbtack", "test-webhook-password")
API_TOKEN = "test-api-token"


#: Settings under which a new lead has both follow-ups to queue: a default auto-reply rule set
#: and a signed-webhook destination (a new lead of a business with neither queues no job).
#: The URL is never called by tests that run no worker.
WITH_FOLLOWUPS: dict[str, Any] = {
    "autoreply_rules": '{"default": {"template": "Thanks, {{ customer_first_name }}!"}}',
    "webhook_destination_url": "http://127.0.0.1:9/crm",
    "webhook_destination_secret": "s" * 32,
}


def dev_clients(stack: ExitStack, ports: Ports) -> tuple[httpx2.Client, httpx2.Client]:
    """Clients of a tackbridge and its sandbox served on ``ports`` (as ``tackbridge dev`` does),
    closed with ``stack``: the operator's (with the API token) and the sandbox's."""
    operator = stack.enter_context(
        httpx2.Client(
            base_url=ports.tackbridge_url,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=10,
        )
    )
    sandbox = stack.enter_context(httpx2.Client(base_url=ports.sandbox_url, timeout=10))
    return operator, sandbox


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": "production",
        "data_dir": data_dir,
        "webhook_username": WEBHOOK_AUTH[0],
        "webhook_password": WEBHOOK_AUTH[1],
        "api_token": API_TOKEN,
        "sqlite_synchronous": "NORMAL",
        # Tests drive their own workers; the end-to-end ones turn the server's on.
        "run_worker": False,
    }
    values.update(overrides)
    if not values.get("database_url"):
        # The store of the running test (tests.support.stores): this folder's file on SQLite,
        # a database of its own on PostgreSQL.
        values["database_url"] = stores.url(Path(values["data_dir"]) / "tackbridge.db")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningServer:
    url: str  # served in process: a name only this server's clients reach
    settings: Settings
    partner: httpx2.Client  # authenticated as Thumbtack
    operator: httpx2.Client  # authenticated as an operator
    transport: httpx2.BaseTransport | None = None  # in process: how its clients reach it

    def client(self, **kwargs: Any) -> httpx2.Client:
        """Another client of this server (anonymous unless told otherwise)."""
        return httpx2.Client(base_url=self.url, transport=self.transport, **kwargs)

    def lead(self, lead_id: str) -> dict[str, Any]:
        response = self.operator.get(f"/api/leads/{lead_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def running(settings: Settings) -> Iterator[RunningServer]:
    with (
        serve(create_app(settings), **server_options(settings)) as url,
        httpx2.Client(base_url=url, auth=WEBHOOK_AUTH, timeout=30) as partner,
        httpx2.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
        ) as operator,
    ):
        yield RunningServer(url, settings, partner, operator)


class _InProcess(httpx2.BaseTransport):
    """Each request handed to the app in the event loop its lifespan runs in (``portal``'s
    thread), its body read whole first; the app's own failures answer 500, as uvicorn does."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self._app = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal = portal

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._portal.call(self._send, request)

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        answer = await self._app.handle_async_request(request)
        content = await answer.aread()
        return httpx2.Response(
            answer.status_code,
            headers=answer.headers,
            content=content,
            extensions=answer.extensions,
        )


@contextmanager
def in_process(settings: Settings) -> Iterator[RunningServer]:
    """``running``'s server without a socket: the same app, lifespan and clients."""
    app = create_app(settings)
    url = "http://tackbridge.test"
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        stack.enter_context(portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        transport = _InProcess(app, portal)
        partner = stack.enter_context(
            httpx2.Client(base_url=url, auth=WEBHOOK_AUTH, transport=transport, timeout=30)
        )
        operator = stack.enter_context(
            httpx2.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {API_TOKEN}"},
                transport=transport,
                timeout=30,
            )
        )
        yield RunningServer(url, settings, partner, operator, transport)
