"""A real tackbridge server on loopback, on its own SQLite file, for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tackbridge.app import create_app
from tackbridge.settings import Settings
from tests.support.servers import serve

WEBHOOK_AUTH = ("thumbtack", "test-webhook-password")
API_TOKEN = "test-api-token"


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
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningServer:
    url: str
    settings: Settings
    partner: httpx2.Client  # authenticated as Thumbtack
    operator: httpx2.Client  # authenticated as an operator

    def lead(self, lead_id: str) -> dict[str, Any]:
        response = self.operator.get(f"/api/leads/{lead_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def running(settings: Settings) -> Iterator[RunningServer]:
    with (
        serve(create_app(settings)) as url,
        httpx2.Client(base_url=url, auth=WEBHOOK_AUTH, timeout=30) as partner,
        httpx2.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
        ) as operator,
    ):
        yield RunningServer(url, settings, partner, operator)
