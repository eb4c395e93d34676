"""Done when: ``tackbridge serve`` (a real process) closes connections whose headers come late,
and, while another process holds SQLite's write lock, answers a delivery 503 with Retry-After
after TACKBRIDGE_STORE_WAIT_SECONDS instead of hanging; the redelivery after is stored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tackbridge.store.schema import leads
from tests.fixtures import doc_payload
from tests.support.processes import stderr_of, wait_serving
from tests.support.raw import closed_by_peer, connect, read_answer
from tests.support.servers import free_port
from tests.support.store import count
from tests.support.tackbridge import WEBHOOK_AUTH, make_settings


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
    env.update(
        TACKBRIDGE_MODE="production",
        TACKBRIDGE_DATA_DIR=str(tmp_path),
        TACKBRIDGE_WEBHOOK_USERNAME=WEBHOOK_AUTH[0],
        TACKBRIDGE_WEBHOOK_PASSWORD=WEBHOOK_AUTH[1],
        TACKBRIDGE_API_TOKEN="t",
        TACKBRIDGE_RUN_WORKER="false",
        TACKBRIDGE_HEADER_TIMEOUT_SECONDS="0.5",
        TACKBRIDGE_STORE_WAIT_SECONDS="0.5",
    )
    command = [sys.executable, "-m", "tackbridge", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process, lambda: stderr_of(process))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.sqlite_only  # the lock is SQLite's write lock, held by a second connection
def test_serve_closes_late_headers_and_fails_fast_on_a_locked_store(
    serve: str, tmp_path: Path
) -> None:
    with connect(serve) as sock:
        sock.sendall(b"POST /v1/lead HTTP/1.1\r\nHost: x\r\n")
        assert read_answer(sock).status == 408
        assert closed_by_peer(sock)

    holder = sqlite3.connect(tmp_path / "tackbridge.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        with httpx2.Client(base_url=serve, auth=WEBHOOK_AUTH, timeout=10) as client:
            refused = client.post("/v1/lead", json=doc_payload("v2_lead"))
    finally:
        holder.rollback()
        holder.close()
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    with httpx2.Client(base_url=serve, auth=WEBHOOK_AUTH, timeout=10) as client:
        assert client.post("/v1/lead", json=doc_payload("v2_lead")).json()["status"] == "accepted"
    assert count(make_settings(tmp_path), leads) == 1
