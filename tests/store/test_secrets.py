"""Keys at rest: a passphrase is stretched by scrypt with a stored salt, values sealed under the
old unsalted SHA-256 derivation still open and are resealed at start-up, and the key, salt and
database files are the owner's alone."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import insert, select

from tackbridge.runtime import Runtime
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import business_settings, connections, oauth_states
from tackbridge.store.secrets import (
    KEY_FILE,
    SALT_FILE,
    SecretBox,
    load_box,
    reseal_legacy,
    uses_passphrase,
)

PASSPHRASE = "correct horse battery staple"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def settings_in(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"secret_key": PASSPHRASE, "data_dir": data_dir}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def old_seal(passphrase: str, plaintext: str) -> str:
    """How a passphrase sealed before the KDF: Fernet keyed with one unsalted SHA-256."""
    key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())
    return Fernet(key).encrypt(plaintext.encode()).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_passphrase_is_stretched_with_a_stored_salt(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    assert uses_passphrase(settings)
    sealed = load_box(settings).seal("a token")
    salt_file = tmp_path / SALT_FILE
    assert mode(salt_file) == 0o600
    salt = base64.urlsafe_b64decode(salt_file.read_text() + "==")
    assert len(salt) == 16
    assert sealed.startswith("scrypt1:")
    assert "a token" not in sealed
    # Not the old derivation's key, nor any key without the salt.
    old = Fernet(base64.urlsafe_b64encode(hashlib.sha256(PASSPHRASE.encode()).digest()))
    with pytest.raises(InvalidToken):
        old.decrypt(sealed.rpartition(":")[2].encode())
    assert load_box(settings).open(sealed) == "a token"  # the same salt after a restart
    assert salt_file.read_text() == (tmp_path / SALT_FILE).read_text()


def test_another_installation_with_the_passphrase_reads_the_value(tmp_path: Path) -> None:
    here = load_box(settings_in(tmp_path / "a"))
    there = load_box(settings_in(tmp_path / "b"))
    assert (tmp_path / "a" / SALT_FILE).read_text() != (tmp_path / "b" / SALT_FILE).read_text()
    assert there.open(here.seal("shared")) == "shared"
    with pytest.raises(InvalidToken):
        load_box(settings_in(tmp_path / "c", secret_key="another passphrase")).open(
            here.seal("shared")
        )


def test_a_tampered_salt_does_not_open(tmp_path: Path) -> None:
    box = load_box(settings_in(tmp_path))
    sealed = box.seal("x")
    _, salt, token = sealed.split(":")
    flipped = ("A" if salt[0] != "A" else "B") + salt[1:]
    for bad in (f"scrypt1:{flipped}:{token}", f"scrypt1:!!:{token}", "scrypt1:abc"):
        with pytest.raises(InvalidToken):
            box.open(bad)


def test_a_fernet_key_is_used_as_given(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = settings_in(tmp_path, secret_key=key)
    assert not uses_passphrase(settings)
    sealed = load_box(settings).seal("a token")
    assert Fernet(key.encode()).decrypt(sealed.encode()) == b"a token"
    assert not (tmp_path / SALT_FILE).exists()


def test_the_old_derivation_still_opens(tmp_path: Path) -> None:
    box = load_box(settings_in(tmp_path))
    old = old_seal(PASSPHRASE, "from before")
    assert box.needs_reseal(old)
    assert box.open(old) == "from before"
    assert not box.needs_reseal(box.seal("new"))


def test_an_old_database_still_decrypts_and_is_resealed_at_start(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, mode="production", webhook_username="t",
                           webhook_password="p", api_token="a")  # fmt: skip
    db = open_database(settings.resolved_database_url)
    migrate.upgrade(db.writer)
    with db.writer.begin() as conn:
        conn.execute(
            insert(connections).values(
                business_id="b1", api="v4", state="active", scopes=[],
                access_token=old_seal(PASSPHRASE, "access-1"),
                refresh_token=old_seal(PASSPHRASE, "refresh-1"),
                token_version=1, connected_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(oauth_states).values(
                state="st", api="v4", scopes=[], code_verifier=old_seal(PASSPHRASE, "verifier"),
                redirect_uri="https://x/cb", created_at=NOW, expires_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(business_settings).values(
                business_id="b1", destination="webhook",
                destination_secret=old_seal(PASSPHRASE, "whsec_old"), updated_at=NOW,
            )
        )  # fmt: skip
        # A row another key sealed is left alone, not lost.
        foreign = old_seal("other", "x")
        conn.execute(
            insert(business_settings).values(
                business_id="b2", destination_secret=foreign, updated_at=NOW
            )
        )
    db.dispose()

    runtime = Runtime.open(settings)
    try:
        with runtime.services.db.reader.connect() as conn:
            row = conn.execute(select(connections)).one()
            verifier = conn.execute(select(oauth_states.c.code_verifier)).scalar_one()
            secrets = dict(
                conn.execute(
                    select(business_settings.c.business_id, business_settings.c.destination_secret)
                ).all()
            )
        box = runtime.services.box()
        values = [row.access_token, row.refresh_token, verifier, secrets["b1"]]
        assert all(v.startswith("scrypt1:") for v in values), values
        assert [box.open(v) for v in values] == ["access-1", "refresh-1", "verifier", "whsec_old"]
        assert secrets["b2"] == foreign
        assert row.token_version == 1  # resealing is not a refresh
        # Resealing again finds nothing to do.
        assert reseal_legacy(runtime.services.db.writer, box) == 0
    finally:
        runtime.close()


def test_database_files_are_created_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        data = tmp_path / "data"
        settings = settings_in(data)
        db = open_database(settings.resolved_database_url)
        migrate.upgrade(db.writer)
        with db.writer.begin() as conn:
            conn.execute(insert(business_settings).values(business_id="b", updated_at=NOW))
        database = data / "tackbridge.db"
        files = [database, data / "tackbridge.db-wal", data / "tackbridge.db-shm"]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(data) == 0o700
        db.dispose()
    finally:
        os.umask(old_umask)


def test_a_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "tackbridge.db"
    database.touch()
    database.chmod(0o644)
    open_database(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


def test_the_dev_key_file_is_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o000)
    try:
        box = load_box(Settings(_env_file=None, mode="dev", data_dir=tmp_path / "dev"))
        assert mode(tmp_path / "dev" / KEY_FILE) == 0o600
        assert isinstance(box, SecretBox)
    finally:
        os.umask(old_umask)
