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
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tackbridge.app import create_app
from tackbridge.core.problems import Problem
from tests.support.tackbridge import API_TOKEN, WEBHOOK_AUTH, RunningServer, make_settings, running

MAX_EXAMPLES = 50
BASIC = "Basic " + base64.b64encode(":".join(WEBHOOK_AUTH).encode()).decode()
BEARER = f"Bearer {API_TOKEN}"
COPERNIQ_SECRET = "coperniq-webhook-secret-for-schemathesis"
COPERNIQ_WEBHOOK = "/coperniq/webhooks/{secret}"
# Every answer is checked against the document: no 5xx, a documented status, the documented
# content type, headers and body schema.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
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
    return path == "/api" or path.startswith("/api/") or path in ("/connect/thumbtack", "/metrics")


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
        make_settings(
            tmp_path_factory.mktemp("openapi"),
            secret_key="openapi-test-key-" + "x" * 24,
            # The fuzzing sends thousands of refused requests from one address: the refusal
            # budget (inbound/refusals.py) would otherwise answer later tests 429.
            refusal_burst=1_000_000,
            coperniq_webhook_secret=COPERNIQ_SECRET,
            # Configured as in production, so the connect link is explored, not refused with 503.
            thumbtack_client_id="schemathesis-client",
            thumbtack_client_secret="schemathesis-client-secret",
        )
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
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    headers = _auth(path)

    @given(case=strategy, right_secret=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Case, right_secret: bool) -> None:
        if path == COPERNIQ_WEBHOOK and right_secret and case.path_parameters is not None:
            # Most cases carry the right secret, so the body is what gets explored.
            case.path_parameters["secret"] = COPERNIQ_SECRET
        case.call_and_validate(base_url=live.url, headers=headers, checks=CHECKS)

    run()


# --------------------------------------------------------------------------------------------
# The document says who may call each operation and what its errors look like.
# --------------------------------------------------------------------------------------------


def _document(**overrides: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        spec: dict[str, Any] = create_app(make_settings(Path(scratch), **overrides)).openapi()
    return spec


def _each_operation(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield method.upper(), path, operation


def test_every_operation_declares_its_security() -> None:
    spec = _document(webhook_header_name="X-Partner-Secret", webhook_header_value="s")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["partnerBasic"] == schemes["partnerBasic"] | {"type": "http", "scheme": "basic"}
    assert schemes["operatorToken"]["scheme"] == "bearer"
    assert (
        schemes["partnerHeader"] | {"in": "header", "name": "X-Partner-Secret"}
        == (schemes["partnerHeader"])
    )
    for method, path, operation in _each_operation(spec):
        assert "security" in operation, (method, path)
        names = {name for requirement in operation["security"] for name in requirement}
        if _is_partner(path):
            assert names == {"partnerBasic", "partnerHeader"}, (method, path)
        elif _is_operator(path):
            assert names == {"operatorToken"}, (method, path)
        else:  # probes, the OAuth callback, Coperniq's webhook (its secret is in the path)
            assert names == set(), (method, path)
    assert "partnerHeader" not in _document()["components"]["securitySchemes"]


def test_every_error_answer_is_a_documented_problem() -> None:
    spec = _document()
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    for method, path, operation in _each_operation(spec):
        responses = operation["responses"]
        assert "500" in responses, (method, path)
        for status, answer in responses.items():
            if status[0] in "45":
                assert answer["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (method, path, status)
        if _is_operator(path):
            assert {"401", "422"} <= set(responses), (method, path)
        if _is_partner(path):
            assert {"400", "401", "413", "415", "422"} <= set(responses), (method, path)
    paths = spec["paths"]
    assert {"400", "404", "413", "415", "422"} <= set(
        paths["/coperniq/webhooks/{secret}"]["post"]["responses"]
    )
    for path in ("/api/leads/{lead_id}", "/api/jobs/{job_id}", "/api/inbound/{entry_id}"):
        assert "404" in paths[path]["get"]["responses"], path
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_errors_sent_match_the_problem_schema(live: RunningServer) -> None:
    documented = live.operator.get("/openapi.json").json()["components"]["schemas"]["Problem"]
    assert documented["properties"].keys() == Problem.model_fields.keys()
    anonymous = live.client()
    answers = [
        anonymous.get("/api/leads"),  # 401
        live.operator.get("/api/leads/nope"),  # 404
        live.operator.get("/api/leads", params={"limit": 0}),  # 422
        live.partner.post("/v1/lead", content=b"{", headers={"content-type": "application/json"}),
        live.partner.post("/v1/lead", content=b"x", headers={"content-type": "text/plain"}),
        live.operator.delete("/api/leads"),  # 405
    ]
    assert [a.status_code for a in answers] == [401, 404, 422, 400, 415, 405]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/problem+json")
        Problem.model_validate(answer.json(), strict=True)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/leads", "GET, OPTIONS"),
        ("/api/leads/1/messages", "GET, POST, OPTIONS"),
        ("/v1/lead", "POST, OPTIONS"),
        ("/api/businesses/b/destination", "GET, PUT, OPTIONS"),
    ],
)
def test_options_answers_with_allow(live: RunningServer, path: str, allow: str) -> None:
    answer = live.client().options(path)
    assert answer.status_code == 204, answer.text
    assert answer.headers["allow"] == allow
    refused = live.client().request("PATCH", path)
    assert refused.status_code == 405
    assert refused.headers["allow"] == allow
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert live.client().options("/no/such/path").status_code == 404
