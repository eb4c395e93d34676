"""The dashboard's guards over HTTP: every page and dashboard endpoint refuses a signed-out
visitor (303 to the sign-in page, or 401), a form without its CSRF token gets 403, repeated
wrong passwords are refused for a while, and the session cookie's flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from tackbridge.dashboard.pages import PUBLIC
from tackbridge.dashboard.web import routers
from tests.fixtures import doc_payload
from tests.support.dashboard import OWNER, csrf_of, sign_in, signed_in_client
from tests.support.tackbridge import RunningServer, in_process, make_settings


def _dashboard_routes() -> list[tuple[str, str]]:
    found = []
    for router in routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found.extend((method, route.path) for method in sorted(route.methods))
    return sorted(found)


ROUTES = _dashboard_routes()


def test_the_dashboard_has_its_pages() -> None:
    paths = {path for _, path in ROUTES}
    assert {"/", "/login", "/logout", "/leads/{lead_id}", "/dashboard/events/inbox"} <= paths


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC])
def test_signed_out_every_route_redirects_or_is_401(
    dash: RunningServer, method: str, path: str
) -> None:
    url = re.sub(r"\{[^}]+\}", "x", path)
    with dash.client(follow_redirects=False) as client:
        answer = client.request(method, url, data={"csrf": "x"} if method == "POST" else None)
    if path.startswith("/dashboard/"):
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    else:
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"].startswith("/login")


def test_sign_in_comes_back_to_the_page_asked_for(dash: RunningServer) -> None:
    with dash.client(follow_redirects=False) as client:
        first = client.get("/leads/abc?x=1")
        assert first.headers["location"] == "/login?next=/leads/abc%3Fx%3D1"
        answer = sign_in(client, *OWNER, page=first.headers["location"], next_url="/leads/abc?x=1")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/leads/abc?x=1"


def test_sign_in_never_sends_the_browser_elsewhere(dash: RunningServer) -> None:
    with dash.client(follow_redirects=False) as client:
        answer = sign_in(client, *OWNER, next_url="//evil.example/steal")
    assert answer.headers["location"] == "/"


def _lead(dash: RunningServer) -> str:
    payload = doc_payload("v1_lead")
    stored = dash.partner.post("/v1/lead", json=payload)
    assert stored.status_code == 200, stored.text
    return str(payload["leadID"])


def test_forms_without_their_csrf_token_get_403(dash: RunningServer) -> None:
    lead_id = _lead(dash)
    with signed_in_client(dash) as client:
        page = client.get(f"/leads/{lead_id}")
        token = csrf_of(page.text)
        for path, form in (
            (f"/leads/{lead_id}/reply", {"text": "Hello", "nonce": "0" * 32}),
            (f"/leads/{lead_id}/job-status", {"status": "appt_scheduled"}),
            ("/logout", {}),
        ):
            assert client.post(path, data=form).status_code == 403
            assert client.post(path, data={**form, "csrf": "wrong"}).status_code == 403
            # and not from another origin's JSON body either
            assert client.post(path, json={**form, "csrf": token}).status_code == 403
        assert client.get(f"/leads/{lead_id}").status_code == 200  # still signed in
        ok = client.post(f"/leads/{lead_id}/reply", data={"text": "Hello", "csrf": token})
        assert ok.status_code == 303
    thread = dash.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    assert [m["text"] for m in thread] == ["Hello"]


def test_the_sign_in_form_needs_its_own_token(dash: RunningServer) -> None:
    with dash.client(follow_redirects=False) as client:
        client.get("/login")
        answer = client.post("/login", data={"email": OWNER[0], "password": OWNER[1]})
        assert answer.status_code == 403
        assert "tackbridge_session" not in answer.headers.get("set-cookie", "")


def test_the_same_form_sent_twice_is_one_reply(dash: RunningServer) -> None:
    lead_id = _lead(dash)
    with signed_in_client(dash) as client:
        token = csrf_of(client.get(f"/leads/{lead_id}").text)
        form = {"text": "Only once", "csrf": token, "nonce": "a" * 32}
        assert client.post(f"/leads/{lead_id}/reply", data=form).status_code == 303
        assert client.post(f"/leads/{lead_id}/reply", data=form).status_code == 303
    thread = dash.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    assert [m["text"] for m in thread] == ["Only once"]


def test_repeated_wrong_passwords_are_refused_for_a_while(dash: RunningServer) -> None:
    allowed = dash.settings.auth_failures_allowed
    with dash.client(follow_redirects=False) as client:
        answers = [sign_in(client, OWNER[0], "wrong-password").status_code for _ in range(allowed)]
        assert answers == [401] * allowed
        refused = sign_in(client, OWNER[0], OWNER[1])  # even the right one, for now
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in refused.text
        assert "tackbridge_session" not in refused.headers.get("set-cookie", "")
    metrics = dash.operator.get("/metrics").text
    assert 'tackbridge_refusals_total{reason="wrong-password",surface="dashboard"}' in metrics


def test_sign_out_ends_the_session(dash: RunningServer) -> None:
    with signed_in_client(dash) as client:
        token = csrf_of(client.get("/").text)
        kept = client.cookies.get("tackbridge_session")
        out = client.post("/logout", data={"csrf": token})
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
    with dash.client(follow_redirects=False, cookies={"tackbridge_session": kept or ""}) as again:
        assert again.get("/").status_code == 303  # the old cookie signs nobody in


def test_the_session_cookie_is_httponly_lax_and_not_secure_in_dev(dash: RunningServer) -> None:
    with dash.client(follow_redirects=False) as client:
        answer = sign_in(client, *OWNER)
    cookie = answer.headers["set-cookie"].lower()
    assert "tackbridge_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie.split("tackbridge_login_csrf")[0]


def test_outside_dev_the_cookies_are_secure(tmp_path: Path) -> None:
    with in_process(make_settings(tmp_path)) as srv, srv.client() as client:
        form = client.get("/login")
    assert "secure" in form.headers["set-cookie"].lower()
    assert "httponly" in form.headers["set-cookie"].lower()


def test_pages_carry_a_strict_content_security_policy(dash: RunningServer) -> None:
    with dash.client() as client:
        answer = client.get("/login")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
