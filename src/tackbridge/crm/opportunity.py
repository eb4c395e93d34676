"""Pure mapping from Thumbtack records to Coperniq writes: a lead to an opportunity create body,
a lead update to a custom-field patch, a message or a review to a note body, a review to a
rating patch, and fitting custom values to the properties a Coperniq account really has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.payloads.coperniq import OpportunityCreate, Property

__all__ = [
    "DEFAULT_TRADES",
    "CustomFieldKeys",
    "OpportunityMapping",
    "TradeTable",
    "address_of",
    "fit_custom",
    "lead_custom",
    "lead_update_patch",
    "message_note",
    "opportunity_create",
    "review_note",
    "review_patch",
    "title_of",
    "trades_for",
]

MAX_TITLE = 200


@dataclass(frozen=True)
class TradeTable:
    """Thumbtack category -> Coperniq trades: an exact (case-insensitive) name first, then the
    first keyword found in the name, then the fallback."""

    exact: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keywords: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fallback: tuple[str, ...] = ("General",)


DEFAULT_TRADES = TradeTable(
    exact={
        "kitchen remodel": ("Remodeling",),
        "bathroom remodel": ("Remodeling",),
        "interior painting": ("Painting",),
        "exterior painting": ("Painting",),
        "house cleaning": ("Cleaning",),
        "solar panel installation": ("Solar",),
        "roof repair or maintenance": ("Roofing",),
        "electrical and wiring repair": ("Electrical",),
        "central air conditioning repair or maintenance": ("HVAC",),
    },
    keywords=(
        ("solar", ("Solar",)),
        ("roof", ("Roofing",)),
        ("gutter", ("Roofing",)),
        ("hvac", ("HVAC",)),
        ("air condition", ("HVAC",)),
        ("heating", ("HVAC",)),
        ("furnace", ("HVAC",)),
        ("electric", ("Electrical",)),
        ("lighting", ("Electrical",)),
        ("plumb", ("Plumbing",)),
        ("water heater", ("Plumbing",)),
        ("paint", ("Painting",)),
        ("remodel", ("Remodeling",)),
        ("renovat", ("Remodeling",)),
        ("floor", ("Flooring",)),
        ("tile", ("Flooring",)),
        ("landscap", ("Landscaping",)),
        ("lawn", ("Landscaping",)),
        ("clean", ("Cleaning",)),
        ("handyman", ("Handyman",)),
        ("window", ("Windows",)),
        ("insulation", ("Insulation",)),
    ),
)


@dataclass(frozen=True)
class CustomFieldKeys:
    """Coperniq ``keyName`` of each custom field we write; None leaves that field out."""

    lead_id: str = "thumbtack_lead_id"
    lead_type: str | None = "thumbtack_lead_type"
    lead_price: str | None = "lead_price"
    charge_state: str | None = "thumbtack_charge_state"
    category_id: str | None = "thumbtack_category_id"
    inbox_link: str | None = "thumbtack_inbox_link"
    lead_status: str | None = "thumbtack_lead_status"
    customer_name: str | None = "customer_name"
    rating: str | None = "thumbtack_rating"


@dataclass(frozen=True)
class OpportunityMapping:
    trades: TradeTable = DEFAULT_TRADES
    keys: CustomFieldKeys = field(default_factory=CustomFieldKeys)
    workflow_id: int | None = None
    # primaryPhone makes Coperniq create or match a contact by phone on its own.
    send_primary_phone: bool = True


def trades_for(category: str | None, table: TradeTable = DEFAULT_TRADES) -> list[str]:
    name = " ".join((category or "").lower().split())
    if name:
        exact = {k.lower(): v for k, v in table.exact.items()}
        if exact.get(name):
            return list(exact[name])
        for keyword, trades in table.keywords:
            if keyword.lower() in name and trades:
                return list(trades)
    return list(table.fallback) or ["General"]


def title_of(lead: LeadInput) -> str:
    what = lead.category or lead.title or "Thumbtack lead"
    title = f"{what} - {lead.customer_name}" if lead.customer_name else what
    return title[:MAX_TITLE]


def disambiguated_title(lead: LeadInput) -> str:
    """The title when the plain one already names another lead's opportunity."""
    suffix = f" (Thumbtack lead {lead.lead_id})"
    return title_of(lead)[: MAX_TITLE - len(suffix)] + suffix


def address_of(lead: LeadInput) -> list[str]:
    """Coperniq's address: an array with one string, "street, city, ST 12345"."""
    street = ", ".join(p.strip() for p in (lead.address1, lead.address2) if p and p.strip())
    region = " ".join(p.strip() for p in (lead.state, lead.zip_code) if p and p.strip())
    parts = [p for p in (street, (lead.city or "").strip(), region) if p]
    # Coperniq requires an address; a lead without a location still becomes an opportunity.
    return [", ".join(parts) if parts else f"Unknown (Thumbtack lead {lead.lead_id})"]


def _money(cents: int | None, raw: str | None) -> Decimal | None:
    if cents is not None:
        return Decimal(cents) / 100
    if raw is None:
        return None
    try:
        value = Decimal(raw.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def description_of(lead: LeadInput) -> str:
    blocks: list[str] = []
    if lead.description and lead.description.strip():
        blocks.append(lead.description.strip())
    if lead.schedule and lead.schedule.strip():
        blocks.append("Schedule:\n" + lead.schedule.strip())
    answered = [d for d in lead.details if d.question or d.answer]
    if answered:
        lines = [f"- {d.question or '(question)'}: {d.answer or '(no answer)'}" for d in answered]
        blocks.append("Details:\n" + "\n".join(lines))
    facts = [
        f"Thumbtack lead {lead.lead_id}",
        f"received {_when(lead.created_at)}" if lead.created_at else None,
        f"lead type {lead.lead_type}" if lead.lead_type else None,
        f"lead price {lead.lead_price}" if lead.lead_price else None,
    ]
    blocks.append("; ".join(f for f in facts if f) + "\nThumbtack inbox: " + lead.inbox_link)
    return "\n\n".join(blocks)


def lead_custom(lead: LeadInput, keys: CustomFieldKeys) -> dict[str, Any]:
    price = _money(lead.lead_price_cents, lead.lead_price)
    values: list[tuple[str | None, Any]] = [
        (keys.lead_id, lead.lead_id),
        (keys.lead_type, lead.lead_type),
        (keys.lead_price, float(price) if price is not None else None),
        (keys.charge_state, lead.charge_state),
        (keys.category_id, lead.category_id),
        (keys.inbox_link, lead.inbox_link),
        (keys.lead_status, lead.status),
        (keys.customer_name, lead.customer_name),
    ]
    return {key: value for key, value in values if key and value is not None}


def opportunity_create(
    lead: LeadInput, mapping: OpportunityMapping | None = None, *, title: str | None = None
) -> OpportunityCreate:
    mapping = mapping or OpportunityMapping()
    phone = lead.customer_phone if mapping.send_primary_phone else None
    return OpportunityCreate(
        title=title or title_of(lead),
        address=address_of(lead),
        trades=trades_for(lead.category, mapping.trades),
        description=description_of(lead),
        workflowId=mapping.workflow_id,
        primaryPhone=phone if phone and sum(c.isdigit() for c in phone) >= 7 else None,
        custom=lead_custom(lead, mapping.keys),
    )


def lead_update_patch(update: LeadUpdated, keys: CustomFieldKeys) -> dict[str, Any] | None:
    """``PATCH /opportunities/{id}`` body for the fields the update carried, or None."""
    custom: dict[str, Any] = {}
    carried = update.fields  # Thumbtack's field names
    if keys.lead_price and "leadPrice" in carried:
        price = _money(update.lead_price_cents, update.lead_price)
        custom[keys.lead_price] = float(price) if price is not None else None
    if keys.charge_state and "chargeState" in carried:
        custom[keys.charge_state] = update.charge_state
    if keys.lead_status and "status" in carried:
        custom[keys.lead_status] = update.status
    return {"custom": custom} if custom else None


def _attachment_lines(items: Sequence[Any]) -> list[str]:
    lines = []
    for item in items:
        name = item.file_name or item.description or "attachment"
        lines.append(f"- {name}" + (f" ({item.url})" if item.url else ""))
    return lines


def message_note(
    message: MessageReceived,
    *,
    customer_name: str | None = None,
    business_name: str | None = None,
) -> str:
    """A note body saying who wrote, when, and what (attachments as links, never fetched)."""
    if message.sender == "Business":
        who = f"{business_name} (pro)" if business_name else "The pro"
    else:
        who = f"{customer_name} (customer)" if customer_name else "The customer"
    when = _when(message.sent_at)
    head = f"Thumbtack message from {who}" + (f", {when}" if when else "") + ":"
    parts = [head, (message.text or "").strip() or "(no text)"]
    if message.attachments:
        parts.append("Attachments:\n" + "\n".join(_attachment_lines(message.attachments)))
    return "\n\n".join(parts)


def review_note(review: ReviewReceived) -> str:
    rating = f"{review.rating}/5" if review.rating is not None else review.rating_raw or "unrated"
    who = review.reviewer_name or review.reviewer_nickname or "a customer"
    when = _when(review.created_at)
    head = f"Thumbtack review from {who}: {rating}" + (f", {when}" if when else "")
    parts = [head]
    if review.text and review.text.strip():
        parts.append(review.text.strip())
    if review.photos:
        parts.append("Photos:\n" + "\n".join(_attachment_lines(review.photos)))
    return "\n\n".join(parts)


def review_patch(review: ReviewReceived, keys: CustomFieldKeys) -> dict[str, Any] | None:
    if not keys.rating or review.rating is None:
        return None
    return {"custom": {keys.rating: review.rating}}


def fit_custom(
    custom: Mapping[str, Any], properties: Sequence[Property], *, allow_new_options: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The values the account's properties can hold, converted to each property's type, and
    the keys left out (no such property, or a value its type cannot take).

    A dropdown value that is not one of the property's options is left out too unless
    ``allow_new_options``: Coperniq refuses the whole record for it, and one unexpected lead
    type must not keep a lead out of the CRM. An option differing only in case is written in
    the account's spelling.
    """
    by_key = {p.keyName: p for p in properties}
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in custom.items():
        prop = by_key.get(key)
        converted = _convert(value, prop, allow_new_options) if prop is not None else _NO
        if converted is _NO:
            dropped.append(key)
        else:
            kept[key] = converted
    return kept, dropped


_NO: Any = object()


def _option(text: str, prop: Property, allow_new_options: bool) -> Any:
    if text in prop.options:
        return text
    folded = {option.casefold(): option for option in prop.options}
    if text.casefold() in folded:
        return folded[text.casefold()]
    return text if allow_new_options else _NO


def _convert(value: Any, prop: Property, allow_new_options: bool = False) -> Any:
    if value is None:
        return None
    kind = prop.type.upper()
    if kind == "NUMERIC":
        if isinstance(value, bool):
            return _NO
        if isinstance(value, int | float):
            return value
        money = _money(None, str(value))
        return float(money) if money is not None else _NO
    if kind == "DROPDOWN":
        option = _option(str(value), prop, allow_new_options)
        if option is _NO:
            return _NO
        return [option] if prop.isMultiple else option
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
