"""``GET /api/jobs?failing=true``: the jobs whose last attempt failed, retrying or dead; a
retried one leaves the list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from tackbridge.store.schema import outbox
from tests.support.tackbridge import WITH_FOLLOWUPS, RunningServer, in_process, make_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge whose new leads queue their auto-reply jobs (rules configured)."""
    with in_process(make_settings(tmp_path, **WITH_FOLLOWUPS)) as srv:
        yield srv


def _set(server: RunningServer, job_id: int, **values: object) -> None:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == job_id).values(**values))
    finally:
        engine.dispose()


def test_failing_jobs_are_the_retrying_and_the_dead(server: RunningServer) -> None:
    for lead in ("L-f1", "L-f2", "L-f3"):
        server.partner.post("/v1/lead", json={"leadID": lead, "request": {"category": "x"}})
    jobs = server.operator.get("/api/jobs", params={"kind": "autoreply.plan"}).json()["items"]
    dead, retrying, fine = (j["id"] for j in jobs)
    error = {"detail": "Thumbtack answered 503", "status": 503}
    _set(server, dead, state="dead", attempts=15, last_error=error)
    _set(server, retrying, state="pending", attempts=2, last_error=error)
    _set(server, fine, state="done", attempts=1, last_error=error)  # failed once, then sent

    def failing() -> list[int]:
        page = server.operator.get("/api/jobs", params={"failing": "true"}).json()
        return [j["id"] for j in page["items"]]

    assert failing() == [dead, retrying]
    dead_only = server.operator.get("/api/jobs", params={"failing": "true", "state": "dead"})
    assert [j["id"] for j in dead_only.json()["items"]] == [dead]
    retried = server.operator.post(f"/api/jobs/{dead}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["lastError"] is None
    assert failing() == [retrying]
