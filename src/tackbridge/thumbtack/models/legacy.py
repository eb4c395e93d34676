"""Answers of the legacy Pro API (v1/v2): ``StatusResult``, ``ThumbtackInfo``,
``DisconnectResult`` and the staging ``TestLead``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from ._base import IdStr, _Response

__all__ = ["DisconnectResult", "StatusResult", "TestLead", "ThumbtackInfo"]


class StatusResult(_Response):
    """``{"status": "success"}`` of the legacy message and targeting endpoints."""

    status: str | None = None


class ThumbtackInfo(_Response):
    """``GET /v2/get-thumbtack-info``: which business a legacy access token belongs to."""

    business_pk: IdStr
    client_id: str | None = None
    scope: list[str] = Field(default_factory=list)
    business_name: str | None = None

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value


class DisconnectResult(_Response):
    """``POST /v2/disconnect-partner``."""

    business_pk: IdStr
    client_id: str | None = None


class _Named(_Response):
    name: str | None = None


class TestLead(_Response):
    """``POST /v1/test/create-lead`` (staging): a dummy lead and its business."""

    __test__ = False  # not a pytest test class, whatever its name says

    leadID: IdStr
    createTimestamp: str | int | None = None
    price: str | None = None
    request: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    business: dict[str, Any] | None = None

    @property
    def business_id(self) -> str | None:
        value = (self.business or {}).get("businessID")
        return None if value is None else str(value)
