"""Schema migrations: apply them, and tell whether the database is at the newest revision.

Several processes may start at once on one PostgreSQL: ``upgrade`` holds the migrations lock
(``store.locks``) for its transaction, so one process migrates and the others, once it commits,
find the schema at head and do nothing. On SQLite the write transaction excludes the others.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from tackbridge.store.locks import Lock, xact_lock

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str | None:
    head: str | None = ScriptDirectory.from_config(_config()).get_current_head()
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        revision: str | None = MigrationContext.configure(conn).get_current_revision()
        return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as conn:
        xact_lock(conn, Lock.MIGRATIONS)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the schema (a developer tool)."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
