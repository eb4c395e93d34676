"""The outbound commands, run as an operator would, against a real server's database and the
real sandbox (no token store is configured, so replies go out with v1 Basic)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tackbridge.cli import app
from tests.support.outbound import import_lead, sandbox_messages
from tests.support.sandbox import Sandbox
from tests.support.tackbridge import RunningServer

runner = CliRunner()


@pytest.fixture
def cli_env(
    server: RunningServer, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TACKBRIDGE_DATABASE_URL", server.settings.resolved_database_url)
    monkeypatch.setenv("TACKBRIDGE_SQLITE_SYNCHRONOUS", "NORMAL")
    monkeypatch.setenv("TACKBRIDGE_THUMBTACK_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("TACKBRIDGE_THUMBTACK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TACKBRIDGE_THUMBTACK_API_USERNAME", "tackbridge-dev")
    monkeypatch.setenv("TACKBRIDGE_THUMBTACK_API_PASSWORD", "dev-api-password")


@pytest.mark.usefixtures("cli_env")
def test_send_message_then_list_and_replay(server: RunningServer, sandbox: Sandbox) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    sent = runner.invoke(app, ["send-message", lead_id, "Hello from the CLI"])
    assert sent.exit_code == 0, sent.output
    assert "done after 1 attempt" in sent.output
    assert [m["text"] for m in sandbox_messages(sandbox, lead_id)] == ["Hello from the CLI"]
    assert "dev-api-password" not in sent.output

    listed = runner.invoke(app, ["deliveries", "list", "--kind", "thumbtack.message"])
    assert listed.exit_code == 0, listed.output
    assert "done" in listed.output
    # ``jobs`` is the name; ``deliveries`` (earlier) says the same.
    assert runner.invoke(app, ["jobs", "list", "--kind", "thumbtack.message"]).output == (
        listed.output
    )
    job_id = server.operator.get("/api/jobs").json()["items"][0]["id"]

    replay = runner.invoke(app, ["deliveries", "retry", str(job_id)])
    assert replay.exit_code == 0, replay.output
    assert "due now" in replay.output
    assert server.operator.get(f"/api/jobs/{job_id}").json()["state"] == "pending"

    missing = runner.invoke(app, ["deliveries", "retry", "999999"])
    assert missing.exit_code == 1
    assert runner.invoke(app, ["deliveries", "list", "--state", "lost"]).exit_code == 2


@pytest.mark.usefixtures("cli_env")
def test_job_status_command(server: RunningServer, sandbox: Sandbox) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    bad = runner.invoke(app, ["job-status", lead_id, "finished"])
    assert bad.exit_code == 2
    assert "status must be one of" in bad.output
    wrong = runner.invoke(app, ["job-status", lead_id, "pro_cancel", "--invoice-cents", "100"])
    assert wrong.exit_code == 2
    unknown = runner.invoke(app, ["job-status", "nope", "pro_cancel"])
    assert unknown.exit_code == 1

    queued = runner.invoke(
        app,
        [
            "job-status",
            lead_id,
            "invoice_paid",
            "--invoice-cents",
            "125000",
            "--at",
            "2026-06-14T09:30:00",
            "--queue-only",
        ],
    )
    assert queued.exit_code == 0, queued.output
    assert "pending" in queued.output
    job = server.operator.get("/api/jobs", params={"kind": "thumbtack.job_status"}).json()
    payload = job["items"][0]["payload"]
    assert payload == {
        "leadID": lead_id,
        "businessID": sandbox.business_ids()[0],
        "status": "invoice_paid",
        "partnerStatusChangedAt": "2026-06-14T09:30:00Z",
        "invoiceAmountInCents": 125000,
    }


@pytest.mark.usefixtures("cli_env")
def test_targeting_and_backfill_need_a_connection() -> None:
    targeting = runner.invoke(app, ["targeting", "svc-1", "on"])
    assert targeting.exit_code == 2
    assert "choose one with --business" in targeting.output
    assert runner.invoke(app, ["targeting", "svc-1", "maybe"]).exit_code == 2
    backfill = runner.invoke(app, ["backfill", "123"])
    assert backfill.exit_code == 1
    assert "connection" in backfill.output
