"""v4 reads of the supply side: leads (``Negotiation``), their ``Message``s, the pro's
``Business``es, the demand-side ``User``, and their pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from ._base import IdStr, _Response
from .pagination import _Page

__all__ = [
    "Business",
    "BusinessPage",
    "Message",
    "MessagePage",
    "Negotiation",
    "NegotiationPage",
    "User",
]


class Negotiation(_Response):
    """A lead (v4 "negotiation"). Liberal: only ``negotiationID`` is required."""

    negotiationID: IdStr
    status: str | None = None
    chargeState: str | None = None
    leadPrice: str | float | None = None
    leadType: str | None = None
    category: Any = None
    customer: dict[str, Any] | None = None
    business: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    details: list[Any] | None = None
    estimate: Any = None
    requestReviewLink: str | None = None
    refundRequestLink: str | None = None
    createTime: str | None = None
    createdAt: str | None = None

    @property
    def business_id(self) -> str | None:
        value = (self.business or {}).get("businessID")
        return None if value is None else str(value)


class NegotiationPage(_Page):
    """One page of ``GET /api/v4/businesses/{businessID}/negotiations``."""

    data: list[Negotiation]

    @model_validator(mode="before")
    @classmethod
    def _negotiations_key(cls, value: Any) -> Any:
        if isinstance(value, dict) and "data" not in value and "negotiations" in value:
            return {**value, "data": value["negotiations"]}
        return value


class Message(_Response):
    """A message of a lead; ``sender`` is the wire's ``from`` (``Customer`` or ``Business``)."""

    messageID: IdStr
    negotiationID: IdStr | None = None
    sender: str | None = Field(default=None, alias="from")
    text: str | None = None
    customer: dict[str, Any] | None = None
    attachments: list[Any] | None = None
    sentAt: str | None = None

    @property
    def sent_at(self) -> datetime | None:
        if not self.sentAt:
            return None
        try:
            parsed = datetime.fromisoformat(self.sentAt.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class MessagePage(_Page):
    """``GET /api/v4/negotiations/{negotiationID}/messages``."""

    data: list[Message]


class Business(_Response):
    """A pro's business (v4 "pro profile")."""

    businessID: IdStr
    name: str | None = None
    imageURL: str | None = None


class BusinessPage(_Page):
    """``GET /api/v4/businesses``: the businesses the token's user owns."""

    data: list[Business]


class User(_Response):
    """``GET /api/v4/users/self`` (demand side)."""

    userID: IdStr
    email: str | None = None
    firstName: str | None = None
    lastName: str | None = None
