"""Structured logs: ``TACKBRIDGE_LOG_FORMAT=json`` gives one JSON object a line, each request's
lines carry its trace ID (taken from traceparent / X-Request-ID or made up, and answered in
X-Request-ID), and no secret reaches the log: a real ``tackbridge serve`` process, its stderr
read whole after it stops."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tackbridge.core import logs
from tests.fixtures import doc_payload
from tests.support.processes import stderr_of, wait_serving
from tests.support.servers import free_port

API_TOKEN = "operator-token-7f3a9c"
PASSWORD = "partner-password-51e2"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def lines(stderr: str) -> list[dict[str, Any]]:
    found = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_a_request_s_log_line_carries_its_trace_id_and_no_secret(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TACKBRIDGE_MODE": "production",
        "TACKBRIDGE_DATA_DIR": str(tmp_path),
        "TACKBRIDGE_WEBHOOK_USERNAME": "thumbtack",
        "TACKBRIDGE_WEBHOOK_PASSWORD": PASSWORD,
        "TACKBRIDGE_API_TOKEN": API_TOKEN,
        "TACKBRIDGE_RUN_WORKER": "false",
        "TACKBRIDGE_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "tackbridge", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process, lambda: stderr_of(process))
        with httpx2.Client(base_url=url, timeout=10) as client:
            # The password is sent where a careless log line would quote it: as the scheme.
            refused = client.post(
                "/v1/lead",
                json=doc_payload("v2_lead"),
                headers={
                    "Authorization": f"{PASSWORD[:16]} x",
                    "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
                },
            )
            assert refused.status_code == 401
            assert refused.headers["x-request-id"] == TRACE
            wrong = client.post(
                "/v1/lead", json=doc_payload("v2_lead"), auth=("thumbtack", "not-it"),
                headers={"X-Request-ID": "req-abcdef-1"},
            )  # fmt: skip
            assert wrong.headers["x-request-id"] == "req-abcdef-1"
            made_up = client.get("/api/leads", headers={"Authorization": f"Bearer {API_TOKEN}"})
            assert made_up.status_code == 200
            assert len(made_up.headers["x-request-id"]) == 32
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    entries = lines(stderr)
    assert entries, stderr
    by_trace = {e.get("traceID"): e for e in entries if "refused POST /v1/lead" in e["message"]}
    assert set(by_trace) == {TRACE, "req-abcdef-1"}, entries
    first = by_trace[TRACE]
    assert first["level"] == "WARNING"
    assert first["logger"] == "tackbridge.inbound"
    assert "127.0.0.1" in first["message"]
    assert "is not Basic credentials" in first["message"]  # the password was the scheme
    assert all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    # Lines of the server itself (uvicorn's start and stop) are JSON too.
    assert any(e["logger"].startswith("uvicorn") for e in entries), entries
    assert API_TOKEN not in stderr
    assert PASSWORD not in stderr
    assert PASSWORD[:16] not in stderr


def capture(fmt: str, secrets: list[str]) -> tuple[logging.Logger, io.StringIO]:
    logs.configure("INFO", fmt, secrets=secrets)
    stream = io.StringIO()
    root = logging.getLogger()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    return logging.getLogger("tackbridge.test"), stream


@pytest.fixture(autouse=True)
def _restore_logging() -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_secrets_and_url_secrets_are_scrubbed_from_messages_and_tracebacks() -> None:
    log, stream = capture("json", ["sekrit-value-1"])
    with logs.traced("t-1"):
        log.warning("calling %s with %s", "https://h.example/cb?code=c0de99", "sekrit-value-1")
        try:
            raise RuntimeError("boom sekrit-value-1")
        except RuntimeError:
            log.exception("failed", extra={"jobID": 7})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "calling https://h.example/cb?code=[redacted] with [redacted]"
    assert first["traceID"] == second["traceID"] == "t-1"
    assert second["jobID"] == 7
    assert "RuntimeError: boom [redacted]" in second["exception"]
    assert "sekrit-value-1" not in stream.getvalue()
    assert "c0de99" not in stream.getvalue()


def test_text_stays_one_readable_line_and_without_a_trace_there_is_none() -> None:
    log, stream = capture("text", ["sekrit-value-1"])
    log.info("hello %s", "sekrit-value-1")
    line = stream.getvalue().strip()
    assert line.endswith("INFO tackbridge.test: hello [redacted]")
    log, stream = capture("json", [])
    log.info("no trace")
    assert "traceID" not in json.loads(stream.getvalue())


def test_malformed_trace_headers_are_not_taken() -> None:
    scope: dict[str, Any] = {"headers": [(b"traceparent", b"00-zz-00f067aa0ba902b7-01")]}
    assert logs._incoming(scope) is None
    scope = {"headers": [(b"traceparent", f"00-{'0' * 32}-00f067aa0ba902b7-01".encode())]}
    assert logs._incoming(scope) is None
    scope = {"headers": [(b"x-request-id", b"bad id with spaces")]}
    assert logs._incoming(scope) is None
    scope = {"headers": [(b"x-request-id", b"ok-id-12345")]}
    assert logs._incoming(scope) == "ok-id-12345"


def test_made_up_trace_ids_are_random_hex_and_draw_on_the_os_in_bulk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each made-up ID is 32 hex digits from the OS's random source, none repeated; the OS is
    asked once per several hundred IDs, not once per request (each ask releases the GIL on
    the event loop)."""
    asked: list[int] = []
    real = os.urandom

    def counted(n: int) -> bytes:
        asked.append(n)
        return real(n)

    monkeypatch.setattr(logs.os, "urandom", counted)
    made = [logs.new_trace_id() for _ in range(2000)]
    assert all(len(t) == 32 and int(t, 16) >= 0 for t in made)
    assert len(set(made)) == len(made)
    assert 1 <= len(asked) <= 2000 // 200 + 1
    assert sum(asked) >= 16 * (2000 - 256)  # every ID's bytes came from the OS
