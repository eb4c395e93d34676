"""``/api/jobs`` is the outbox's name in the operator API; ``/api/deliveries`` (its earlier
name) answers the same and is marked deprecated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tackbridge import WITH_FOLLOWUPS, RunningServer, in_process, make_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """Its new leads queue an ``autoreply.plan`` job (a default rule set)."""
    with in_process(make_settings(tmp_path, **WITH_FOLLOWUPS)) as srv:
        yield srv


def _job_id(server: RunningServer) -> int:
    server.partner.post("/v1/lead", json={"leadID": "L-jobs", "request": {"category": "x"}})
    answer = server.operator.get("/api/jobs", params={"kind": "autoreply.plan"})
    assert answer.status_code == 200, answer.text
    [job] = answer.json()["items"]
    return int(job["id"])


def test_both_names_answer_the_same(server: RunningServer) -> None:
    job_id = _job_id(server)
    for prefix in ("/api/jobs", "/api/deliveries"):
        listed = server.operator.get(prefix, params={"kind": "autoreply.plan"}).json()
        assert [j["id"] for j in listed["items"]] == [job_id]
        shown = server.operator.get(f"{prefix}/{job_id}")
        assert shown.status_code == 200
        assert shown.json()["kind"] == "autoreply.plan"
        missing = server.operator.get(f"{prefix}/999999")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["detail"] == "no job 999999"
        assert server.partner.get(prefix).status_code == 401


def test_the_old_name_is_deprecated_in_the_openapi_document(server: RunningServer) -> None:
    paths = server.operator.get("/openapi.json").json()["paths"]
    for path, new in (
        ("/api/deliveries", "/api/jobs"),
        ("/api/deliveries/{job_id}/retry", "/api/jobs/{job_id}/retry"),
    ):
        old_ops, new_ops = paths[path], paths[new]
        assert set(old_ops) == set(new_ops)
        assert all(op.get("deprecated") for op in old_ops.values())
        assert not any(op.get("deprecated") for op in new_ops.values())
