"""Schemathesis against the live server's ``/openapi.json``: no operation answers a 5xx.

Every operation in the published schema is exercised on a real server on loopback, with the
credentials its family needs (HTTP Basic for the partner endpoints, the operator's Bearer token
for ``/api/*``), with data that fits the schema and data that does not. The operator API's
successful answers must also match their documented response schemas.

The operations are listed at collection time from the application's own OpenAPI document (no
server needed), and each one is a test item of its own; the test then loads the schema from the
running server with ``schemathesis.openapi.from_url`` and drives that operation with Hypothesis.
(schemathesis 4.32's lazy ``from_fixture`` loader does not work with pytest 9, hence the direct
use of ``APIOperation.as_strategy``.)
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tackbridge.app import create_app
from tests.support.tackbridge import API_TOKEN, WEBHOOK_AUTH, RunningServer, make_settings, running

MAX_EXAMPLES = 50
BASIC = "Basic " + base64.b64encode(":".join(WEBHOOK_AUTH).encode()).decode()
BEARER = f"Bearer {API_TOKEN}"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the application documents."""
    with tempfile.TemporaryDirectory() as scratch:
        spec: dict[str, Any] = create_app(make_settings(Path(scratch))).openapi()
    return sorted(
        (method.upper(), path)
        for path, item in spec.get("paths", {}).items()
        for method in item
        if method in _METHODS
    )


OPERATIONS = _operations()


def _is_operator(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _is_partner(path: str) -> bool:
    return path.startswith(("/v1/", "/v4/"))


def _auth(path: str) -> dict[str, str]:
    if _is_operator(path):
        return {"Authorization": BEARER}
    if _is_partner(path):
        return {"Authorization": BASIC}
    return {}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    with running(
        make_settings(tmp_path_factory.mktemp("openapi"), secret_key="openapi-test-key-" + "x" * 24)
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def api_schema(live: RunningServer) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def test_every_operation_is_covered(api_schema: Any) -> None:
    """The live schema documents the operations collected here, and the ones the issue names."""
    live_ops = sorted(
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    )
    assert live_ops == OPERATIONS
    for expected in [
        ("POST", "/v1/lead"),
        ("POST", "/v1/message"),
        ("PUT", "/v1/lead/update"),
        ("POST", "/v1/review"),
        ("POST", "/v4/webhooks"),
        ("GET", "/api/leads"),
        ("GET", "/api/leads/{lead_id}"),
        ("GET", "/api/inbound"),
        ("GET", "/api/inbound/{entry_id}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    ]:
        assert expected in OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_never_answers_5xx(
    api_schema: Any, live: RunningServer, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    checks = [not_a_server_error]
    if _is_operator(path):
        checks.append(response_schema_conformance)
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    headers = _auth(path)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Case) -> None:
        case.call_and_validate(base_url=live.url, headers=headers, checks=checks)

    run()
