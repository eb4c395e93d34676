"""``/deliveries`` over HTTP: failed jobs with their error and a Retry that needs the CSRF
token, refused deliveries with their body (secret fields masked), owners and admins only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update

from tackbridge.store.schema import outbox
from tests.support.dashboard_users import signed_in_as
from tests.support.tackbridge import WITH_FOLLOWUPS, RunningServer, in_process, make_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge whose new leads queue their auto-reply jobs (rules configured)."""
    with in_process(make_settings(tmp_path, **WITH_FOLLOWUPS)) as srv:
        yield srv


def _dead_job(server: RunningServer) -> int:
    server.partner.post("/v1/lead", json={"leadID": "L-dead", "request": {"category": "x"}})
    [job] = server.operator.get("/api/jobs", params={"kind": "autoreply.plan"}).json()["items"]
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == job["id"])
                .values(
                    state="dead",
                    attempts=15,
                    last_error={"detail": "Thumbtack answered 503 <b>down</b>", "status": 503},
                )
            )
    finally:
        engine.dispose()
    return int(job["id"])


def _state(server: RunningServer, job_id: int) -> str:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(outbox.c.state).where(outbox.c.id == job_id)).scalar())
    finally:
        engine.dispose()


def test_a_dead_job_is_shown_and_retried(server: RunningServer) -> None:
    job_id = _dead_job(server)
    admin = signed_in_as(server, "admin@example.com", role="admin")
    page = admin.client.get("/deliveries")
    assert page.status_code == 200
    html = page.text
    assert f'data-job-id="{job_id}"' in html
    assert "Thumbtack answered 503 &lt;b&gt;down&lt;/b&gt;" in html  # shown as text
    assert '<a href="/leads/L-dead">' in html
    refused = admin.client.post(f"/deliveries/jobs/{job_id}/retry", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert _state(server, job_id) == "dead"
    answer = admin.post(f"/deliveries/jobs/{job_id}/retry")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/deliveries?notice=retried&job={job_id}"
    assert _state(server, job_id) == "pending"
    after = admin.client.get(answer.headers["location"]).text
    assert f"Job {job_id} is queued again" in after
    assert f'data-job-id="{job_id}"' not in after  # no longer failing
    missing = admin.post("/deliveries/jobs/999999/retry")
    assert missing.headers["location"] == "/deliveries?notice=missing&job=999999"


def test_refused_deliveries_with_their_body_masked(server: RunningServer) -> None:
    with server.client() as stranger:
        stranger.post("/v1/lead", json={"leadID": "L-x"}, auth=("thumbtack", "wrong"))
    # Authenticated, but without its lead ID: refused (422) and kept.
    server.partner.post(
        "/v1/lead",
        json={
            "request": {"category": "x"},
            "password": "hunter2-secret",
            "note": "<script>1</script>",
        },
    )
    server.partner.post(
        "/v1/lead", content=b"{not json", headers={"content-type": "application/json"}
    )
    owner = signed_in_as(server, "owner@example.com", role="owner")
    html = owner.client.get("/deliveries").text
    assert "hunter2-secret" not in html
    assert "[redacted]" in html
    assert "&lt;script&gt;1&lt;/script&gt;" in html
    assert "<script>1</script>" not in html
    assert "{not json" in html
    assert "Unauthorized" in html
    assert "Rejected" in html


def test_members_and_strangers_do_not_get_in(server: RunningServer) -> None:
    job_id = _dead_job(server)
    member = signed_in_as(server, "m@example.com", role="member", businesses=("B1",))
    assert member.client.get("/deliveries").status_code == 404
    assert member.post(f"/deliveries/jobs/{job_id}/retry").status_code == 404
    assert _state(server, job_id) == "dead"
    with server.client(follow_redirects=False) as anonymous:
        assert anonymous.get("/deliveries").headers["location"].startswith("/login")
        assert anonymous.post(f"/deliveries/jobs/{job_id}/retry").status_code == 303
    assert _state(server, job_id) == "dead"
