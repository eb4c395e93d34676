"""The connect flow end to end: tackbridge's link, the sandbox's consent page as the pro, the
callback, and what is stored; plus every way a callback can be wrong."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, select

from tackbridge.connections import flow
from tackbridge.connections.service import Connections
from tackbridge.store.schema import connections, oauth_states
from tests.support.connections import Stack
from tests.support.sandbox import bearer, query_of
from tests.support.tackbridge import in_process


def _raw_connection(stack: Stack, business_id: str) -> dict[str, object]:
    engine = create_engine(stack.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(select(connections).where(connections.c.business_id == business_id))
                .mappings()
                .one()
            )
            return dict(row)
    finally:
        engine.dispose()


def _tb_problem(response: object, status: int) -> dict[str, object]:
    import httpx2

    assert isinstance(response, httpx2.Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


async def test_v4_connect_end_to_end_stores_an_encrypted_working_connection(
    stack: Stack, local: Connections
) -> None:
    business_id = stack.sandbox.business_ids()[1]
    start = stack.operator.get("/connect/thumbtack")
    assert start.status_code == 307
    query = query_of(start.headers["location"])
    assert start.headers["location"].startswith(stack.sandbox.url + "/oauth2/auth?")
    assert len(query["state"]) >= 8
    assert query["redirect_uri"] == stack.url + "/oauth/callback"
    assert "offline_access" in query["scope"].split()
    assert query["code_challenge_method"] == "S256"

    page = stack.connect(business_id)
    assert "Connected" in page.text

    view = stack.connection(business_id)
    assert view["state"] == "active"
    assert view["api"] == "v4"
    assert "supply::messages.write" in view["scopes"]
    assert view["accessExpiresAt"] is not None
    assert view["businessName"] == next(
        b["name"] for b in stack.sandbox.inspect("businesses") if b["businessID"] == business_id
    )

    grant = await local.tokens.access_token(business_id)
    assert grant.api == "v4"
    # The plaintext works against Thumbtack, and is found neither in the store nor in the API.
    works = stack.sandbox.get("/api/v4/businesses", headers=bearer(grant.access_token))
    assert works.status_code == 200
    assert works.json()["data"][0]["businessID"] == business_id
    raw = _raw_connection(stack, business_id)
    assert grant.access_token not in str(raw)
    assert grant.access_token not in stack.operator.get("/api/connections").text
    codes = [c for c in stack.sandbox.inspect("tokens")["codes"] if c["businessID"] == business_id]
    assert len(codes) == 1
    assert codes[0]["pkce"] is True
    assert codes[0]["usedAt"] is not None


async def test_legacy_connect_end_to_end(stack: Stack, local: Connections) -> None:
    business_id = stack.sandbox.business_ids()[0]
    start = stack.operator.get("/connect/thumbtack", params={"api": "legacy"})
    assert start.headers["location"].startswith(stack.sandbox.url + "/services/partner-connect/")
    stack.connect(business_id, api="legacy")
    view = stack.connection(business_id)
    assert (view["state"], view["api"]) == ("active", "legacy")
    assert set(view["scopes"]) == {"messages", "targeting"}
    grant = await local.tokens.access_token(business_id)
    info = stack.sandbox.get("/v2/get-thumbtack-info", headers=bearer(grant.access_token))
    assert info.status_code == 200
    assert info.json()["business_pk"] == business_id


def test_a_state_is_single_use(stack: Stack) -> None:
    business_id = stack.sandbox.business_ids()[0]
    back = stack.consent(business_id)
    assert stack.browser.get(back.headers["location"]).status_code == 200
    again = stack.browser.get(back.headers["location"])
    body = _tb_problem(again, 400)
    assert body["type"] == "urn:tackbridge:problem:invalid-state"


def test_callbacks_without_a_known_state_or_code_are_refused(stack: Stack) -> None:
    assert _tb_problem(stack.browser.get("/oauth/callback?code=abc"), 400)["type"] == (
        "urn:tackbridge:problem:invalid-state"
    )
    unknown = stack.browser.get("/oauth/callback", params={"code": "abc", "state": "x" * 30})
    assert _tb_problem(unknown, 400)["type"] == "urn:tackbridge:problem:invalid-state"
    start = stack.operator.get("/connect/thumbtack")
    state = query_of(start.headers["location"])["state"]
    no_code = stack.browser.get("/oauth/callback", params={"state": state})
    assert _tb_problem(no_code, 400)["type"] == "urn:tackbridge:problem:missing-code"
    assert stack.connections() == []


def test_a_denied_consent_is_a_clear_400(stack: Stack) -> None:
    start = stack.operator.get("/connect/thumbtack")
    location = start.headers["location"]
    form = {**query_of(location), "business_id": stack.sandbox.business_ids()[0]}
    denied = stack.browser.post(stack.sandbox.url + "/oauth2/auth", data={**form, "action": "deny"})
    assert denied.status_code == 302
    answer = stack.browser.get(denied.headers["location"])
    body = _tb_problem(answer, 400)
    assert "access_denied" in str(body["detail"])
    assert stack.connections() == []


def test_an_expired_code_is_a_clear_400(stack: Stack) -> None:
    stack.sandbox.faults(expired_codes=True)
    back = stack.consent(stack.sandbox.business_ids()[0])
    body = _tb_problem(stack.browser.get(back.headers["location"]), 400)
    assert body["type"] == "urn:tackbridge:problem:invalid-code"
    assert stack.connections() == []


async def test_an_expired_state_is_refused(stack: Stack, local: Connections) -> None:
    url = await flow.start(local, api="v4", scopes=None, redirect_uri=stack.url + "/oauth/callback")
    state = query_of(url)["state"]
    engine = create_engine(stack.settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            row = conn.execute(select(oauth_states).where(oauth_states.c.state == state)).one()
            conn.execute(
                oauth_states.update()
                .where(oauth_states.c.state == state)
                .values(expires_at=row.created_at - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    answer = stack.browser.get("/oauth/callback", params={"state": state, "code": "whatever"})
    assert _tb_problem(answer, 400)["type"] == "urn:tackbridge:problem:invalid-state"


def test_connect_and_the_operator_api_need_the_operator_token(stack: Stack) -> None:
    assert stack.browser.get("/connect/thumbtack").status_code == 401
    assert stack.browser.get("/api/connections").status_code == 401
    assert stack.browser.post("/api/connections/123/disconnect").status_code == 401
    bad = stack.operator.get("/connect/thumbtack", params={"api": "v5"})
    _tb_problem(bad, 422)


def test_without_a_secret_key_production_answers_503_not_plaintext(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"secret_key": None})
    with in_process(settings) as served, served.client() as client:
        answer = client.get(
            "/connect/thumbtack",
            headers={"Authorization": stack.operator.headers["authorization"]},
        )
    body = _tb_problem(answer, 503)
    assert "TACKBRIDGE_SECRET_KEY" in str(body["detail"])
