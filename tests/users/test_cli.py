"""``tackbridge users``, run as a user would: the password from standard input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tackbridge.cli import app
from tackbridge.store.database import open_database
from tackbridge.users.service import authenticate

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TACKBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("TACKBRIDGE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def _signs_in(env: Path, email: str, password: str) -> bool:
    db = open_database(f"sqlite:///{env / 'var' / 'tackbridge.db'}")
    try:
        with db.reader.connect() as conn:
            return authenticate(conn, email, password) is not None
    finally:
        db.dispose()


def test_add_list_set_password_remove(env: Path) -> None:
    added = runner.invoke(
        app, ["users", "add", "pat@example.com", "--role", "owner"], input="first-password\n"
    )
    assert added.exit_code == 0, added.output
    assert _signs_in(env, "pat@example.com", "first-password")
    member = runner.invoke(
        app,
        [
            "users",
            "add",
            "sam@example.com",
            "--role",
            "member",
            "--business",
            "b1",
            "--business",
            "b2",
        ],
        input="member-password\n",
    )
    assert member.exit_code == 0, member.output
    assert "no lead or connection names b1, b2 yet" in member.output

    listed = runner.invoke(app, ["users", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "pat@example.com" in listed.output
    assert "every business" in listed.output
    assert "b1, b2" in listed.output
    assert "first-password" not in listed.output

    changed = runner.invoke(
        app, ["users", "set-password", "PAT@example.com"], input="second-password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert _signs_in(env, "pat@example.com", "second-password")
    assert not _signs_in(env, "pat@example.com", "first-password")

    removed = runner.invoke(app, ["users", "remove", "sam@example.com"])
    assert removed.exit_code == 0, removed.output
    assert not _signs_in(env, "sam@example.com", "member-password")


def test_mistakes_exit_2_and_say_why(env: Path) -> None:
    short = runner.invoke(app, ["users", "add", "pat@example.com", "--role", "owner"], input="x\n")
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
    role = runner.invoke(app, ["users", "add", "pat@example.com", "--role", "boss"], input="")
    assert role.exit_code == 2
    assert "--role" in role.output
    empty = runner.invoke(app, ["users", "add", "pat@example.com", "--role", "owner"], input="")
    assert empty.exit_code == 2
    assert "no password" in empty.output
    unknown = runner.invoke(app, ["users", "remove", "nobody@example.com"])
    assert unknown.exit_code == 2
    assert "no user" in unknown.output


def test_the_role_is_required(env: Path) -> None:
    missing = runner.invoke(app, ["users", "add", "pat@example.com"], input="long-password-1\n")
    assert missing.exit_code == 2
    assert "--role" in missing.output
