"""What a partner-endpoint delivery means, independent of which route or API version carried it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TEST_BUSINESS_NAME = "Test Business for Webhooks"


class InvalidPayloadError(ValueError):
    """A delivery that cannot be stored as a record: the body is not an object or lacks its ID."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class AttachmentInfo:
    file_name: str | None
    file_size: int | None
    mime_type: str | None
    url: str | None
    description: str | None


@dataclass(frozen=True)
class BusinessInfo:
    business_id: str
    name: str | None = None
    access_code: str | None = None


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: str
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class LeadReceived:
    lead_id: str
    source: str
    is_test: bool = False
    created_at: datetime | None = None
    business: BusinessInfo | None = None
    customer: CustomerInfo | None = None
    request_id: str | None = None
    category: str | None = None
    category_id: str | None = None
    title: str | None = None
    description: str | None = None
    schedule: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    travel_preferences: Any = None
    proposed_times: Any = None
    price: str | None = None
    lead_type: str | None = None
    lead_price: str | None = None
    lead_price_cents: int | None = None
    lead_price_breakdown: Any = None
    charge_state: str | None = None
    status: str | None = None
    estimate: Any = None
    request_review_link: str | None = None
    refund_request_link: str | None = None
    details: tuple[tuple[str | None, str | None], ...] = ()
    attachments: tuple[AttachmentInfo, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageReceived:
    message_id: str
    source: str
    lead_id: str | None = None
    business_id: str | None = None
    customer_id: str | None = None
    sender: str = "Customer"
    text: str | None = None
    sent_at: datetime | None = None
    attachments: tuple[AttachmentInfo, ...] = ()


@dataclass(frozen=True)
class LeadUpdated:
    lead_id: str
    source: str
    lead_price: str | None = None
    lead_price_cents: int | None = None
    charge_state: str | None = None
    status: str | None = None
    occurred_at: datetime | None = None
    # Which fields the delivery carried: an absent field leaves the lead's value alone.
    fields: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReviewReceived:
    review_id: str
    source: str
    business_id: str | None = None
    lead_id: str | None = None
    category_id: str | None = None
    rating: int | None = None
    rating_raw: str | None = None
    text: str | None = None
    reviewer_name: str | None = None
    reviewer_nickname: str | None = None
    verified: bool | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    event_type: str | None = None
    photos: tuple[AttachmentInfo, ...] = ()


Record = LeadReceived | MessageReceived | LeadUpdated | ReviewReceived


@dataclass(frozen=True)
class Delivery:
    """One parsed delivery: the record it carries (if any) and its v4 envelope facts."""

    record: Record | None
    event_type: str | None = None
    webhook_id: str | None = None
    triggered_at: datetime | None = None
