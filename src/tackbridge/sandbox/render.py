"""Wire shapes of the sandbox's records, built with the shared models in
``tackbridge.payloads.thumbtack``: legacy partner-endpoint bodies (``/v1/lead``, ``/v1/message``,
``/v1/lead/update``, ``/v1/review``), v4 data objects (negotiations, messages, reviews) and
the businesses of the v4 API.

Legacy shapes follow the v2 reference's field tables. v4 records come in two shapes
(``SandboxConfig.delivery_shapes``): ``real``, the default, as real Thumbtack sends them (the
recorded deliveries of api-notes.md, "Corrections and facts added on 2026-12-01"), and ``docs``,
as the documents show them, plus the top-level ``category`` and ``details`` of the leads guide's
example so both readings are exercised.
"""

from __future__ import annotations

from typing import Any

from tackbridge.payloads.thumbtack import (
    Attachment,
    Business,
    Category,
    Customer,
    Detail,
    LeadRequest,
    LegacyLead,
    LegacyLeadUpdate,
    LegacyMessage,
    LegacyMessageBody,
    LegacyReview,
    Location,
    ProposedTime,
    V4Lead,
    V4Message,
    V4Review,
)
from tackbridge.payloads.thumbtack import Review as ReviewModel
from tackbridge.sandbox import state as st
from tackbridge.sandbox.config import DeliveryShapes
from tackbridge.sandbox.httputil import iso

__all__ = [
    "TEST_BUSINESS_NAME",
    "business",
    "legacy_lead",
    "legacy_lead_update",
    "legacy_message",
    "legacy_review",
    "money",
    "v4_lead",
    "v4_message",
    "v4_review",
]

TEST_BUSINESS_NAME = "Test Business for Webhooks"

# The customer's travel preference as text (the documents) and as the code real Thumbtack sends.
# Only ProviderTravelToCustomer is recorded; the other two codes follow its pattern.
TRAVEL_CODES = {
    "Professional must travel to my address.": "ProviderTravelToCustomer",
    "I will travel to the professional.": "CustomerTravelToProvider",
    "Phone or online consultation.": "Remote",
}
# The recorded delivery's sales tax: $1.85 of a $25.00 lead price.
SALES_TAX_RATE = 0.074
_UNIT_NAMES = {"Hourly": "hour", "PerUnit": "unit"}


def money(cents: int | None) -> str | None:
    return None if cents is None else f"${cents // 100}.{cents % 100:02d}"


def _epoch(lead_or_moment: Any) -> str:
    return str(int(lead_or_moment.timestamp()))


def _business_name(lead: st.Lead, business: st.Business | None) -> str:
    if lead.business_name_override:
        return lead.business_name_override
    return business.name if business else ""


def _attachments(items: list[dict[str, Any]]) -> list[Attachment]:
    return [Attachment.model_validate(item) for item in items]


def _location(lead: st.Lead, address1: str | None) -> Location:
    return Location(
        address1=address1,
        address2=lead.address2,
        city=lead.city,
        state=lead.state,
        zipCode=lead.zip_code,
    )


def _details(lead: st.Lead) -> list[Detail]:
    return [Detail(question=q, answer=a) for q, a in lead.details]


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True)
    return data


def legacy_lead(lead: st.Lead, business: st.Business | None) -> dict[str, Any]:
    model = LegacyLead(
        leadID=lead.lead_id,
        createTimestamp=_epoch(lead.created_at),
        price=lead.price,
        request=LeadRequest(
            requestID=lead.request_id,
            category=lead.category_name,
            categoryID=lead.category_id,
            title=lead.title,
            description=lead.description,
            schedule=lead.schedule,
            location=_location(lead, lead.address1 or ""),
            travelPreferences=lead.travel_preferences,
            details=_details(lead),
            attachments=_attachments(lead.attachments),
        ),
        customer=Customer(
            customerID=lead.customer.customer_id,
            name=lead.customer.name,
            phone=lead.customer.phone,
        ),
        business=Business(businessID=lead.business_id, name=_business_name(lead, business)),
        leadType=lead.lead_type,
    )
    body = _dump(model)
    # The reference sends these two as explicit nulls until the price is known; the price
    # follows in a lead update.
    charged = lead.charge_state is not None
    body["leadPrice"] = money(lead.lead_price_cents) if charged else None
    body["chargeState"] = lead.charge_state
    return body


def legacy_lead_update(lead: st.Lead) -> dict[str, Any]:
    return _dump(
        LegacyLeadUpdate(
            leadID=lead.lead_id,
            leadPrice=money(lead.lead_price_cents),
            chargeState=lead.charge_state,
        )
    )


def legacy_message(message: st.Message) -> dict[str, Any]:
    return _dump(
        LegacyMessage(
            leadID=message.lead_id,
            customerID=message.customer_id,
            businessID=message.business_id,
            message=LegacyMessageBody(
                messageID=message.message_id,
                createTimestamp=_epoch(message.sent_at),
                text=message.text,
                attachments=_attachments(message.attachments) or None,
            ),
        )
    )


def legacy_review(review: st.Review) -> dict[str, Any]:
    return _dump(
        LegacyReview(
            review=ReviewModel(
                reviewID=review.review_id,
                businessID=review.business_id,
                leadID=review.lead_id if review.verified else None,
                categoryID=review.category_id if review.verified else None,
                rating=str(review.rating),
                text=review.text if review.verified else None,
                reviewerName=review.reviewer_name if review.verified else None,
                createTime=str(int(review.created_at.timestamp() * 1000)),
                modifyTime=str(int(review.created_at.timestamp() * 1000)),
                verified=review.verified,
                photos=_attachments(review.photos) if review.verified else None,
            ),
            reviewEventType="REVIEW_ADDED",
        )
    )


def _cents(text: str) -> int:
    whole, _, fraction = text.lstrip("$").replace(",", "").partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def real_price_breakdown(cents: int) -> dict[str, str]:
    tax = round(cents * SALES_TAX_RATE)
    return {"salesTax": f"{money(tax)}", "subtotal": f"{money(cents - tax)}"}


def real_estimate(estimate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The recorded shape ``{total, pricePerUnit, type, unitName, unitQuantity}``."""
    if estimate is None:
        return None
    kind = str(estimate.get("type", "Fixed"))
    amount = estimate.get("amount")
    if not isinstance(amount, str):
        return {"type": kind}
    cents = _cents(amount)
    return {
        "total": money(cents),
        "pricePerUnit": f"{cents // 100}.{cents % 100:02d}",
        "type": kind,
        "unitName": _UNIT_NAMES.get(kind, "job"),
        "unitQuantity": 1,
    }


def travel_codes(preference: str) -> list[str]:
    return [TRAVEL_CODES.get(preference, preference)]


def v4_lead(
    lead: st.Lead, business: st.Business | None, shapes: DeliveryShapes = "real"
) -> dict[str, Any]:
    if shapes == "real":
        return _real_v4_lead(lead, business)
    price = money(lead.lead_price_cents)
    request = _v4_request(lead, lead.travel_preferences)
    model = V4Lead(
        negotiationID=lead.lead_id,
        status=lead.status,
        chargeState=lead.charge_state,
        leadPrice=price,
        leadPriceBreakdown={"basePrice": price, "discount": "$0.00"} if price else None,
        leadType=lead.lead_type,
        customer=_v4_customer(lead, lead.customer.display_name),
        business=Business(businessID=lead.business_id, name=_business_name(lead, business)),
        request=request,
        # The documents repeat the request's category and details at the top.
        category=request.category,
        details=request.details,
        estimate=lead.estimate,
        requestReviewLink=f"https://www.thumbtack.com/pro-inbox/review/{lead.lead_id}",
        refundRequestLink=f"https://www.thumbtack.com/pro-inbox/refund/{lead.lead_id}",
        createTime=iso(lead.created_at),
    )
    return _dump(model)


def _real_v4_lead(lead: st.Lead, business: st.Business | None) -> dict[str, Any]:
    """The recorded ``NegotiationCreatedV4`` data: ``createdAt``, ``leadPriceBreakdown {salesTax,
    subtotal}``, the full ``estimate``, travel preference codes, a customer named first and last."""
    price = money(lead.lead_price_cents)
    model = V4Lead(
        negotiationID=lead.lead_id,
        status=lead.status,
        chargeState=lead.charge_state,
        createdAt=iso(lead.created_at),
        leadPrice=price,
        leadPriceBreakdown=(
            real_price_breakdown(lead.lead_price_cents) if lead.lead_price_cents else None
        ),
        leadType=lead.lead_type,
        business=Business(businessID=lead.business_id, name=_business_name(lead, business)),
        customer=_v4_customer(lead, None),
        estimate=real_estimate(lead.estimate),
        request=_v4_request(lead, travel_codes(lead.travel_preferences)),
    )
    return _dump(model)


def _v4_customer(lead: st.Lead, display_name: str | None) -> Customer:
    return Customer(
        customerID=lead.customer.customer_id,
        firstName=lead.customer.first_name,
        lastName=lead.customer.last_name,
        displayName=display_name,
        phone=lead.customer.phone,
    )


def _v4_request(lead: st.Lead, travel_preferences: str | list[str]) -> LeadRequest:
    """The lead's request in both v4 shapes; they differ in how travel preferences are told."""
    return LeadRequest(
        requestID=lead.request_id,
        category=Category(categoryID=lead.category_id, name=lead.category_name),
        title=lead.title,
        description=lead.description,
        schedule=lead.schedule,
        location=_location(lead, lead.address1),
        details=_details(lead),
        attachments=_attachments(lead.attachments),
        proposedTimes=[ProposedTime.model_validate(t) for t in lead.proposed_times],
        travelPreferences=travel_preferences,
    )


def v4_message(
    message: st.Message,
    shapes: DeliveryShapes = "real",
    *,
    lead: st.Lead | None = None,
    business: st.Business | None = None,
) -> dict[str, Any]:
    """``MessageCreatedV4`` data; the real shape adds ``customer {customerID, displayName}`` and
    ``business {businessID, displayName}`` (from the message's lead and business when known)."""
    body = _docs_v4_message(message)
    if shapes == "real":
        customer: dict[str, Any] = {"customerID": message.customer_id}
        if lead is not None:
            customer["displayName"] = lead.customer.display_name
        named: dict[str, Any] = {"businessID": message.business_id}
        name = _business_name(lead, business) if lead is not None else None
        if name or business is not None:
            named["displayName"] = name or (business.name if business else "")
        body["customer"] = customer
        body["business"] = named
    return body


def _docs_v4_message(message: st.Message) -> dict[str, Any]:
    return _dump(
        V4Message.model_validate(
            {
                "messageID": message.message_id,
                "negotiationID": message.lead_id,
                "from": message.sender,
                "text": message.text,
                "attachments": message.attachments,
                "sentAt": iso(message.sent_at),
            }
        )
    )


def v4_review(review: st.Review) -> dict[str, Any]:
    return _dump(
        V4Review(
            reviewID=review.review_id,
            businessID=review.business_id,
            negotiationID=review.lead_id,
            rating=review.rating,
            text=review.text,
            reviewerName=review.reviewer_name,
            createTime=iso(review.created_at),
            verified=review.verified,
            photos=_attachments(review.photos),
        )
    )


def business(business: st.Business) -> dict[str, Any]:
    return {
        "businessID": business.business_id,
        "name": business.name,
        "categories": list(business.category_ids),
    }
