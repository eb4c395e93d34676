"""The Fernet box that encrypts OAuth tokens (and PKCE verifiers) before they reach the store.

The key comes from ``TACKBRIDGE_SECRET_KEY``; in dev mode, when it is not set, one is generated
once into the data folder (``secret.key``, mode 0600) so restarts can still read old rows.
Production without a key cannot store tokens at all: plaintext at rest is never the fallback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tackbridge.settings import Settings

__all__ = ["KEY_FILE", "MissingSecretKeyError", "SecretBox", "load_box"]

KEY_FILE = "secret.key"


class MissingSecretKeyError(RuntimeError):
    """Production mode without ``TACKBRIDGE_SECRET_KEY``: tokens cannot be stored."""

    def __init__(self) -> None:
        super().__init__(
            "TACKBRIDGE_SECRET_KEY is not set: Thumbtack connections need it to encrypt tokens "
            "at rest (generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        )


class SecretBox:
    """Encrypts and decrypts short secrets; the key never shows in ``repr``."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The plaintext; raises ``InvalidToken`` if the key changed or the row was altered."""
        return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")

    def __repr__(self) -> str:
        return "SecretBox(key=[REDACTED])"


def fernet_key(secret: str) -> bytes:
    """A Fernet key as given, or one derived from any other secret string (a passphrase)."""
    raw = secret.strip().encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def load_box(settings: Settings) -> SecretBox:
    """The box for these settings (see the module docstring for where the key comes from)."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return SecretBox(fernet_key(settings.secret_key.get_secret_value()))
    if not settings.is_dev:
        raise MissingSecretKeyError()
    return SecretBox(_dev_key(settings.data_dir / KEY_FILE))


def _dev_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_bytes().strip()
    # Written whole to a private temporary file, then linked into place: link() fails if
    # another process won the race, and nobody ever reads a half-written key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()


# Re-exported so callers can catch a wrong key without importing cryptography themselves.
InvalidSecretError = InvalidToken
