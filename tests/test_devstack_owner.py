"""``tackbridge dev`` signs the developer in: a dev owner with the documented password, added
once (a changed password is kept, and the banner says so)."""

from __future__ import annotations

from pathlib import Path

from tackbridge.core.clock import now
from tackbridge.devstack import DEV_OWNER_EMAIL, DEV_OWNER_PASSWORD, ensure_dev_owner
from tackbridge.store.database import open_database
from tackbridge.users.service import authenticate, list_users, set_password
from tests.support.tackbridge import make_settings


def test_the_dev_owner_is_added_once_and_signs_in(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mode="dev")
    assert ensure_dev_owner(settings) == f"{DEV_OWNER_EMAIL} / {DEV_OWNER_PASSWORD}"
    assert ensure_dev_owner(settings) == f"{DEV_OWNER_EMAIL} / {DEV_OWNER_PASSWORD}"
    db = open_database(settings.resolved_database_url)
    try:
        with db.writer.begin() as conn:
            assert [(u.email, u.role) for u in list_users(conn)] == [(DEV_OWNER_EMAIL, "owner")]
            assert authenticate(conn, DEV_OWNER_EMAIL, DEV_OWNER_PASSWORD) is not None
            set_password(conn, DEV_OWNER_EMAIL, "my-own-password", now=now())
    finally:
        db.dispose()
    assert "password was changed" in ensure_dev_owner(settings)
