"""What a signed-in user may see. Owners and admins see every business; a member only the
businesses assigned to them, and every other business's lead, page and dashboard endpoint is
404 to them (not 403: they do not learn that it exists). A lead that names no business is
seen by owners and admins only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import Connection

from tackbridge.dashboard.auth import SignedIn
from tackbridge.leads.service import business_of, lead_exists
from tackbridge.users.service import User

__all__ = ["Access", "NotVisibleError", "access_of"]


class NotVisibleError(HTTPException):
    """404: no such thing, or not one this user may see (the same answer)."""

    def __init__(self, what: str) -> None:
        super().__init__(status_code=404, detail=f"no {what}")


@dataclass(frozen=True)
class Access:
    user: User

    @property
    def businesses(self) -> frozenset[str] | None:
        """The businesses this user may see; None: every one."""
        if self.user.sees_every_business:
            return None
        return frozenset(self.user.businesses)

    def allows(self, business_id: str | None) -> bool:
        scope = self.businesses
        if scope is None:
            return True
        return business_id is not None and business_id in scope

    def visible(self, business_ids: Iterable[str]) -> list[str]:
        return [b for b in business_ids if self.allows(b)]

    def require_business(self, business_id: str) -> str:
        if not self.allows(business_id):
            raise NotVisibleError(f"business {business_id!r}")
        return business_id

    def require_lead(self, conn: Connection, lead_id: str) -> str:
        """``lead_id`` if the lead exists and is this user's to see; else NotVisibleError."""
        if not lead_exists(conn, lead_id) or not self.allows(business_of(conn, lead_id)):
            raise NotVisibleError(f"lead {lead_id!r}")
        return lead_id


def access_of(signed_in: SignedIn) -> Access:
    return Access(signed_in.user)
