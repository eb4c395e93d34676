"""The command line, run as a user would run it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tackbridge.cli import app
from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", "API_TOKEN", "MODE", "DATABASE_URL"):
        monkeypatch.delenv(f"TACKBRIDGE_{name}", raising=False)
    monkeypatch.setenv("TACKBRIDGE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def test_serve_refuses_to_start_without_secrets(env: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "TACKBRIDGE_WEBHOOK_PASSWORD" in result.output
    assert "TACKBRIDGE_API_TOKEN" in result.output


def test_db_upgrade(env: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    from tackbridge.store.migrate import head_revision

    assert f"revision {head_revision()}" in result.output
    assert (env / "var" / "tackbridge.db").exists()


def test_leads_and_inbound_list(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    server.partner.post("/v1/lead", content=b"{", headers={"content-type": "application/json"})
    monkeypatch.setenv("TACKBRIDGE_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.setenv("TACKBRIDGE_DATABASE_URL", server.settings.resolved_database_url)
    result = runner.invoke(app, ["leads", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "299614694480093245" in result.output
    assert "John Davis" in result.output
    rejected = runner.invoke(
        app, ["inbound", "list", "--outcome", "rejected"], env={"COLUMNS": "200"}
    )
    assert rejected.exit_code == 0, rejected.output
    assert "rejected" in rejected.output
    assert "400" in rejected.output


class FakeSession:
    """Just what ``deliveries retry`` uses of a session; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def requeue_kinds(self) -> Mapping[str, Any]:
        self.asked.append("requeue_kinds")
        return {}

    async def write(self, unit: Callable[[Any], Any]) -> bool:
        self.asked.append("write")
        return False  # as retry_job answers for a job that does not exist


def test_feature_commands_open_the_session_in_the_context(env: Path) -> None:
    """The top level installs its opener only when the caller passed none: a command reaches
    whatever session ``ctx.obj`` opens (here no runtime, no store)."""
    fake = FakeSession()
    opened: list[str] = []

    @asynccontextmanager
    async def opener() -> AsyncIterator[FakeSession]:
        opened.append("open")
        try:
            yield fake
        finally:
            opened.append("close")

    result = runner.invoke(app, ["deliveries", "retry", "7"], obj=opener)
    assert result.exit_code == 1, result.output
    assert "no delivery 7" in result.output
    assert opened == ["open", "close"]
    assert fake.asked == ["requeue_kinds", "write"]
    assert not (env / "var").exists()
