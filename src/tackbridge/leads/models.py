"""The lead and what hangs off it, as the product's features see them: independent of which
route or API version delivered it and of how the store keeps it.

The records a delivery carries (``LeadReceived``, ``MessageReceived``, ``LeadUpdated``,
``ReviewReceived``, with their customer, business and attachments) are built by the front door's
pure parsers, and read back from the store by ``leads.service`` (the one mapping from rows).
``LeadInput`` is the lead as the CRM mapping and the automatic reply read it, built from either a
delivered ``LeadReceived`` or a stored lead (``leads.service.read_lead_input``). The operator
API's schemas (``leads.views``) are built from these, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TEST_BUSINESS_NAME = "Test Business for Webhooks"
INBOX_LINK = "https://www.thumbtack.com/pro-inbox/messages/{lead_id}"


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
    # How the delivery named the customer and the business (v4 messages carry both).
    customer_name: str | None = None
    business_name: str | None = None


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


@dataclass(frozen=True)
class Detail:
    question: str | None
    answer: str | None


@dataclass(frozen=True)
class LeadInput:
    lead_id: str
    is_test: bool = False
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
    customer_name: str | None = None
    customer_first_name: str | None = None
    customer_phone: str | None = None
    business_id: str | None = None
    business_name: str | None = None
    lead_type: str | None = None
    lead_price: str | None = None
    lead_price_cents: int | None = None
    charge_state: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    details: tuple[Detail, ...] = ()

    @property
    def inbox_link(self) -> str:
        return INBOX_LINK.format(lead_id=self.lead_id)

    @classmethod
    def from_event(cls, lead: LeadReceived) -> LeadInput:
        return cls.build(
            {name: getattr(lead, name) for name in COPIED},
            is_test=lead.is_test,
            customer=lead.customer,
            business=lead.business,
            details=lead.details,
        )

    @classmethod
    def build(
        cls,
        copied: dict[str, Any],
        *,
        is_test: bool,
        customer: CustomerInfo | None,
        business: BusinessInfo | None,
        details: Iterable[tuple[str | None, str | None]],
    ) -> LeadInput:
        """The one construction path: the lead's own rules (a test business, the customer's
        names) apply here, whichever shape the lead came in."""
        c = customer or CustomerInfo("")
        business_name = business.name if business else None
        return cls(
            **copied,
            is_test=is_test or _is_test_business(business_name),
            customer_name=customer_name_of(c.name, c.display_name, c.first_name, c.last_name),
            customer_first_name=_first(c.first_name, c.display_name, c.name),
            customer_phone=c.phone,
            business_id=business.business_id if business else None,
            business_name=business_name,
            details=tuple(Detail(q, a) for q, a in details),
        )


#: The fields a LeadInput copies as they are, by its own name: also the name on LeadReceived
#: and of the leads table's column.
COPIED = (
    "lead_id",
    "category",
    "category_id",
    "title",
    "description",
    "schedule",
    "address1",
    "address2",
    "city",
    "state",
    "zip_code",
    "lead_type",
    "lead_price",
    "lead_price_cents",
    "charge_state",
    "status",
    "created_at",
)


def _is_test_business(name: str | None) -> bool:
    return name is not None and name.strip().lower() == TEST_BUSINESS_NAME.lower()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def customer_name_of(
    name: str | None, display: str | None, first: str | None, last: str | None
) -> str | None:
    """How a customer is named to the pro: their name, else display name, else first + last."""
    joined = " ".join(p for p in (_clean(first), _clean(last)) if p)
    return _clean(name) or _clean(display) or _clean(joined)


def _first(first: str | None, display: str | None, name: str | None) -> str | None:
    if _clean(first):
        return _clean(first)
    whole = _clean(display) or _clean(name)
    return whole.split(" ")[0] if whole else None
