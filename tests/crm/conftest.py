"""A real sandbox (Thumbtack + Coperniq) on loopback, and Coperniq clients pointed at it. The
sandbox fixtures (``sandbox``, ``start``, ``fresh``) are the shared ones of
tests/support/sandbox_fixtures.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tackbridge.crm.coperniq_client import CoperniqClient
from tackbridge.crm.limiter import RateLimiter
from tests.support.sandbox import Sandbox
from tests.support.sandbox_fixtures import fresh, sandbox, start

__all__ = ["client", "client_for", "fresh", "fresh_client", "sandbox", "start"]

KEY = "dev-coperniq-key"


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
