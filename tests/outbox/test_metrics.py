"""The outbox gauges of ``/metrics``, read from the store at scrape time: what another process
queued or killed shows in this process's scrape too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, update

from tackbridge.outbox.metrics import OutboxCollector
from tackbridge.store.database import open_database
from tackbridge.store.schema import outbox
from tests.fixtures import doc_payload
from tests.support.tackbridge import WITH_FOLLOWUPS, in_process, make_settings


def gauges(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("tackbridge_jobs")
    }


def test_queue_depth_and_dead_jobs_come_from_the_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **WITH_FOLLOWUPS)
    with in_process(settings) as srv:
        assert srv.partner.post("/v1/lead", json=doc_payload("v2_lead")).status_code == 200
        first = gauges(srv.operator.get("/metrics").text)
        assert first[("tackbridge_jobs", (("kind", "crm.lead"), ("state", "pending")))] == 1
        assert first[("tackbridge_jobs_due", (("kind", "crm.lead"),))] == 1
        assert first[("tackbridge_jobs_oldest_due_seconds", ())] >= 0
        # Another process (here: a plain engine on the same file) gives a job up.
        engine = create_engine(settings.resolved_database_url)
        with engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.kind == "crm.lead").values(state="dead"))
        engine.dispose()
        second = gauges(srv.operator.get("/metrics").text)
        assert second[("tackbridge_jobs", (("kind", "crm.lead"), ("state", "dead")))] == 1
        assert ("tackbridge_jobs", (("kind", "crm.lead"), ("state", "pending"))) not in second
        assert srv.client().get("/metrics").status_code == 401


def test_the_oldest_due_job_s_wait(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **WITH_FOLLOWUPS)
    with in_process(settings) as srv:
        srv.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    db = open_database(settings.resolved_database_url)
    try:
        later = datetime.now(UTC) + timedelta(minutes=10)
        families = {f.name: f for f in OutboxCollector(db, clock=lambda: later).collect()}
        [oldest] = families["tackbridge_jobs_oldest_due_seconds"].samples
        assert 590 <= oldest.value <= 610
        before = datetime.now(UTC) - timedelta(minutes=10)
        families = {f.name: f for f in OutboxCollector(db, clock=lambda: before).collect()}
        assert families["tackbridge_jobs_oldest_due_seconds"].samples[0].value == 0
        assert families["tackbridge_jobs_due"].samples == []
    finally:
        db.dispose()
