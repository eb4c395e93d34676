"""The live events over a real HTTP connection: ``ready`` with the page's stamp, then
``changed`` when what the page shows changes (a lead arrives; a reply's delivery state)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx2

from tackbridge.dashboard.live import inbox_stamp
from tackbridge.store.database import open_database
from tests.fixtures import doc_payload
from tests.support.dashboard import OWNER, add, sign_in
from tests.support.tackbridge import make_settings, running


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    name, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data = line.partition(":")[2].strip()
        elif line == "" and data:
            yield name, data
            name, data = "message", ""


def test_the_inbox_stream_says_changed_when_a_lead_arrives(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mode="dev")
    with running(settings) as srv, httpx2.Client(base_url=srv.url, timeout=30) as client:
        add(settings, *OWNER, role="owner")
        assert sign_in(client, *OWNER).status_code == 303
        db = open_database(settings.resolved_database_url)
        with db.reader.connect() as conn:
            before = inbox_stamp(conn, None)
        with client.stream("GET", "/dashboard/events/inbox", params={"since": before}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())
            assert next(events) == ("ready", before)
            lead = copy.deepcopy(doc_payload("v1_lead"))
            assert srv.partner.post("/v1/lead", json=lead).status_code == 200
            name, stamp = next(events)
        with db.reader.connect() as conn:
            after = inbox_stamp(conn, None)
        db.dispose()
    assert name == "changed"
    assert stamp == after != before


def test_a_stream_started_from_an_old_stamp_reports_the_change_at_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mode="dev")
    with running(settings) as srv, httpx2.Client(base_url=srv.url, timeout=30) as client:
        add(settings, *OWNER, role="owner")
        assert sign_in(client, *OWNER).status_code == 303
        lead = copy.deepcopy(doc_payload("v1_lead"))
        assert srv.partner.post("/v1/lead", json=lead).status_code == 200
        with client.stream("GET", "/dashboard/events/inbox", params={"since": "old"}) as stream:
            events = _events(stream.iter_lines())
            assert next(events) == ("ready", "old")
            name, _ = next(events)
    assert name == "changed"
