"""OAuth token answers: ``TokenSet`` (legacy ``/v2/tokens/access`` and v4 ``/oauth2/token``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["TokenSet"]


class TokenSet(BaseModel):
    """An OAuth token answer (legacy ``/v2/tokens/access`` or v4 ``/oauth2/token``).

    ``refresh_token`` is None when the answer carried none (a v4 refresh may omit it): the
    caller must then keep the refresh token it already has.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int | None = None
    refresh_token: SecretStr | None = None
    scope: tuple[str, ...] = ()
    id_token: SecretStr | None = None
    # Some token answers name the business the grant is for (the token's context).
    business_id: str | None = Field(
        default=None, validation_alias=AliasChoices("business_id", "businessID", "business_pk")
    )
    obtained_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("refresh_token", "id_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("scope", mode="before")
    @classmethod
    def _split_scope(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(part for part in re.split(r"[\s,]+", value) if part)
        return value

    @field_validator("expires_in", mode="before")
    @classmethod
    def _expires_in(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @property
    def expires_at(self) -> datetime | None:
        if self.expires_in is None:
            return None
        return self.obtained_at + timedelta(seconds=self.expires_in)

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True when the access token is expired or will be within ``seconds``."""
        expires_at = self.expires_at
        if expires_at is None:
            return False
        return (now or datetime.now(UTC)) + timedelta(seconds=seconds) >= expires_at
