"""``/users`` over HTTP: owners add, change and remove users (the users service's rules: the
last owner stays, a new password signs the user out); nobody else gets in."""

from __future__ import annotations

from sqlalchemy import create_engine

from tackbridge.users.service import User, authenticate, get_user_by_email
from tests.support.dashboard_users import signed_in_as
from tests.support.tackbridge import RunningServer


def _user(server: RunningServer, email: str) -> User | None:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return get_user_by_email(conn, email)
    finally:
        engine.dispose()


def _signs_in(server: RunningServer, email: str, password: str) -> bool:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return authenticate(conn, email, password) is not None
    finally:
        engine.dispose()


def test_an_owner_adds_changes_and_removes_a_user(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json={"leadID": "L1", "business": {"businessID": "B1"}})
    owner = signed_in_as(server, "owner@example.com", role="owner")
    page = owner.client.get("/users")
    assert page.status_code == 200
    assert "owner@example.com" in page.text

    short = owner.post(
        "/users", {"email": "ann@example.com", "password": "short", "role": "member"}
    )
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    assert 'value="ann@example.com"' in short.text  # the form keeps what was typed
    added = owner.client.post(
        "/users",
        data={
            "csrf": owner.csrf,
            "email": "Ann@Example.com",
            "password": "ann-password-1",
            "role": "member",
            "business": ["B1", "B2"],
        },
    )
    assert added.status_code == 303, added.text
    ann = _user(server, "ann@example.com")
    assert ann is not None
    assert (ann.role, ann.businesses) == ("member", ("B1", "B2"))
    listed = owner.client.get(added.headers["location"]).text
    assert "ann@example.com is added." in listed
    again = owner.post("/users", {"email": "ann@example.com", "password": "ann-password-1"})
    assert again.status_code == 422
    assert "already exists" in again.text

    user_id = ann.id
    changed = owner.client.post(
        f"/users/{user_id}",
        data={
            "csrf": owner.csrf,
            "role": "admin",
            "business": ["B1"],
            "password": "new-password-2",
        },
    )
    assert changed.status_code == 303, changed.text
    ann = _user(server, "ann@example.com")
    assert ann is not None
    assert (ann.role, ann.businesses) == ("admin", ("B1",))
    assert _signs_in(server, "ann@example.com", "new-password-2")
    assert not _signs_in(server, "ann@example.com", "ann-password-1")

    removed = owner.post(f"/users/{user_id}/remove")
    assert removed.status_code == 303
    assert "The user is removed." in owner.client.get(removed.headers["location"]).text
    assert _user(server, "ann@example.com") is None


def test_the_last_owner_stays(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    me = _user(server, "owner@example.com")
    assert me is not None
    answer = owner.post(f"/users/{me.id}/remove")
    assert answer.status_code == 422
    assert "the last owner" in answer.text
    demoted = owner.post(f"/users/{me.id}", {"role": "member"})
    assert demoted.status_code == 422
    still = _user(server, "owner@example.com")
    assert still is not None
    assert still.role == "owner"


def test_only_owners_get_in_and_forms_need_their_token(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    for role in ("admin", "member"):
        other = signed_in_as(server, f"{role}@example.com", role=role)
        assert other.client.get("/users").status_code == 404
        attempt = other.post("/users", {"email": "x@example.com", "password": "x-password-1"})
        assert attempt.status_code == 404
        assert 'href="/users"' not in other.client.get("/insights").text
    assert _user(server, "x@example.com") is None
    forged = owner.client.post(
        "/users", data={"email": "x@example.com", "password": "x-password-1", "role": "owner"}
    )
    assert forged.status_code == 403
    assert _user(server, "x@example.com") is None


MY_FORMS = (
    "/deliveries/jobs/1/retry",
    "/connections/connect",
    "/connections/B1/enable",
    "/connections/B1/disable",
    "/connections/B1/disconnect",
    "/connections/B1/destination",
    "/connections/B1/autoreply",
    "/users",
    "/users/1",
    "/users/1/remove",
)


def test_every_settings_form_needs_the_sessions_csrf_token(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    for path in MY_FORMS:
        assert owner.client.post(path, data={"role": "member"}).status_code == 403, path
        wrong = owner.client.post(path, data={"csrf": "not-the-token", "role": "member"})
        assert wrong.status_code == 403, path
    headers = {"X-CSRF-Token": "not-the-token"}
    preview = owner.client.post("/dashboard/autoreply/preview", json={}, headers=headers)
    assert preview.status_code == 403


def test_notices_never_show_text_from_the_address(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    forged = owner.client.get("/users", params={"notice": "added", "who": "99999"}).text
    assert "is added." not in forged
    assert owner.client.get("/users", params={"who": "Call 555-0100 now"}).status_code == 422
    page = owner.client.get(
        "/connections", params={"notice": "disabled", "business": "Call 555-0100 now"}
    ).text
    assert "Call 555-0100" not in page


def test_changing_or_removing_a_user_who_is_not_there_is_a_404(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    for path in ("/users/99999", "/users/99999/remove"):
        answer = owner.post(path, {"role": "member"})
        assert answer.status_code == 404, path
        assert "there is no user 99999" in answer.text, path
    assert _user(server, "owner@example.com") is not None
