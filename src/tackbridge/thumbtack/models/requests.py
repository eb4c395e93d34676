"""v4 demand side: ``RequestCreate`` and its ``RequestResult`` (``RequestDetail``,
``ContactError``), and business search (``BusinessSearch``, ``BusinessSearchResult``)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from ._base import IdStr, _Request, _Response
from .pagination import _Page

__all__ = [
    "BusinessSearch",
    "BusinessSearchResult",
    "ContactError",
    "RequestCreate",
    "RequestDetail",
    "RequestResult",
]


class RequestCreate(_Request):
    """Body of ``POST /api/v4/requests``. The document shows only part of the body, so extra
    fields are passed through as given."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, hide_input_in_errors=True)

    searchID: IdStr | None = None
    businessIDs: list[IdStr] = Field(default_factory=list)
    categoryID: IdStr | None = None
    utmData: dict[str, str] | None = None


class ContactError(_Response):
    """One entry of ``contactErrors``: a business the request could not be sent to."""

    businessID: IdStr | None = None
    # The documents show contactErrors only empty: the reason is read from ``message`` or, as
    # some answers name it, ``error``.
    message: str | None = Field(default=None, validation_alias=AliasChoices("message", "error"))

    @model_validator(mode="before")
    @classmethod
    def _bare_string(cls, value: Any) -> Any:
        return {"message": value} if isinstance(value, str) else value


class RequestDetail(_Response):
    requestID: IdStr
    customerID: IdStr | None = None
    description: str | None = None
    category: Any = None
    location: dict[str, Any] | None = None
    proposedTimes: list[Any] | None = None
    travelPreferences: Any = None
    details: list[Any] | None = None
    attachments: list[Any] | None = None


class RequestResult(_Response):
    """Answer of ``POST /api/v4/requests``. A non-empty ``contactErrors`` means the request
    was created but some businesses were not contacted."""

    # None when no business could be sent the request (contactErrors says why).
    request: RequestDetail | None = None
    contactErrors: list[ContactError] = Field(default_factory=list)

    @field_validator("contactErrors", mode="before")
    @classmethod
    def _null_errors(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def has_contact_errors(self) -> bool:
        return bool(self.contactErrors)


class BusinessSearch(_Request):
    """Body of ``POST /api/v4/businesses/search`` (demand side)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, hide_input_in_errors=True)

    searchQuery: str | None = None
    zipCode: str | None = None
    categoryID: IdStr | None = None
    utmData: dict[str, str] | None = None
    limit: int | None = Field(default=None, ge=1)


class BusinessSearchResult(_Page):
    searchID: IdStr | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)
