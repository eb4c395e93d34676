"""A real sandbox and a real tackbridge pointed at each other on loopback, plus the pieces of a
second "process" (store, writer, Connections) opened on tackbridge's SQLite file, and looking into
and nudging that file. The ``stack`` and ``local`` fixtures are imported where they are used
(tests/connections/conftest.py, tests/conversations/test_with_connections.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import create_engine

from tackbridge.app import create_app
from tackbridge.connections.purge import PURGE
from tackbridge.connections.service import Connections, open_connections
from tackbridge.connections.webhooks import REGISTER_WEBHOOK
from tackbridge.outbox.kinds import Bound, Registry
from tackbridge.runtime import Runtime
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.services import Services, open_http
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import connections
from tackbridge.store.writer import Writer
from tests.support.sandbox import CLIENT, FAST, Sandbox, query_of
from tests.support.servers import free_port, serve
from tests.support.tackbridge import API_TOKEN, WEBHOOK_AUTH, make_settings

Clock = Callable[[], datetime]


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Stack:
    sandbox: Sandbox
    url: str
    settings: Settings
    operator: httpx2.Client
    browser: httpx2.Client  # the pro's browser: no operator token, no redirects followed

    def connections(self) -> list[dict[str, Any]]:
        answer = self.operator.get("/api/connections")
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def connection(self, business_id: str) -> dict[str, Any]:
        return next(c for c in self.connections() if c["businessID"] == business_id)

    def consent(self, business_id: str, api: str = "v4", **query: str) -> httpx2.Response:
        """Start at tackbridge's connect link, approve on the sandbox's page as the pro, and
        return the redirect back to tackbridge's callback (not yet followed)."""
        start = self.operator.get("/connect/thumbtack", params={"api": api, **query})
        assert start.status_code == 307, start.text
        location = start.headers["location"]
        page = self.browser.get(location)
        assert page.status_code == 200, page.text
        form = {**query_of(location), "business_id": business_id}
        if api == "v4":
            answer = self.browser.post(
                self.sandbox.url + "/oauth2/auth", data={**form, "action": "approve"}
            )
        else:
            answer = self.browser.post(
                self.sandbox.url + "/services/partner-connect/",
                data={**form, "action": "confirm"},
            )
        assert answer.status_code == 302, answer.text
        return answer

    def connect(self, business_id: str, api: str = "v4") -> httpx2.Response:
        back = self.consent(business_id, api)
        callback = self.browser.get(back.headers["location"])
        assert callback.status_code == 200, callback.text
        return callback


def stack_settings(data_dir: Path, sandbox_url: str, public_url: str, **extra: Any) -> Settings:
    return make_settings(
        data_dir,
        thumbtack_environment="sandbox",
        thumbtack_base_url=sandbox_url,
        thumbtack_client_id=CLIENT[0],
        thumbtack_client_secret=CLIENT[1],
        public_url=public_url,
        secret_key=Fernet.generate_key().decode(),
        **extra,
    )


def _clock(request: pytest.FixtureRequest) -> Clock | None:
    """The clock of tackbridge's connections, in the served app and in ``local``: the test's
    ``clock`` fixture when its module defines one, else None (the wall clock). Looked up rather
    than requested, so modules that import ``stack`` and ``local`` need no ``clock``."""
    try:
        clock: Clock = request.getfixturevalue("clock")
    except pytest.FixtureLookupError:
        return None
    return clock


def _use_clock(app: FastAPI, clock: Clock) -> None:
    """Give the served app's connections feature ``clock`` (same store, writer and client)."""
    runtime: Runtime = app.state.runtime
    served = runtime.connections
    assert served is not None
    timed = open_connections(
        served.settings, served.db, served.writer, thumbtack=served.thumbtack, clock=clock
    )
    timed.wake = served.wake
    runtime.connections = timed
    app.state.connections = timed
    runtime.services.grants = timed.tokens


@contextmanager
def stack_sandbox(partner_url: str) -> Iterator[Sandbox]:
    """A served sandbox delivering v4 webhooks to ``partner_url`` with the tests' partner
    credentials (a stack's, whatever serves tackbridge)."""
    config = replace(
        FAST,
        partner_url=partner_url,
        delivery_style="v4",
        partner_username=WEBHOOK_AUTH[0],
        partner_password=WEBHOOK_AUTH[1],
        allow_http_webhooks=True,
    )
    with httpx2.Client(timeout=10.0) as http, serve(create_sandbox(config)) as sandbox_url:
        yield Sandbox(sandbox_url, http)


@contextmanager
def stack_clients(url: str) -> Iterator[tuple[httpx2.Client, httpx2.Client]]:
    """A stack's two clients of the tackbridge at ``url``: the operator's and the browser's."""
    with (
        httpx2.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
        ) as operator,
        httpx2.Client(base_url=url, timeout=30) as browser,
    ):
        yield operator, browser


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    clock = _clock(request)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with stack_sandbox(url) as sandbox:
        settings = stack_settings(tmp_path, sandbox.url, url)
        app = create_app(settings)
        with serve(app, port=port), stack_clients(url) as (operator, browser):
            if clock is not None:  # before the first request
                _use_clock(app, clock)
            yield Stack(sandbox, url, settings, operator, browser)


@pytest.fixture
async def local(stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[Connections]:
    """The connections feature opened on the stack's SQLite file, as another process would."""
    clock = _clock(request)
    db = open_database(stack.settings.resolved_database_url, sqlite_synchronous="NORMAL")
    migrate.upgrade(db.writer)
    writer = Writer(db.writer)
    writer.start()
    service = (
        open_connections(stack.settings, db, writer)
        if clock is None
        else open_connections(stack.settings, db, writer, clock=clock)
    )
    try:
        yield service
    finally:
        await service.aclose()
        writer.stop()
        db.dispose()


def refreshes(sandbox: Sandbox, api: str = "v4") -> int:
    """How many refresh answers the sandbox gave (replays within the grace period included)."""
    return sum(
        1
        for h in sandbox.inspect("happenings")
        if h["text"].startswith(f"{api} tokens issued") and h["text"].endswith("(refresh_token)")
    )


def expire_access_token(settings: Settings, business_id: str) -> None:
    """Make the stored access token look expired, so the next caller must refresh."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                connections.update()
                .where(connections.c.business_id == business_id)
                .values(access_expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
    finally:
        engine.dispose()


def connection_kinds(local: Connections) -> dict[str, Bound[Any]]:
    """The connections' own job kinds (purge, webhook registration), bound as a worker runs them."""
    services = Services(
        local.settings, local.db, local.writer, local.thumbtack, open_http(), grants=local.tokens
    )
    return Registry.of([PURGE, REGISTER_WEBHOOK]).bind(services)
