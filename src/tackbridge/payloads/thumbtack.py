"""Thumbtack wire models: legacy partner endpoints (v1/v2 docs) and v4 webhook deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Id = str | int


class Wire(BaseModel):
    """A Thumbtack payload: unknown fields are kept, names are Thumbtack's own."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Attachment(Wire):
    fileName: str | None = None
    fileSize: int | None = None
    mimeType: str | None = None
    url: str | None = None
    description: str | None = None


class Detail(Wire):
    question: str | None = None
    answer: str | None = None


class Location(Wire):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zipCode: str | None = None


class Category(Wire):
    categoryID: Id | None = None
    name: str | None = None


class ProposedTime(Wire):
    start: str | None = None
    end: str | None = None


class LeadRequest(Wire):
    requestID: Id | None = None
    category: str | Category | None = None
    categoryID: Id | None = None
    title: str | None = None
    description: str | None = None
    schedule: str | None = None
    location: Location | None = None
    travelPreferences: str | list[str] | None = None
    details: list[Detail] | None = None
    attachments: list[Attachment] | None = None
    proposedTimes: list[ProposedTime | str] | None = None


class Customer(Wire):
    customerID: Id | None = None
    name: str | None = None
    displayName: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    phone: str | None = None
    location: Location | None = None


class Business(Wire):
    businessID: Id
    name: str | None = None
    accessCode: str | None = None


class LegacyLead(Wire):
    """``POST /v1/lead`` (v1 and v2 partner docs)."""

    leadID: Id
    createTimestamp: str | int | None = None
    price: str | None = None
    request: LeadRequest | None = None
    customer: Customer | None = None
    business: Business | None = None
    leadType: str | None = None
    leadPrice: str | float | None = None
    chargeState: str | None = None


class LegacyMessageBody(Wire):
    messageID: Id
    createTimestamp: str | int | None = None
    text: str | None = None
    attachments: list[Attachment] | None = None


class LegacyMessage(Wire):
    """``POST /v1/message``. Some deliveries carry ``messageID`` at the top level instead."""

    leadID: Id
    customerID: Id | None = None
    businessID: Id | None = None
    message: LegacyMessageBody | None = None


class LegacyLeadUpdate(Wire):
    """``PUT /v1/lead/update``: the lead price is set after the lead is sent."""

    leadID: Id
    leadPrice: str | float | None = None
    chargeState: str | None = None


class Review(Wire):
    reviewID: Id
    businessID: Id | None = None
    leadID: Id | None = None
    categoryID: Id | None = None
    rating: str | int | None = None
    text: str | None = None
    reviewerName: str | None = None
    reviewerNickname: str | None = None
    createTime: str | int | None = None
    modifyTime: str | int | None = None
    verified: bool | None = None
    photos: list[Attachment] | None = None


class LegacyReview(Wire):
    """``POST /v1/review``."""

    review: Review
    reviewEventType: str | None = "REVIEW_ADDED"


class V4Event(Wire):
    eventType: str
    webhookID: str | None = None
    triggeredAt: str | None = None
    description: str | None = None


class V4Lead(Wire):
    """``data`` of ``NegotiationCreatedV4`` (and of ``GET /api/v4/negotiations/{id}``)."""

    negotiationID: Id
    status: str | None = None
    chargeState: str | None = None
    leadPrice: str | None = None
    leadPriceBreakdown: dict[str, Any] | list[Any] | None = None
    leadType: str | None = None
    customer: Customer | None = None
    business: Business | None = None
    request: LeadRequest | None = None
    category: str | Category | None = None
    details: list[Detail] | None = None
    estimate: dict[str, Any] | None = None
    requestReviewLink: str | None = None
    refundRequestLink: str | None = None
    createTime: str | None = None
    createdAt: str | None = None


class V4Message(Wire):
    """``data`` of ``MessageCreatedV4``."""

    messageID: Id
    negotiationID: Id | None = None
    sender: Literal["Customer", "Business"] | str | None = Field(default=None, alias="from")
    text: str | None = None
    attachments: list[Attachment] | None = None
    sentAt: str | None = None


class V4Review(Wire):
    """``data`` of ``ReviewCreatedV4``."""

    reviewID: Id
    businessID: Id | None = None
    negotiationID: Id | None = None
    rating: str | int | float | None = None
    text: str | None = None
    reviewerName: str | None = None
    createTime: str | None = None
    verified: bool | None = None
    photos: list[Attachment] | None = None


class V4Webhook(Wire):
    """``POST /v4/webhooks``: the envelope every v4 event arrives in."""

    event: V4Event
    data: dict[str, Any] = Field(default_factory=dict)


V4_LEAD_EVENTS = frozenset({"NegotiationCreatedV4"})
V4_MESSAGE_EVENTS = frozenset({"MessageCreatedV4"})
V4_REVIEW_EVENTS = frozenset({"ReviewCreatedV4"})
