from __future__ import annotations

from pathlib import Path

from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tests.support import stores
from tests.support.tackbridge import RunningServer


def test_upgrade_brings_a_fresh_database_to_head(tmp_path: Path) -> None:
    db = open_database(stores.url(tmp_path / "m.db", migrated=False))
    assert migrate.current_revision(db.writer) is None
    assert not migrate.is_current(db.writer)
    migrate.upgrade(db.writer)
    assert migrate.is_current(db.writer)
    migrate.upgrade(db.writer)  # idempotent
    assert migrate.current_revision(db.writer) == migrate.head_revision()


def test_migrations_match_the_schema(tmp_path: Path) -> None:
    """A model change without its migration would show up as a non-empty autogenerate diff."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tackbridge.store.schema import metadata

    db = open_database(stores.url(tmp_path / "m.db", migrated=False))
    migrate.upgrade(db.writer)
    with db.writer.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_readyz_reports_current_schema(server: RunningServer) -> None:
    response = server.operator.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"]["current"] == migrate.head_revision()
    assert server.operator.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_503_when_schema_is_behind(server: RunningServer) -> None:
    db = open_database(server.settings.resolved_database_url)
    with db.writer.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    response = server.operator.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"]["current"] == "older"
