"""Pydantic models of what the Thumbtack client sends and receives.

Responses are liberal (unknown fields kept, IDs accepted as numbers or strings, most fields
optional): Thumbtack's answers differ from its documents, and a field we do not use must never
fail a call. Requests are strict (unknown fields refused) so the wire format stays pinned.
Secrets are ``SecretStr``: masked in ``repr`` and in plain ``model_dump``; request models reveal
them only when serialized for the wire (``to_wire``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

__all__ = [
    "DEFAULT_BUSINESS_EVENT_TYPES",
    "AssociatePhoneNumber",
    "AssociatePhoneNumberCreate",
    "AssociatePhoneNumberPage",
    "AssociatePhoneNumberUpdate",
    "Business",
    "BusinessPage",
    "BusinessSearch",
    "BusinessSearchResult",
    "ContactError",
    "DisconnectResult",
    "JobStatus",
    "JobStatusUpdate",
    "Message",
    "MessagePage",
    "Negotiation",
    "NegotiationPage",
    "Pagination",
    "RequestCreate",
    "RequestDetail",
    "RequestResult",
    "StatusResult",
    "TestLead",
    "ThumbtackInfo",
    "TokenSet",
    "User",
    "Webhook",
    "WebhookBasicAuth",
    "WebhookCreate",
    "WebhookHeaderAuth",
    "WebhookPage",
    "WebhookUpdate",
    "format_rfc3339",
]


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


# --------------------------------------------------------------------------- tokens


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


# --------------------------------------------------------------------------- legacy


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


# --------------------------------------------------------------------------- v4 reads


class Pagination(_Response):
    """The ``pagination`` object of v4 lists. Only ``limit`` is documented; the next-page
    cursor is read from whichever of the usual names is present."""

    limit: int | None = None

    @property
    def next_page_token(self) -> str | None:
        extra = self.model_extra or {}
        for key in ("nextPageToken", "nextCursor", "next", "cursor", "pageToken"):
            value = extra.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
        return None


class _Page(_Response):
    pagination: Pagination | None = None

    @property
    def next_page_token(self) -> str | None:
        return self.pagination.next_page_token if self.pagination else None

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"data": value}
        return value


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


# --------------------------------------------------------------------------- job status


class JobStatus(StrEnum):
    """The six job statuses of thumbtack-v4-leads.txt, and nothing else."""

    NOT_SCHEDULED = "not_scheduled"
    APPT_SCHEDULED = "appt_scheduled"
    JOB_COMPLETE = "job_complete"
    INVOICE_PAID = "invoice_paid"
    CUSTOMER_CANCEL = "customer_cancel"
    PRO_CANCEL = "pro_cancel"


_INVOICE_STATUSES = frozenset({JobStatus.JOB_COMPLETE, JobStatus.INVOICE_PAID})


class JobStatusUpdate(_Request):
    """Body of ``POST /api/v4/negotiations/{id}/job-status``.

    ``partnerStatusChangedAt`` is when the change happened on our side, not when we call:
    build this once when the change is recorded and resend the same value on every retry.
    """

    status: JobStatus
    partnerStatusChangedAt: AwareDatetime
    invoiceAmountInCents: int | None = Field(default=None, ge=0, strict=True)

    @model_validator(mode="after")
    def _invoice_only_when_invoiced(self) -> Self:
        if self.invoiceAmountInCents is not None and self.status not in _INVOICE_STATUSES:
            raise ValueError(
                "invoiceAmountInCents is only allowed with job_complete or invoice_paid"
            )
        return self

    @field_serializer("partnerStatusChangedAt")
    def _rfc3339(self, value: datetime) -> str:
        return format_rfc3339(value)


# --------------------------------------------------------------------------- webhooks

DEFAULT_BUSINESS_EVENT_TYPES: tuple[str, ...] = ("NegotiationCreatedV4", "MessageCreatedV4")

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("webhookURL must be an absolute URL")
    # Thumbtack requires https; plain http is let through only for a local sandbox.
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError("webhookURL must use https")
    return url


class WebhookBasicAuth(_Request):
    """Thumbtack calls the webhook with HTTP Basic ``username:password``."""

    username: str = Field(min_length=1)
    password: WireSecret


class WebhookHeaderAuth(_Request):
    """Thumbtack sends a custom header with every delivery.

    The field names are not in our documents (only "a custom header name/value" is); they are
    kept in this one model so a correction is a one-line change.
    """

    headerName: str = Field(min_length=1)
    headerValue: WireSecret


WebhookAuth = WebhookBasicAuth | WebhookHeaderAuth


class WebhookCreate(_Request):
    """Body of ``POST /api/v4/businesses/{businessID}/webhooks``; ``auth=None`` is no auth.

    There is no signature on deliveries: the shared secret in ``auth`` is the only proof, so
    a webhook without auth should stay a development convenience.
    """

    webhookURL: str
    eventTypes: list[str] = Field(min_length=1)
    enabled: bool = True
    auth: WebhookAuth | None = None

    @field_validator("webhookURL")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_webhook_url(value)


class WebhookUpdate(_Request):
    """Body of ``PUT /api/v4/businesses/{businessID}/webhooks/{webhookID}``; unset fields are
    left out of the body."""

    webhookURL: str | None = None
    eventTypes: list[str] | None = Field(default=None, min_length=1)
    enabled: bool | None = None
    auth: WebhookAuth | None = None

    @field_validator("webhookURL")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_webhook_url(value)


class Webhook(_Response):
    """A registered webhook as Thumbtack returns it (the secret is never echoed back)."""

    webhookID: IdStr
    webhookURL: str | None = None
    enabled: bool | None = None
    authType: str | None = None
    businessID: IdStr | None = None
    userID: IdStr | None = None
    eventTypes: list[str] = Field(default_factory=list)


class WebhookPage(_Page):
    data: list[Webhook]


# --------------------------------------------------------------------------- phone numbers

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


# --------------------------------------------------------------------------- demand side


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
    message: str | None = None

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

    request: RequestDetail
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
