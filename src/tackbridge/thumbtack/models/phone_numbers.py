"""v4 associate phone numbers of a business: create/update bodies (US E.164 checked), the
registered ``AssociatePhoneNumber`` and its page."""

from __future__ import annotations

import re

from pydantic import field_validator

from ._base import _Request, _Response
from .pagination import _Page

__all__ = [
    "AssociatePhoneNumber",
    "AssociatePhoneNumberCreate",
    "AssociatePhoneNumberPage",
    "AssociatePhoneNumberUpdate",
]

_US_E164 = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def _check_us_e164(value: str) -> str:
    if not _US_E164.match(value):
        raise ValueError("phoneNumber must be a US number in E.164 form, like +14155550123")
    return value


class AssociatePhoneNumberCreate(_Request):
    """Body of ``POST /api/v4/businesses/{businessID}/associate-phone-numbers``."""

    phoneNumber: str
    name: str | None = None

    @field_validator("phoneNumber")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _check_us_e164(value)


class AssociatePhoneNumberUpdate(_Request):
    """Body of an update of one associate phone number; unset fields are left out."""

    phoneNumber: str | None = None
    name: str | None = None

    @field_validator("phoneNumber")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else _check_us_e164(value)


class AssociatePhoneNumber(_Response):
    """A registered business phone number. Its ID field name is not in our documents."""

    phoneNumber: str | None = None
    name: str | None = None

    @property
    def id(self) -> str | None:
        extra = self.model_extra or {}
        for key in ("associatePhoneNumberID", "phoneNumberID", "id"):
            value = extra.get(key)
            if value is not None:
                return str(value)
        return None


class AssociatePhoneNumberPage(_Page):
    data: list[AssociatePhoneNumber]
