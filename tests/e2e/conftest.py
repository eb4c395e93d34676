"""tackbridge and its sandbox on free loopback ports, wired as `make run` wires them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tackbridge.app import create_app
from tackbridge.devstack import Ports, connect_demo_business, product_settings, sandbox_config
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.settings import Settings
from tests.support.sandbox import wait_until
from tests.support.servers import free_port, serve
from tests.support.tackbridge import API_TOKEN, dev_clients, make_settings


@dataclass
class Stack:
    ports: Ports
    settings: Settings
    operator: httpx2.Client
    sandbox: httpx2.Client
    stop_product: Callable[[], None]
    start_product: Callable[[], None]

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        response = self.operator.get(f"/api/leads/{lead_id}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def inspect(self, what: str, **params: str) -> Any:
        response = self.sandbox.get(f"/_sandbox/{what}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def business_ids(self) -> list[str]:
        return [b["businessID"] for b in self.inspect("businesses")]

    def connect(self, business_id: str) -> str:
        import asyncio

        return asyncio.run(
            connect_demo_business(self.ports.tackbridge_url, API_TOKEN, business_id=business_id)
        )

    def new_lead(self, business_id: str, **extra: Any) -> str:
        created = self.sandbox.post("/_sandbox/leads", json={"businessID": business_id, **extra})
        assert created.status_code == 201, created.text
        return str(created.json()["leadID"])

    def wait(self, predicate: Callable[[], Any], timeout: float = 20.0) -> None:
        wait_until(lambda: bool(predicate()), timeout=timeout)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Starts a sandbox and a tackbridge; ``settings`` overrides tackbridge's settings."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Stack:
            ports = Ports(tackbridge=free_port(), sandbox=free_port())
            base = make_settings(tmp_path / "data", **{"run_worker": True, **overrides})
            settings = product_settings(ports, base=base)
            config = sandbox_config(ports, settings, lead_rate=0, seed=7)
            stack.enter_context(serve(create_sandbox(config), port=ports.sandbox))
            product: list[ExitStack] = []

            def start_product() -> None:
                inner = ExitStack()
                inner.enter_context(serve(create_app(settings), port=ports.tackbridge))
                product.append(inner)

            def stop_product() -> None:
                product.pop().close()

            start_product()
            stack.callback(lambda: [p.close() for p in product])
            operator, sandbox = dev_clients(stack, ports)
            return Stack(ports, settings, operator, sandbox, stop_product, start_product)

        yield start


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()
