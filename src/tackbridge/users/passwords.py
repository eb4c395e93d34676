"""Password hashing: Argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile), PHC
strings in the store. Checking an unknown account still costs one verification, so the answer's
timing does not tell which e-mail addresses have an account."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MIN_LENGTH",
    "PasswordError",
    "check_strength",
    "hash_password",
    "needs_rehash",
    "verify",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is linear in the input: bound what a sign-in form may make us hash

_HASHER = PasswordHasher()


class PasswordError(ValueError):
    """A password that cannot be set (too short, too long)."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy() -> str:
    return _HASHER.hash("not-a-password-of-anyone")


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; ``None`` (no such account) costs the same work."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored if stored is not None else _dummy(), password) and (
            stored is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)
