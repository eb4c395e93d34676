"""Pure parsing: a decoded JSON body -> a ``Delivery`` of domain events.

Liberal by design (api-notes.md lists how real deliveries differ from the documents): only the
record's identifier is required; every other field is read when it can be and left ``None`` when
it cannot. Fields outside the documented tables are kept in ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column

from tackbridge.core import bounds
from tackbridge.inbound import normalize as n
from tackbridge.leads.models import (
    TEST_BUSINESS_NAME,
    AttachmentInfo,
    BusinessInfo,
    CustomerInfo,
    Delivery,
    InvalidPayloadError,
    LeadReceived,
    LeadUpdated,
    MessageReceived,
    ReviewReceived,
)
from tackbridge.store.schema import attachments, customers, leads, reviews

_LEAD_KEYS = frozenset(
    {
        "leadID", "negotiationID", "createTimestamp", "createTime", "createdAt", "price",
        "request", "customer", "business", "leadType", "leadPrice", "chargeState", "status",
        "leadPriceBreakdown", "estimate", "requestReviewLink", "refundRequestLink", "category",
        "details", "attachments", "location", "description", "title", "schedule",
        "travelPreferences", "proposedTimes", "requestID", "categoryID",
    }
)  # fmt: skip
_REQUEST_KEYS = frozenset(
    {
        "requestID", "category", "categoryID", "title", "description", "schedule", "location",
        "travelPreferences", "details", "attachments", "proposedTimes",
    }
)  # fmt: skip
_CUSTOMER_KEYS = frozenset(
    {"customerID", "name", "displayName", "firstName", "lastName", "phone", "location"}
)
_BUSINESS_KEYS = frozenset({"businessID", "name", "accessCode"})
_LOCATION_KEYS = frozenset({"address1", "address2", "city", "state", "zipCode"})
_VERSION_SUFFIX = re.compile(r"V\d+$")


def _size(column: Column[Any]) -> int | None:
    """The width of a ``String(n)`` column: what the store keeps of a coded value."""
    length: int | None = getattr(column.type, "length", None)
    return length


def _object(body: Any, where: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidPayloadError(where, f"{where} must be a JSON object")
    return body


# Thumbtack's IDs are int64 (19 digits); the store keeps up to 64 characters, on every database.
MAX_ID_LENGTH = bounds.MAX_ID_LENGTH


def _sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _require_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    """The record's identifier (``normalize.identifier`` says what one is), or a refusal."""
    value = obj.get(key)
    ident = _optional_id(obj, key, path)
    if ident is None:
        if value is None:
            raise InvalidPayloadError(path, f"{path} is required")
        raise InvalidPayloadError(path, f"{path} must be a non-empty string or integer")
    return ident


def _optional_id(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    """An identifier the record may lack; present, it must be one (a NUL or an ID too long
    for the store refuses the delivery: it is kept, refused, in the inbound log)."""
    value = obj.get(key)
    problem = n.identifier_problem(value)
    if problem is not None and _refused(value):
        raise InvalidPayloadError(path, f"{path} {problem}")
    return n.identifier(value)


def _parent(path: str) -> str:
    """``"review."`` of ``"review.reviewID"``: where a record's other IDs are."""
    return path.rpartition(".")[0] + "." if "." in path else ""


def _refused(value: Any) -> bool:
    # Only a text or number that breaks the rule refuses; other shapes (an object, an empty
    # string) of an optional ID are tolerated as before, and read as absent.
    return (isinstance(value, str) and bool(value.strip())) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


def _attachments(value: Any) -> tuple[AttachmentInfo, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        AttachmentInfo(
            file_name=n.text(item.get("fileName")),
            file_size=n.integer(item.get("fileSize")),
            mime_type=n.code(item.get("mimeType"), _size(attachments.c.mime_type)),
            url=n.text(item.get("url")),
            description=n.text(item.get("description")),
        )
        for item in value
        if isinstance(item, Mapping)
    )


def _details(value: Any) -> tuple[tuple[str | None, str | None], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (n.text(item.get("question")), n.text(item.get("answer")))
        for item in value
        if isinstance(item, Mapping)
    )


def _unknown(obj: Mapping[str, Any], known: frozenset[str], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in obj.items() if key not in known}


def _customer(obj: Mapping[str, Any], lead_id: str) -> CustomerInfo:
    name = n.text(obj.get("name"))
    display = n.text(obj.get("displayName"))
    first = n.text(obj.get("firstName"))
    last = n.text(obj.get("lastName"))
    full = name or display or " ".join(part for part in (first, last) if part) or None
    if first is None and last is None:
        first, last = n.split_name(full)
    # A lead always has a customer; deliveries without its ID still get a stable one.
    customer_id = n.identifier(obj.get("customerID")) or f"lead-{lead_id}"
    return CustomerInfo(
        customer_id=customer_id,
        name=full,
        first_name=first,
        last_name=last,
        display_name=display,
        phone=n.code(obj.get("phone"), _size(customers.c.phone)),
    )


def _business(obj: Mapping[str, Any], path: str) -> BusinessInfo | None:
    business_id = _optional_id(obj, "businessID", path)
    if business_id is None:
        return None
    return BusinessInfo(
        business_id=business_id,
        name=n.text(obj.get("name")),
        access_code=n.text(obj.get("accessCode")),
    )


def _category(request: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    raw = request.get("category", data.get("category"))
    category_id = n.identifier(request.get("categoryID", data.get("categoryID")))
    if isinstance(raw, Mapping):
        return n.text(raw.get("name")), n.identifier(raw.get("categoryID")) or category_id
    return n.text(raw), category_id


def _lead(data: Mapping[str, Any], *, id_key: str, id_path: str, source: str) -> LeadReceived:
    lead_id = _require_id(data, id_key, id_path)
    request = _sub(data, "request")
    customer = _sub(data, "customer")
    business = _business(_sub(data, "business"), f"{_parent(id_path)}business.businessID")
    location = _sub(request, "location") or _sub(data, "location") or _sub(customer, "location")
    category, category_id = _category(request, data)

    def pick(key: str) -> Any:
        return request.get(key, data.get(key))

    lead_price_raw = data.get("leadPrice")
    extra = (
        _unknown(data, _LEAD_KEYS, "")
        | _unknown(request, _REQUEST_KEYS, "request.")
        | _unknown(customer, _CUSTOMER_KEYS, "customer.")
        | _unknown(_sub(data, "business"), _BUSINESS_KEYS, "business.")
        | _unknown(location, _LOCATION_KEYS, "request.location.")
    )
    is_test = business is not None and (business.name or "").casefold() == (
        TEST_BUSINESS_NAME.casefold()
    )
    return LeadReceived(
        lead_id=lead_id,
        source=source,
        is_test=is_test,
        created_at=n.timestamp(
            data.get("createTimestamp", data.get("createTime", data.get("createdAt")))
        ),
        business=business,
        customer=_customer(customer, lead_id),
        request_id=n.identifier(pick("requestID")),
        category=category,
        category_id=category_id,
        title=n.text(pick("title")),
        description=n.text(pick("description")),
        schedule=n.text(pick("schedule")),
        address1=n.text(location.get("address1")),
        address2=n.text(location.get("address2")),
        city=n.text(location.get("city")),
        state=n.code(location.get("state"), _size(leads.c.state)),
        zip_code=n.code(location.get("zipCode"), _size(leads.c.zip_code)),
        travel_preferences=pick("travelPreferences"),
        proposed_times=pick("proposedTimes"),
        price=n.text(data.get("price")),
        lead_type=n.code(data.get("leadType"), _size(leads.c.lead_type)),
        lead_price=_raw_money(lead_price_raw),
        lead_price_cents=n.money_cents(lead_price_raw),
        lead_price_breakdown=data.get("leadPriceBreakdown"),
        charge_state=n.code(data.get("chargeState"), _size(leads.c.charge_state)),
        status=n.code(data.get("status"), _size(leads.c.status)),
        estimate=data.get("estimate"),
        request_review_link=n.text(data.get("requestReviewLink")),
        refund_request_link=n.text(data.get("refundRequestLink")),
        details=_details(pick("details")),
        attachments=_attachments(pick("attachments")),
        extra=extra,
    )


def _raw_money(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return n.text(value)


def parse_legacy_lead(body: Any) -> LeadReceived:
    return _lead(_object(body), id_key="leadID", id_path="leadID", source="v1")


def parse_legacy_message(body: Any) -> MessageReceived:
    data = _object(body)
    message = _sub(data, "message")
    # Some deliveries put the message fields at the top level.
    holder = message if "messageID" in message else data
    path = "message.messageID" if holder is message or "message" in data else "messageID"
    message_id = _require_id(holder, "messageID", path)
    sender = n.text(holder.get("from", data.get("from"))) or "Customer"
    text = n.text(holder.get("text"))
    if text is None and holder is data:
        # The top-level shape carries the text in ``message`` (a string, not the body object).
        text = n.text(data.get("message"))
    return MessageReceived(
        message_id=message_id,
        source="v1",
        lead_id=(
            _optional_id(data, "leadID", "leadID")
            if "leadID" in data
            else _optional_id(holder, "leadID", "message.leadID")
        ),
        business_id=_optional_id(data, "businessID", "businessID"),
        customer_id=n.identifier(data.get("customerID")),
        sender=_sender(sender),
        text=text,
        sent_at=n.timestamp(holder.get("createTimestamp", holder.get("sentAt"))),
        attachments=_attachments(holder.get("attachments")),
    )


def _sender(value: str) -> str:
    return "Business" if value.strip().casefold() in {"business", "pro"} else "Customer"


def parse_legacy_lead_update(body: Any) -> LeadUpdated:
    data = _object(body)
    lead_id = _require_id(data, "leadID", "leadID")
    present = frozenset(key for key in ("leadPrice", "chargeState", "status") if key in data)
    return LeadUpdated(
        lead_id=lead_id,
        source="v1",
        lead_price=_raw_money(data.get("leadPrice")),
        lead_price_cents=n.money_cents(data.get("leadPrice")),
        charge_state=n.code(data.get("chargeState"), _size(leads.c.charge_state)),
        status=n.code(data.get("status"), _size(leads.c.status)),
        fields=present,
    )


def _review(
    data: Mapping[str, Any], *, path: str, source: str, event: str | None
) -> ReviewReceived:
    review_id = _require_id(data, "reviewID", path)
    rating_value = data.get("rating")
    return ReviewReceived(
        review_id=review_id,
        source=source,
        business_id=_optional_id(data, "businessID", f"{_parent(path)}businessID"),
        lead_id=_optional_id(
            data,
            "leadID" if "leadID" in data else "negotiationID",
            f"{_parent(path)}{'leadID' if 'leadID' in data else 'negotiationID'}",
        ),
        category_id=n.identifier(data.get("categoryID")),
        rating=n.rating(rating_value),
        rating_raw=n.code(
            rating_value if not isinstance(rating_value, float) else str(rating_value),
            _size(reviews.c.rating_raw),
        ),
        text=n.text(data.get("text")),
        reviewer_name=n.text(data.get("reviewerName")),
        reviewer_nickname=n.text(data.get("reviewerNickname")),
        verified=n.boolean(data.get("verified")),
        created_at=n.timestamp(data.get("createTime", data.get("createdAt"))),
        modified_at=n.timestamp(data.get("modifyTime")),
        event_type=event,
        photos=_attachments(data.get("photos")),
    )


def parse_legacy_review(body: Any) -> ReviewReceived:
    data = _object(body)
    review = data.get("review")
    if review is None and "reviewID" in data:
        review = data  # tolerate an unwrapped review
    if review is None:
        raise InvalidPayloadError("review", "review is required")
    return _review(
        _object(review, "review"),
        path="review.reviewID",
        source="v1",
        event=n.text(data.get("reviewEventType")) or "REVIEW_ADDED",
    )


def event_family(event_type: str) -> str:
    """``NegotiationCreatedV4`` and ``NegotiationCreatedV5`` are the same event."""
    return _VERSION_SUFFIX.sub("", event_type)


def _event(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``event`` object, or the envelope itself when it carries ``eventType`` at the top."""
    event = envelope.get("event")
    if isinstance(event, Mapping):
        return event
    if event is None and "eventType" in envelope:
        return envelope
    raise InvalidPayloadError("event", "event is required and must be an object")


def _v4_message(data: Mapping[str, Any]) -> MessageReceived:
    customer = _sub(data, "customer")
    business = _sub(data, "business")
    return MessageReceived(
        message_id=_require_id(data, "messageID", "data.messageID"),
        source="v4",
        lead_id=_optional_id(data, "negotiationID", "data.negotiationID"),
        business_id=(
            _optional_id(data, "businessID", "data.businessID")
            if "businessID" in data
            else _optional_id(business, "businessID", "data.business.businessID")
        ),
        customer_id=n.identifier(data.get("customerID", customer.get("customerID"))),
        sender=_sender(n.text(data.get("from")) or "Customer"),
        text=n.text(data.get("text")),
        sent_at=n.timestamp(data.get("sentAt")),
        attachments=_attachments(data.get("attachments")),
        customer_name=_name_of(customer),
        business_name=n.text(business.get("displayName")) or n.text(business.get("name")),
    )


def _name_of(person: Mapping[str, Any]) -> str | None:
    joined = " ".join(
        part for part in (n.text(person.get("firstName")), n.text(person.get("lastName"))) if part
    )
    return n.text(person.get("displayName")) or n.text(person.get("name")) or joined or None


def _v4_review(data: Mapping[str, Any], event_type: str) -> ReviewReceived:
    review = data.get("review")
    if isinstance(review, Mapping):
        # The review under ``data.review``; the lead and business may sit beside it.
        return _review(
            {**data, **review}, path="data.review.reviewID", source="v4", event=event_type
        )
    return _review(data, path="data.reviewID", source="v4", event=event_type)


def parse_v4(body: Any) -> Delivery:
    envelope = _object(body)
    event = _event(envelope)
    event_type = n.code(event.get("eventType"), _size(reviews.c.event_type))
    if not event_type:
        path = "eventType" if event is envelope else "event.eventType"
        raise InvalidPayloadError(path, f"{path} is required")
    data = envelope.get("data")
    webhook_id = n.identifier(event.get("webhookID"))
    triggered_at = n.timestamp(event.get("triggeredAt"))
    family = event_family(event_type)
    if family not in {"NegotiationCreated", "MessageCreated", "ReviewCreated"}:
        return Delivery(None, event_type, webhook_id, triggered_at)
    data = _object(data, "data")
    record: LeadReceived | MessageReceived | ReviewReceived
    if family == "NegotiationCreated":
        record = _lead(data, id_key="negotiationID", id_path="data.negotiationID", source="v4")
    elif family == "MessageCreated":
        record = _v4_message(data)
    else:
        record = _v4_review(data, event_type)
    return Delivery(record, event_type, webhook_id, triggered_at)
