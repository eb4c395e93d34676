"""The operator API's view of a lead, in Thumbtack's own field names where it has one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tackbridge.leads.models import (
    INBOX_LINK,
    AttachmentInfo,
    BusinessInfo,
    CustomerInfo,
    ReviewReceived,
)

__all__ = [
    "INBOX_LINK",
    "AttachmentView",
    "BusinessView",
    "CustomerView",
    "DetailView",
    "LeadPage",
    "LeadSummary",
    "LeadView",
    "LocationView",
    "MessageView",
    "RequestView",
    "ReviewView",
    "StatusChangeView",
]


class View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class AttachmentView(View):
    fileName: str | None = None
    fileSize: int | None = None
    mimeType: str | None = None
    url: str | None = None
    description: str | None = None

    @classmethod
    def of(cls, file: AttachmentInfo) -> AttachmentView:
        return cls(
            fileName=file.file_name,
            fileSize=file.file_size,
            mimeType=file.mime_type,
            url=file.url,
            description=file.description,
        )


class DetailView(View):
    question: str | None = None
    answer: str | None = None


class LocationView(View):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zipCode: str | None = None


class RequestView(View):
    requestID: str | None = None
    category: str | None = None
    categoryID: str | None = None
    title: str | None = None
    description: str | None = None
    schedule: str | None = None
    location: LocationView
    travelPreferences: Any = None
    proposedTimes: Any = None
    details: list[DetailView] = Field(default_factory=list)
    attachments: list[AttachmentView] = Field(default_factory=list)


class CustomerView(View):
    customerID: str
    name: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    displayName: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, customer: CustomerInfo) -> CustomerView:
        return cls(
            customerID=customer.customer_id,
            name=customer.name,
            firstName=customer.first_name,
            lastName=customer.last_name,
            displayName=customer.display_name,
            phone=customer.phone,
        )


class BusinessView(View):
    businessID: str
    name: str | None = None
    accessCode: str | None = None

    @classmethod
    def of(cls, business: BusinessInfo) -> BusinessView:
        return cls(
            businessID=business.business_id, name=business.name, accessCode=business.access_code
        )


class MessageView(View):
    messageID: str
    leadID: str | None = None
    sender: str = Field(serialization_alias="from")
    text: str | None = None
    sentAt: datetime | None = None
    receivedAt: datetime
    source: str
    attachments: list[AttachmentView] = Field(default_factory=list)


class ReviewView(View):
    reviewID: str
    businessID: str | None = None
    leadID: str | None = None
    categoryID: str | None = None
    rating: int | None = None
    ratingRaw: str | None = None
    text: str | None = None
    reviewerName: str | None = None
    reviewerNickname: str | None = None
    verified: bool | None = None
    reviewEventType: str | None = None
    createTime: datetime | None = None
    modifyTime: datetime | None = None
    receivedAt: datetime
    photos: list[AttachmentView] = Field(default_factory=list)

    @classmethod
    def of(cls, review: ReviewReceived, received_at: datetime) -> ReviewView:
        return cls(
            reviewID=review.review_id,
            businessID=review.business_id,
            leadID=review.lead_id,
            categoryID=review.category_id,
            rating=review.rating,
            ratingRaw=review.rating_raw,
            text=review.text,
            reviewerName=review.reviewer_name,
            reviewerNickname=review.reviewer_nickname,
            verified=review.verified,
            reviewEventType=review.event_type,
            createTime=review.created_at,
            modifyTime=review.modified_at,
            receivedAt=received_at,
            photos=[AttachmentView.of(p) for p in review.photos],
        )


class StatusChangeView(View):
    source: str
    status: str | None = None
    chargeState: str | None = None
    leadPrice: str | None = None
    leadPriceCents: int | None = None
    # Job statuses sent to Thumbtack (source "job_status").
    jobStatus: str | None = None
    invoiceAmountInCents: int | None = None
    applied: bool
    occurredAt: datetime | None = None
    recordedAt: datetime


class LeadSummary(View):
    leadID: str
    businessID: str | None = None
    businessName: str | None = None
    customerName: str | None = None
    category: str | None = None
    city: str | None = None
    state: str | None = None
    zipCode: str | None = None
    status: str | None = None
    leadType: str | None = None
    leadPriceCents: int | None = None
    chargeState: str | None = None
    isTest: bool
    source: str
    createTimestamp: datetime | None = None
    receivedAt: datetime
    jobStatus: str | None = None  # the last one sent to Thumbtack
    firstReplyAt: datetime | None = None
    firstReplyBy: str | None = None


class LeadView(View):
    leadID: str
    source: str
    isTest: bool
    status: str | None = None
    price: str | None = None
    leadType: str | None = None
    leadPrice: str | None = None
    leadPriceCents: int | None = None
    leadPriceBreakdown: Any = None
    chargeState: str | None = None
    estimate: Any = None
    requestReviewLink: str | None = None
    refundRequestLink: str | None = None
    inboxLink: str
    createTimestamp: datetime | None = None
    receivedAt: datetime
    updatedAt: datetime
    jobStatus: str | None = None  # the last one sent to Thumbtack
    # Speed to lead: when the customer first heard back, and from whom (auto | person).
    firstReplyAt: datetime | None = None
    firstReplyBy: str | None = None
    request: RequestView
    customer: CustomerView | None = None
    business: BusinessView | None = None
    messages: list[MessageView] = Field(default_factory=list)
    reviews: list[ReviewView] = Field(default_factory=list)
    statusHistory: list[StatusChangeView] = Field(default_factory=list)
    extra: dict[str, Any] | None = None


class LeadPage(View):
    items: list[LeadSummary]
    nextCursor: str | None = None
