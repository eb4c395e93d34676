"""The pytest fixtures that start sandboxes and a recording partner server, shared by every test
package that drives the sandbox over real HTTP (tests/sandbox and tests/crm import them into their
conftest.py). The clients and helpers they hand out live in tests/support/sandbox.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

from tackbridge.sandbox import SandboxConfig, create_app
from tests.support.sandbox import FAST, Partner, Sandbox, partner_app
from tests.support.servers import serve

__all__ = ["RunningSandbox", "fresh", "partner", "running_sandbox", "sandbox", "start"]


@dataclass
class RunningSandbox(Sandbox):
    """A sandbox this test process serves: ``app`` is its ASGI app, for tests that watch the
    sandbox from inside (its clock's waits, say) rather than over HTTP."""

    app: FastAPI


@contextmanager
def running_sandbox(config: SandboxConfig, http: httpx2.Client) -> Iterator[RunningSandbox]:
    """Serves a new sandbox with ``config`` on loopback until the block ends."""
    app = create_app(config)
    with serve(app) as url:
        yield RunningSandbox(url, http, app)


@pytest.fixture
def start() -> Iterator[Callable[..., RunningSandbox]]:
    """Starts a sandbox of its own with ``FAST`` plus the given config fields."""
    with ExitStack() as stack:
        http = stack.enter_context(httpx2.Client(timeout=10.0))

        def run(**changes: Any) -> RunningSandbox:
            return stack.enter_context(running_sandbox(replace(FAST, **changes), http))

        yield run


@pytest.fixture
def fresh(start: Callable[..., RunningSandbox]) -> RunningSandbox:
    """A sandbox of the test's own: for tests that move the clock, set faults or count records."""
    return start()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """One sandbox shared by a module's tests (servers take ~0.4 s to start and stop); tests
    using it look only at records they created."""
    with httpx2.Client(timeout=10.0) as http, running_sandbox(FAST, http) as running:
        yield running


@pytest.fixture(scope="module")
def _partner_server() -> Iterator[Partner]:
    found = Partner()
    with serve(partner_app(found)) as url:
        found.url = url
        yield found


@pytest.fixture
def partner(_partner_server: Partner) -> Partner:
    """The module's partner server, emptied for this test."""
    with _partner_server.lock:
        _partner_server.received.clear()
        _partner_server.answers.clear()
    return _partner_server
