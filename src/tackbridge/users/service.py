"""Users as the dashboard and ``tackbridge users`` see them: add, list, remove, set a password,
and check a sign-in. Functions of a connection; the caller owns the transaction.

Roles: ``owner`` (everything, including users), ``admin`` (every business and all settings),
``member`` (only the businesses assigned to them). An e-mail address is kept lower-cased and
trimmed, so ``Pat@Example.com`` and ``pat@example.com`` are one account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Row, delete, func, select, update

from tackbridge.store.schema import user_businesses, user_sessions, users
from tackbridge.users import passwords

__all__ = [
    "ROLES",
    "InvalidUserError",
    "Role",
    "UnknownUserError",
    "User",
    "UserExistsError",
    "add_user",
    "authenticate",
    "count_users",
    "ensure_user",
    "get_user",
    "get_user_by_email",
    "list_users",
    "normalize_email",
    "rehash_if_needed",
    "remove_user",
    "set_businesses",
    "set_password",
    "set_role",
]

Role = Literal["owner", "admin", "member"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class InvalidUserError(ValueError):
    """A user that cannot be saved; ``field`` names the input at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class UserExistsError(InvalidUserError):
    def __init__(self, email: str) -> None:
        super().__init__("email", f"a user {email} already exists")


class UnknownUserError(LookupError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: Role
    businesses: tuple[str, ...]  # assigned businesses (what a member may see)
    created_at: datetime

    @property
    def sees_every_business(self) -> bool:
        return self.role in ("owner", "admin")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:
        raise InvalidUserError("email", f"{email.strip()!r} is not an e-mail address")
    return cleaned


def _role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidUserError("role", f"role must be one of {', '.join(ROLES)}")


def _businesses(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        cleaned = value.strip()
        if not cleaned or len(cleaned) > 64:
            raise InvalidUserError("business", f"{value!r} is not a business ID")
        if cleaned not in found:
            found.append(cleaned)
    return tuple(found)


def add_user(
    conn: Connection,
    email: str,
    password: str,
    *,
    role: str,
    businesses: Sequence[str] = (),
    now: datetime,
) -> User:
    """Create a user; raises UserExistsError, InvalidUserError or passwords.PasswordError."""
    address = normalize_email(email)
    checked = _role(role)
    assigned = _businesses(businesses)
    if get_user_by_email(conn, address) is not None:
        raise UserExistsError(address)
    hashed = passwords.hash_password(password)
    user_id = conn.execute(
        users.insert()
        .values(email=address, password_hash=hashed, role=checked, created_at=now, updated_at=now)
        .returning(users.c.id)
    ).scalar_one()
    _assign(conn, user_id, assigned)
    found = get_user(conn, user_id)
    assert found is not None
    return found


def _assign(conn: Connection, user_id: int, businesses: tuple[str, ...]) -> None:
    conn.execute(delete(user_businesses).where(user_businesses.c.user_id == user_id))
    if businesses:
        conn.execute(
            user_businesses.insert(), [{"user_id": user_id, "business_id": b} for b in businesses]
        )


def _user_of(conn: Connection, row: Row[Any]) -> User:
    user_id = int(row.id)
    assigned = conn.execute(
        select(user_businesses.c.business_id)
        .where(user_businesses.c.user_id == user_id)
        .order_by(user_businesses.c.business_id)
    ).scalars()
    return User(
        id=user_id,
        email=row.email,
        role=cast(Role, row.role),
        businesses=tuple(assigned),
        created_at=row.created_at,
    )


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return None if row is None else _user_of(conn, row)


def get_user_by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
    return None if row is None else _user_of(conn, row)


def list_users(conn: Connection) -> list[User]:
    rows = conn.execute(select(users).order_by(users.c.email)).all()
    return [_user_of(conn, row) for row in rows]


def count_users(conn: Connection, *, role: str | None = None) -> int:
    query = select(func.count()).select_from(users)
    if role is not None:
        query = query.where(users.c.role == role)
    return int(conn.execute(query).scalar_one())


def _require(conn: Connection, email: str) -> User:
    found = get_user_by_email(conn, email)
    if found is None:
        raise UnknownUserError(f"no user {email.strip().lower()}")
    return found


def _keep_an_owner(conn: Connection, user: User) -> None:
    if user.role == "owner" and count_users(conn, role="owner") <= 1:
        raise InvalidUserError("role", f"{user.email} is the last owner: add another owner first")


def remove_user(conn: Connection, email: str) -> User:
    """Delete the user and their sessions; the last owner cannot be removed."""
    user = _require(conn, email)
    _keep_an_owner(conn, user)
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user.id))
    conn.execute(delete(user_businesses).where(user_businesses.c.user_id == user.id))
    conn.execute(delete(users).where(users.c.id == user.id))
    return user


def set_password(conn: Connection, email: str, password: str, *, now: datetime) -> User:
    """A new password signs the user out everywhere."""
    user = _require(conn, email)
    hashed = passwords.hash_password(password)
    conn.execute(
        update(users).where(users.c.id == user.id).values(password_hash=hashed, updated_at=now)
    )
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user.id))
    return user


def set_role(conn: Connection, email: str, role: str, *, now: datetime) -> User:
    user = _require(conn, email)
    checked = _role(role)
    if checked != "owner":
        _keep_an_owner(conn, user)
    conn.execute(update(users).where(users.c.id == user.id).values(role=checked, updated_at=now))
    found = get_user(conn, user.id)
    assert found is not None
    return found


def set_businesses(
    conn: Connection, email: str, businesses: Sequence[str], *, now: datetime
) -> User:
    user = _require(conn, email)
    _assign(conn, user.id, _businesses(businesses))
    conn.execute(update(users).where(users.c.id == user.id).values(updated_at=now))
    found = get_user(conn, user.id)
    assert found is not None
    return found


def ensure_user(
    conn: Connection, email: str, password: str, *, role: str, now: datetime
) -> tuple[User, bool]:
    """The user, added with ``password`` unless it exists; (user, whether it was added)."""
    found = get_user_by_email(conn, email)
    if found is not None:
        return found, False
    return add_user(conn, email, password, role=role, now=now), True


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The user whose e-mail and password these are, else None (same cost either way)."""
    try:
        address = normalize_email(email)
    except InvalidUserError:
        address = None
    row = conn.execute(select(users).where(users.c.email == address)).first() if address else None
    if not passwords.verify(row.password_hash if row is not None else None, password):
        return None
    assert row is not None
    return _user_of(conn, row)


def rehash_if_needed(conn: Connection, user: User, password: str, *, now: datetime) -> None:
    """After a successful sign-in: bring an old hash up to today's parameters."""
    stored = conn.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar()
    if stored is None or not passwords.needs_rehash(stored):
        return
    try:
        hashed = passwords.hash_password(password)
    except passwords.PasswordError:  # set before today's rules: kept until it is changed
        return
    conn.execute(
        update(users).where(users.c.id == user.id).values(password_hash=hashed, updated_at=now)
    )
