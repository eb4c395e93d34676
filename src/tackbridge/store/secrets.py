"""The Fernet box that encrypts OAuth tokens (and PKCE verifiers, destination secrets) before
they reach the store.

The key comes from ``TACKBRIDGE_SECRET_KEY``: a Fernet key (32 random bytes, urlsafe base64)
is used as given; any other string is a passphrase, stretched by scrypt (n=2**15, r=8, p=1)
with a random 16-byte salt. The salt this installation seals with is kept in the data folder
(``secret.salt``, mode 0600, made once) and is also written into every value it seals
(``scrypt1:<salt>:<Fernet token>``), so any process holding the passphrase reads any row, even
one sealed elsewhere with another salt. Values sealed before (a Fernet token alone, its key one
unsalted SHA-256 of the passphrase) still open, and :func:`reseal_legacy` (run at start-up)
seals them again under the KDF.

In dev mode, when no key is set, one is generated once into the data folder (``secret.key``,
mode 0600) so restarts can still read old rows. Production without a key cannot store tokens
at all: plaintext at rest is never the fallback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import Column, Engine, Table, select, update

from tackbridge.settings import Settings
from tackbridge.store.schema import business_settings, connections, oauth_states

__all__ = [
    "KEY_FILE",
    "SALT_FILE",
    "SEALED_COLUMNS",
    "MissingSecretKeyError",
    "SecretBox",
    "load_box",
    "reseal_legacy",
    "uses_passphrase",
]

log = logging.getLogger("tackbridge.store.secrets")

KEY_FILE = "secret.key"
SALT_FILE = "secret.salt"
# The KDF's parameters are named by the prefix: another choice later gets another prefix.
_PREFIX = "scrypt1:"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SALT_BYTES = 16

#: Every column that holds a sealed value, with its table's key (for :func:`reseal_legacy`).
SEALED_COLUMNS: tuple[tuple[Table, tuple[str, ...], str], ...] = (
    (connections, ("business_id",), "access_token"),
    (connections, ("business_id",), "refresh_token"),
    (oauth_states, ("state",), "code_verifier"),
    (business_settings, ("business_id",), "destination_secret"),
)


class MissingSecretKeyError(RuntimeError):
    """Production mode without ``TACKBRIDGE_SECRET_KEY``: tokens cannot be stored."""

    def __init__(self) -> None:
        super().__init__(
            "TACKBRIDGE_SECRET_KEY is not set: Thumbtack connections need it to encrypt tokens "
            "at rest (generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        )


@lru_cache(maxsize=64)
def _stretch(passphrase: bytes, salt: bytes) -> bytes:
    """The Fernet key of a passphrase and salt (~0.1 s each: computed once per process)."""
    kdf = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return base64.urlsafe_b64encode(kdf.derive(passphrase))


def _legacy_key(passphrase: bytes) -> bytes:
    # How passphrases became keys before the KDF: kept to read (and reseal) old rows only.
    return base64.urlsafe_b64encode(hashlib.sha256(passphrase).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecretBox:
    """Encrypts and decrypts short secrets; the key never shows in ``repr``.

    ``SecretBox(key)`` with a Fernet key seals plain Fernet tokens;
    ``SecretBox.from_passphrase(passphrase, salt)`` seals ``scrypt1:`` values and opens those
    of any salt, and the plain tokens of the old unsalted derivation."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._passphrase: bytes | None = None
        self._prefix = ""
        self._legacy: Fernet | None = None

    @classmethod
    def from_passphrase(cls, passphrase: str, salt: bytes) -> SecretBox:
        raw = passphrase.strip().encode("utf-8")
        box = cls(_stretch(raw, salt))
        box._passphrase = raw
        box._prefix = f"{_PREFIX}{_b64(salt)}:"
        box._legacy = Fernet(_legacy_key(raw))
        return box

    def seal(self, plaintext: str) -> str:
        token = self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")
        return self._prefix + token

    def open(self, sealed: str) -> str:
        """The plaintext; raises ``InvalidToken`` if the key changed or the row was altered."""
        if sealed.startswith(_PREFIX):
            if self._passphrase is None:
                raise InvalidToken
            salt_text, sep, token = sealed[len(_PREFIX) :].partition(":")
            try:
                salt = _unb64(salt_text)
            except (binascii.Error, ValueError):
                raise InvalidToken from None
            if not sep or len(salt) != _SALT_BYTES:
                raise InvalidToken
            fernet = Fernet(_stretch(self._passphrase, salt))
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        if self._legacy is not None:
            return self._legacy.decrypt(sealed.encode("ascii")).decode("utf-8")
        return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")

    def needs_reseal(self, sealed: str) -> bool:
        """Whether ``sealed`` is under the old unsalted derivation of the passphrase."""
        return self._legacy is not None and not sealed.startswith(_PREFIX)

    def __repr__(self) -> str:
        return "SecretBox(key=[REDACTED])"


def is_fernet_key(secret: str) -> bool:
    """Whether a secret string is a Fernet key (rather than a passphrase)."""
    try:
        return len(base64.urlsafe_b64decode(secret.strip().encode("utf-8"))) == 32
    except (binascii.Error, ValueError):
        return False


def load_box(settings: Settings) -> SecretBox:
    """The box for these settings (see the module docstring for where the key comes from)."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        secret = settings.secret_key.get_secret_value()
        if is_fernet_key(secret):
            return SecretBox(secret.strip().encode("utf-8"))
        return SecretBox.from_passphrase(secret, _salt(settings.data_dir / SALT_FILE))
    if not settings.is_dev:
        raise MissingSecretKeyError()
    return SecretBox(_dev_key(settings.data_dir / KEY_FILE))


def reseal_legacy(engine: Engine, box: SecretBox) -> int:
    """Seal again, under the KDF, every stored value still under the old derivation; how many.

    Each row is updated only if it still holds the value read (another process may have
    refreshed the token meanwhile: its new value is already sealed right). A value that does
    not open (another key) is left as it is and counted in the log line."""
    resealed = unreadable = 0
    for table, keys, name in SEALED_COLUMNS:
        column: Column[str] = table.c[name]
        key_columns = [table.c[k] for k in keys]
        with engine.connect() as conn:
            rows = conn.execute(select(*key_columns, column).where(column.is_not(None))).all()
        for row in rows:
            sealed = row[-1]
            if not box.needs_reseal(sealed):
                continue
            try:
                fresh = box.seal(box.open(sealed))
            except InvalidToken:
                unreadable += 1
                continue
            where = [c == v for c, v in zip(key_columns, row[:-1], strict=True)]
            with engine.begin() as conn:
                done = conn.execute(
                    update(table).where(*where, column == sealed).values({name: fresh})
                )
                resealed += done.rowcount
    if resealed or unreadable:
        log.info(
            "secrets resealed under the KDF: %d (%d left as they were: not this key's)",
            resealed,
            unreadable,
        )
    return resealed


def uses_passphrase(settings: Settings) -> bool:
    """Whether ``TACKBRIDGE_SECRET_KEY`` is set to a passphrase (not a Fernet key)."""
    key = settings.secret_key
    return (
        key is not None
        and bool(key.get_secret_value())
        and not is_fernet_key(key.get_secret_value())
    )


def _salt(path: Path) -> bytes:
    text = _create_once(path, lambda: _b64(os.urandom(_SALT_BYTES)).encode())
    try:
        salt = _unb64(text.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        salt = b""
    if len(salt) != _SALT_BYTES:
        raise RuntimeError(f"{path} does not hold a {_SALT_BYTES}-byte salt; restore it")
    return salt


def _dev_key(path: Path) -> bytes:
    return _create_once(path, Fernet.generate_key)


def _create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's content, writing ``make()`` into it (mode 0600) first if it does not exist."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return path.read_bytes().strip()
    # Written whole to a private temporary file, then linked into place: link() fails if
    # another process won the race, and nobody ever reads a half-written key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(make())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()


# Re-exported so callers can catch a wrong key without importing cryptography themselves.
InvalidSecretError = InvalidToken
