"""The command line, run as a user would run it."""

from __future__ import annotations

from pathlib import Path

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
