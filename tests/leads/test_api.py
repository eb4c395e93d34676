"""The operator read API: auth, filters, cursor pagination."""

from __future__ import annotations

from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer


def _lead(lead_id: str, business_id: str, status: str | None = None) -> dict[str, object]:
    return doc_payload("v2_lead") | {
        "leadID": lead_id,
        "business": {"businessID": business_id, "name": f"Business {business_id}"},
        "status": status,
    }


def test_operator_api_requires_the_token(server: RunningServer) -> None:
    with server.client() as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            response = anonymous.get("/api/leads", headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_cursor_pagination_walks_every_lead_once(server: RunningServer) -> None:
    for i in range(7):
        server.partner.post("/v1/lead", json=_lead(f"L{i}", "B1"))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = server.operator.get("/api/leads", params=params).json()
        seen += [item["leadID"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"L{i}" for i in reversed(range(7))]
    assert pages == 3


def test_filters(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=_lead("A", "B1", "Open"))
    server.partner.post("/v1/lead", json=_lead("B", "B2", "Canceled"))
    by_business = server.operator.get("/api/leads", params={"business": "B2"}).json()
    assert [i["leadID"] for i in by_business["items"]] == ["B"]
    by_status = server.operator.get("/api/leads", params={"status": "Open"}).json()
    assert [i["leadID"] for i in by_status["items"]] == ["A"]
    future = server.operator.get("/api/leads", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["items"] == []
    past = server.operator.get("/api/leads", params={"since": "2000-01-01T00:00:00Z"}).json()
    assert len(past["items"]) == 2


def test_bad_query_parameters_are_422_problems(server: RunningServer) -> None:
    for params in ({"cursor": "garbage!"}, {"limit": 0}, {"since": "yesterday"}):
        response = server.operator.get("/api/leads", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


def test_unknown_lead_is_404_problem(server: RunningServer) -> None:
    response = server.operator.get("/api/leads/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "no lead 'nope'"


def test_openapi_is_served(server: RunningServer) -> None:
    schema = server.operator.get("/openapi.json").json()
    assert {"/v1/lead", "/v1/message", "/v1/lead/update", "/v1/review", "/v4/webhooks"} <= set(
        schema["paths"]
    )
    assert "LegacyLead" in schema["components"]["schemas"]
