"""Users in the store: adding (one account per e-mail, any case), roles, businesses, Argon2
hashes, the last owner kept, a new password ending every session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from tackbridge.dashboard.auth import load_session, open_session
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import user_sessions, users
from tackbridge.users import service
from tackbridge.users.passwords import PasswordError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    db = open_database(f"sqlite:///{tmp_path / 'u.db'}")
    migrate.upgrade(db.writer)
    with db.writer.begin() as connection:
        yield connection
    db.dispose()


def test_a_user_is_added_with_role_and_businesses(conn: Connection) -> None:
    user = service.add_user(
        conn,
        " Pat@Example.COM ",
        "long-password-1",
        role="member",
        businesses=["b2", "b1", "b2"],
        now=NOW,
    )
    assert user.email == "pat@example.com"
    assert user.role == "member"
    assert user.businesses == ("b1", "b2")
    assert not user.sees_every_business
    stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "long-password-1" not in stored


def test_one_account_per_address_whatever_its_case(conn: Connection) -> None:
    service.add_user(conn, "pat@example.com", "long-password-1", role="owner", now=NOW)
    with pytest.raises(service.UserExistsError):
        service.add_user(conn, "PAT@example.com", "long-password-2", role="admin", now=NOW)


@pytest.mark.parametrize(
    ("email", "password", "role", "field"),
    [
        ("not-an-address", "long-password-1", "owner", "email"),
        ("a@b.c", "long-password-1", "boss", "role"),
    ],
)
def test_invalid_users_name_the_field(
    conn: Connection, email: str, password: str, role: str, field: str
) -> None:
    with pytest.raises(service.InvalidUserError) as caught:
        service.add_user(conn, email, password, role=role, now=NOW)
    assert caught.value.field == field


def test_a_short_password_is_refused(conn: Connection) -> None:
    with pytest.raises(PasswordError):
        service.add_user(conn, "a@b.c", "short", role="owner", now=NOW)


def test_authenticate_checks_the_password(conn: Connection) -> None:
    service.add_user(conn, "pat@example.com", "long-password-1", role="admin", now=NOW)
    assert service.authenticate(conn, "PAT@example.com", "long-password-1") is not None
    assert service.authenticate(conn, "pat@example.com", "long-password-2") is None
    assert service.authenticate(conn, "nobody@example.com", "long-password-1") is None
    assert service.authenticate(conn, "", "") is None


def test_the_last_owner_stays(conn: Connection) -> None:
    service.add_user(conn, "owner@example.com", "long-password-1", role="owner", now=NOW)
    with pytest.raises(service.InvalidUserError):
        service.remove_user(conn, "owner@example.com")
    with pytest.raises(service.InvalidUserError):
        service.set_role(conn, "owner@example.com", "admin", now=NOW)
    service.add_user(conn, "second@example.com", "long-password-1", role="owner", now=NOW)
    service.remove_user(conn, "owner@example.com")
    assert [u.email for u in service.list_users(conn)] == ["second@example.com"]


def test_a_new_password_or_removal_ends_every_session(conn: Connection) -> None:
    owner = service.add_user(conn, "o@example.com", "long-password-1", role="owner", now=NOW)
    member = service.add_user(conn, "m@example.com", "long-password-1", role="member", now=NOW)
    owner_token = open_session(conn, owner, at=NOW)
    member_token = open_session(conn, member, at=NOW)
    assert load_session(conn, owner_token, at=NOW) is not None

    service.set_password(conn, "o@example.com", "long-password-2", now=NOW)
    assert load_session(conn, owner_token, at=NOW) is None
    assert service.authenticate(conn, "o@example.com", "long-password-2") is not None

    service.remove_user(conn, "m@example.com")
    assert load_session(conn, member_token, at=NOW) is None
    assert conn.execute(select(func.count()).select_from(user_sessions)).scalar_one() == 0


def test_sessions_expire_and_store_only_a_hash(conn: Connection) -> None:
    owner = service.add_user(conn, "o@example.com", "long-password-1", role="owner", now=NOW)
    token = open_session(conn, owner, at=NOW)
    stored = conn.execute(select(user_sessions.c.token_hash)).scalar_one()
    assert token not in stored
    assert load_session(conn, token, at=NOW.replace(day=7)) is not None
    assert load_session(conn, token, at=NOW.replace(day=9)) is None
    assert load_session(conn, token + "x", at=NOW) is None


def test_businesses_can_be_reassigned(conn: Connection) -> None:
    service.add_user(conn, "m@example.com", "long-password-1", role="member", now=NOW)
    changed = service.set_businesses(conn, "m@example.com", ["b9"], now=NOW)
    assert changed.businesses == ("b9",)
    with pytest.raises(service.UnknownUserError):
        service.set_businesses(conn, "x@example.com", ["b9"], now=NOW)
