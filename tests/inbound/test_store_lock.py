"""Done when: while another process holds SQLite's write lock, a delivery is answered 503 with
Retry-After after TACKBRIDGE_STORE_WAIT_SECONDS (not the connection's 30 s busy timeout),
nothing of it is written, and once the lock is gone the redelivery is stored; operator writes
answer the same way, reads go on (WAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tackbridge.store.schema import inbound_log, leads
from tests.fixtures import doc_payload
from tests.support.store import count
from tests.support.tackbridge import RunningServer, in_process, make_settings

# SQLite's write lock, held by another connection: PostgreSQL takes no such lock at BEGIN.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with in_process(make_settings(tmp_path, store_wait_seconds=0.5)) as srv:
        yield srv


def _lock(server: RunningServer) -> sqlite3.Connection:
    path = server.settings.resolved_database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_locked_store_answers_503_fast_and_keeps_nothing_half_written(
    server: RunningServer,
) -> None:
    payload = doc_payload("v2_lead")
    holder = _lock(server)
    try:
        # Far below the 30 s the connection would wait: the client gives up after 10 s.
        with server.client(auth=server.partner.auth, timeout=10) as sender:
            refused = sender.post("/v1/lead", json=payload)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"] == "urn:tackbridge:problem:store-busy"
        # Reads do not need the write lock.
        assert server.operator.get("/api/inbound").status_code == 200
    finally:
        holder.rollback()
        holder.close()
    assert count(server.settings, leads) == 0
    assert count(server.settings, inbound_log) == 0
    again = server.partner.post("/v1/lead", json=payload)
    assert (again.status_code, again.json()["status"]) == (200, "accepted")
    assert count(server.settings, leads) == 1


def test_an_operator_write_on_a_locked_store_is_503_too(server: RunningServer) -> None:
    holder = _lock(server)
    try:
        with server.client(headers=dict(server.operator.headers), timeout=10) as operator:
            answer = operator.put(
                "/api/businesses/b1/autoreply",
                content=b"null",
                headers={"content-type": "application/json"},
            )
    finally:
        holder.rollback()
        holder.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
