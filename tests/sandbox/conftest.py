"""Fixtures for driving the sandbox over real HTTP (helpers in tests/support/sandbox.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import httpx2
import pytest

from tackbridge.sandbox import create_app
from tests.support.sandbox import FAST, Partner, Sandbox, partner_app
from tests.support.servers import serve


@pytest.fixture
def start() -> Iterator[Callable[..., Sandbox]]:
    """Starts a sandbox of its own with ``FAST`` plus the given config fields."""
    with ExitStack() as stack:
        http = stack.enter_context(httpx2.Client(timeout=10.0))

        def run(**changes: Any) -> Sandbox:
            url = stack.enter_context(serve(create_app(replace(FAST, **changes))))
            return Sandbox(url, http)

        yield run


@pytest.fixture
def fresh(start: Callable[..., Sandbox]) -> Sandbox:
    """A sandbox of the test's own: for tests that move the clock, set faults or count."""
    return start()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox shared by a module's tests (servers take ~0.4 s to start and stop); tests
    using it look only at records they created."""
    with httpx2.Client(timeout=10.0) as http, serve(create_app(FAST)) as url:
        yield Sandbox(url, http)


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
