"""The compare-and-swap units behind single-flight refresh, and the Fernet box: the traps other
integrations fell into, pinned one by one."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine

from tackbridge.connections import store
from tackbridge.connections.tokens import seal_tokens
from tackbridge.settings import Settings
from tackbridge.store.schema import metadata
from tackbridge.store.secrets import KEY_FILE, MissingSecretKeyError, load_box
from tackbridge.thumbtack import TokenSet

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=45)


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def _connect(conn: Connection, refresh: str | None = "sealed-refresh-1") -> int:
    return store.save_connected(
        conn,
        business_id="b1",
        business_name="Bob",
        api="v4",
        scopes=("offline_access",),
        tokens=store.SealedTokens("sealed-access-1", refresh, NOW + timedelta(hours=1), None),
        now=NOW,
    )


def test_only_one_owner_gets_the_lease_and_a_stale_one_is_taken_over(conn: Connection) -> None:
    version = _connect(conn)
    assert store.claim_refresh(conn, "b1", version=version, owner="a", now=NOW, lease=LEASE)
    assert not store.claim_refresh(conn, "b1", version=version, owner="b", now=NOW, lease=LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    assert store.claim_refresh(conn, "b1", version=version, owner="b", now=later, lease=LEASE)


def test_a_holder_that_lost_the_lease_can_neither_release_nor_store(conn: Connection) -> None:
    version = _connect(conn)
    store.claim_refresh(conn, "b1", version=version, owner="a", now=NOW, lease=LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    store.claim_refresh(conn, "b1", version=version, owner="b", now=later, lease=LEASE)

    store.release_refresh(conn, "b1", owner="a", error={"detail": "late"}, now=later)
    fresh = store.SealedTokens("sealed-access-a", "sealed-refresh-a", later, later)
    assert not store.save_refreshed(conn, "b1", version=version, owner="a", tokens=fresh, now=later)
    row = store.load(conn, "b1")
    assert row is not None
    assert (row.refresh_owner, row.token_version, row.access_token) == ("b", 1, "sealed-access-1")


def test_a_refresh_answer_without_a_refresh_token_keeps_the_stored_one(
    conn: Connection, tmp_path: Path
) -> None:
    version = _connect(conn)
    store.claim_refresh(conn, "b1", version=version, owner="a", now=NOW, lease=LEASE)
    answer = TokenSet.model_validate({"access_token": "new-access", "expires_in": 3600})
    settings = Settings(
        _env_file=None, secret_key="a passphrase, not a Fernet key", data_dir=tmp_path
    )
    sealed = seal_tokens(load_box(settings), answer, "v4", NOW)
    assert sealed.refresh_token is None
    assert store.save_refreshed(conn, "b1", version=version, owner="a", tokens=sealed, now=NOW)
    row = store.load(conn, "b1")
    assert row is not None
    assert row.refresh_token == "sealed-refresh-1"
    assert row.token_version == 2
    assert row.refresh_owner is None
    assert load_box(settings).open(row.access_token or "") == "new-access"


def test_needs_reconnect_only_for_the_version_that_failed(conn: Connection) -> None:
    version = _connect(conn)
    reconnected = _connect(conn)  # the pro connected again meanwhile
    assert reconnected == version + 1
    assert not store.mark_needs_reconnect(
        conn, "b1", version=version, owner=None, error={}, now=NOW
    )
    row = store.load(conn, "b1")
    assert row is not None
    assert row.state == "active"


def test_the_dev_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, mode="dev", data_dir=tmp_path)
    sealed = load_box(settings).seal("a token")
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_box(settings).open(sealed) == "a token"  # the same key after a restart
    assert "a token" not in sealed


def test_production_without_a_key_refuses(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, mode="production", data_dir=tmp_path)
    with pytest.raises(MissingSecretKeyError):
        load_box(settings)
    assert not (tmp_path / KEY_FILE).exists()
