"""``POST /api/leads/{id}/job-status`` on a real server, pushed by the worker to the real
sandbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, select

from tackbridge.store.schema import lead_status_history, leads
from tests.support.outbound import SandboxTokens, import_lead, worker_side
from tests.support.sandbox import Sandbox
from tests.support.tackbridge import RunningServer


def post(server: RunningServer, lead_id: str, **body: Any) -> Any:
    return server.operator.post(f"/api/leads/{lead_id}/job-status", json=body)


def rows(server: RunningServer, lead_id: str) -> tuple[str | None, list[Any]]:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            job_status = conn.execute(
                select(leads.c.job_status).where(leads.c.lead_id == lead_id)
            ).scalar()
            history = conn.execute(
                select(lead_status_history)
                .where(
                    lead_status_history.c.lead_id == lead_id,
                    lead_status_history.c.source == "job_status",
                )
                .order_by(lead_status_history.c.id)
            ).all()
    finally:
        engine.dispose()
    return job_status, list(history)


def sandbox_statuses(sb: Sandbox, lead_id: str) -> list[dict[str, Any]]:
    return [j for j in sb.inspect("job-statuses") if j["negotiationID"] == lead_id]


async def test_recorded_then_pushed_with_the_time_of_the_change(
    server: RunningServer, fresh: Sandbox
) -> None:
    business = fresh.business_ids()[0]
    lead_id = import_lead(server, fresh, business)
    tokens = SandboxTokens.connect(fresh, business, "v4")

    answer = post(
        server,
        lead_id,
        status="job_complete",
        invoiceAmountInCents=125000,
        changedAt="2026-06-14T11:30:00+02:00",
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["partnerStatusChangedAt"] == "2026-06-14T09:30:00Z"
    job_status, history = rows(server, lead_id)
    assert job_status == "job_complete"
    assert [(h.job_status, h.invoice_amount_cents) for h in history] == [("job_complete", 125000)]

    # The first push meets a 503; the retry still says when the change happened.
    fresh.faults(error_rate=1.0)
    async with worker_side(server.settings, fresh, tokens) as side:
        await side.drain()
        assert side.job("thumbtack.job_status:").state == "pending"
        fresh.faults(error_rate=0.0)
        await side.worker(clock=lambda: side.job("thumbtack.job_status:").nextAttemptAt).drain()
        job = side.job("thumbtack.job_status:")
    assert (job.state, job.attempts) == ("done", 2)
    assert [
        (s["status"], s["partnerStatusChangedAt"], s["invoiceAmountInCents"])
        for s in sandbox_statuses(fresh, lead_id)
    ] == [("job_complete", "2026-06-14T09:30:00Z", 125000)]


def test_the_same_change_twice_is_one_push(server: RunningServer, sandbox: Sandbox) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    body = {"status": "appt_scheduled", "changedAt": "2026-11-01T10:00:00Z"}
    first, again = post(server, lead_id, **body), post(server, lead_id, **body)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(rows(server, lead_id)[1]) == 1
    jobs = server.operator.get("/api/jobs", params={"kind": "thumbtack.job_status"}).json()
    assert [j["payload"]["leadID"] for j in jobs["items"]].count(lead_id) == 1


def test_latest_change_wins_even_when_recorded_late(
    server: RunningServer, sandbox: Sandbox
) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    post(server, lead_id, status="appt_scheduled", changedAt="2026-11-02T10:00:00Z")
    post(server, lead_id, status="not_scheduled", changedAt="2026-11-01T10:00:00Z")
    job_status, history = rows(server, lead_id)
    assert job_status == "appt_scheduled"
    assert len(history) == 2


def test_bad_changes_are_422_problems(server: RunningServer, sandbox: Sandbox) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    for body, field in (
        ({"status": "done"}, "status"),
        ({"status": "appt_scheduled", "invoiceAmountInCents": 100}, "invoiceAmountInCents"),
        ({"status": "job_complete", "invoiceAmountInCents": -5}, "invoiceAmountInCents"),
        ({"status": "job_complete", "invoiceAmountInCents": "100"}, "invoiceAmountInCents"),
        ({"status": "job_complete", "changedAt": "2026-11-01T10:00:00"}, "changedAt"),
        ({}, "status"),
    ):
        answer = post(server, lead_id, **body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert field in [e["field"] for e in problem["errors"]], problem
    assert rows(server, lead_id) == (None, [])


def test_unknown_lead_is_404(server: RunningServer) -> None:
    answer = post(server, "no-such-lead", status="pro_cancel")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
