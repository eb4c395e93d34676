"""A real sandbox (Thumbtack + Coperniq) on loopback, and Coperniq clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import httpx2
import pytest

from tackbridge.crm.coperniq_client import CoperniqClient
from tackbridge.crm.limiter import RateLimiter
from tackbridge.sandbox import create_app
from tests.support.sandbox import FAST, Sandbox
from tests.support.servers import serve

KEY = "dev-coperniq-key"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """Shared by a module's tests, which look only at records they created."""
    with httpx2.Client(timeout=10.0) as http, serve(create_app(FAST)) as url:
        yield Sandbox(url, http)


@pytest.fixture
def start() -> Iterator[Callable[..., Sandbox]]:
    with ExitStack() as stack:
        http = stack.enter_context(httpx2.Client(timeout=10.0))

        def run(**changes: Any) -> Sandbox:
            url = stack.enter_context(serve(create_app(replace(FAST, **changes))))
            return Sandbox(url, http)

        yield run


@pytest.fixture
def fresh(start: Callable[..., Sandbox]) -> Sandbox:
    """A sandbox of the test's own: for tests that set faults or count records."""
    return start()


def client_for(sb: Sandbox, key: str = KEY) -> CoperniqClient:
    # A limiter per client: tests must not share the process-wide budget of the key.
    return CoperniqClient(key, base_url=sb.url + "/coperniq/v1", limiter=RateLimiter())


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[CoperniqClient]:
    async with client_for(sandbox) as c:
        yield c


@pytest.fixture
async def fresh_client(fresh: Sandbox) -> AsyncIterator[CoperniqClient]:
    async with client_for(fresh) as c:
        yield c
