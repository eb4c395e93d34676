"""Any unexpected error is answered as a problem 500 with a trace ID (the logged traceback's),
and nothing of the error: no stack, no message (on a real server on loopback)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import pytest

from tackbridge.app import create_app
from tests.support.servers import serve
from tests.support.tackbridge import make_settings


def test_an_unexpected_error_is_a_problem_500_with_a_trace_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(tmp_path))

    async def boom() -> None:
        raise RuntimeError("hunter2 leaked through the message")

    app.add_api_route("/_test/boom", boom, methods=["GET"])
    with caplog.at_level(logging.ERROR, "tackbridge.errors"), serve(app) as url:
        answer = httpx2.get(url + "/_test/boom?token=hunter2", timeout=10)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == "urn:tackbridge:problem:internal-error"
    assert body["status"] == 500
    trace_id = body["traceID"]
    assert len(trace_id) == 32
    assert answer.headers["x-trace-id"] == trace_id
    assert trace_id in body["detail"]
    assert "hunter2" not in answer.text
    assert "Traceback" not in answer.text
    assert "RuntimeError" not in answer.text
    [record] = [r for r in caplog.records if trace_id in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log, under the trace ID
    assert "token" not in record.getMessage()  # the path, not the query
