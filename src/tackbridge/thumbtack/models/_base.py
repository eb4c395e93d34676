"""What every Thumbtack wire model shares: the liberal ``_Response`` and strict ``_Request``
bases, ``IdStr`` (int64 IDs coerced to strings), ``WireSecret`` (a ``SecretStr`` revealed only by
``_Request.to_wire``) and ``format_rfc3339``.

Responses are liberal (unknown fields kept, IDs accepted as numbers or strings, most fields
optional): Thumbtack's answers differ from its documents, and a field we do not use must never
fail a call. Requests are strict (unknown fields refused) so the wire format stays pinned.
Secrets are ``SecretStr``: masked in ``repr`` and in plain ``model_dump``; request models reveal
them only when serialized for the wire (``to_wire``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
)

__all__ = ["IdStr", "WireSecret", "format_rfc3339"]


def _id_to_str(value: Any) -> Any:
    # int64 IDs arrive as JSON strings in the documents and as numbers in some deliveries.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdStr = Annotated[str, BeforeValidator(_id_to_str)]


def format_rfc3339(value: datetime) -> str:
    """UTC RFC 3339 with a ``Z``: ``2024-06-14T09:30:00Z`` (fraction kept only when present)."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Thumbtack must be timezone-aware")
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _reveal(value: SecretStr, info: SerializationInfo) -> str:
    context = info.context
    if isinstance(context, Mapping) and context.get("reveal_secrets"):
        return value.get_secret_value()
    return str(value)


WireSecret = Annotated[SecretStr, PlainSerializer(_reveal, return_type=str)]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, hide_input_in_errors=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, secrets revealed, unset optional fields left out."""
        return self.model_dump(
            mode="json", by_alias=True, exclude_none=True, context={"reveal_secrets": True}
        )
