"""The lead as the CRM and the auto-reply see it: a small typed snapshot built from either the
inbound event (``LeadReceived``) or the operator API's ``LeadView``, so mapping rules never
depend on the store or on which API version delivered the lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tackbridge.inbound.events import TEST_BUSINESS_NAME, LeadReceived
from tackbridge.leads.views import INBOX_LINK, LeadView


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
        customer, business = lead.customer, lead.business
        return cls(
            lead_id=lead.lead_id,
            is_test=lead.is_test or _is_test_business(business.name if business else None),
            category=lead.category,
            category_id=lead.category_id,
            title=lead.title,
            description=lead.description,
            schedule=lead.schedule,
            address1=lead.address1,
            address2=lead.address2,
            city=lead.city,
            state=lead.state,
            zip_code=lead.zip_code,
            customer_name=_name(
                customer.name if customer else None,
                customer.display_name if customer else None,
                customer.first_name if customer else None,
                customer.last_name if customer else None,
            ),
            customer_first_name=_first(
                customer.first_name if customer else None,
                customer.display_name if customer else None,
                customer.name if customer else None,
            ),
            customer_phone=customer.phone if customer else None,
            business_id=business.business_id if business else None,
            business_name=business.name if business else None,
            lead_type=lead.lead_type,
            lead_price=lead.lead_price,
            lead_price_cents=lead.lead_price_cents,
            charge_state=lead.charge_state,
            status=lead.status,
            created_at=lead.created_at,
            details=tuple(Detail(q, a) for q, a in lead.details),
        )

    @classmethod
    def from_view(cls, view: LeadView) -> LeadInput:
        request, location = view.request, view.request.location
        customer, business = view.customer, view.business
        return cls(
            lead_id=view.leadID,
            is_test=view.isTest or _is_test_business(business.name if business else None),
            category=request.category,
            category_id=request.categoryID,
            title=request.title,
            description=request.description,
            schedule=request.schedule,
            address1=location.address1,
            address2=location.address2,
            city=location.city,
            state=location.state,
            zip_code=location.zipCode,
            customer_name=_name(
                customer.name if customer else None,
                customer.displayName if customer else None,
                customer.firstName if customer else None,
                customer.lastName if customer else None,
            ),
            customer_first_name=_first(
                customer.firstName if customer else None,
                customer.displayName if customer else None,
                customer.name if customer else None,
            ),
            customer_phone=customer.phone if customer else None,
            business_id=business.businessID if business else None,
            business_name=business.name if business else None,
            lead_type=view.leadType,
            lead_price=view.leadPrice,
            lead_price_cents=view.leadPriceCents,
            charge_state=view.chargeState,
            status=view.status,
            created_at=view.createTimestamp,
            details=tuple(Detail(d.question, d.answer) for d in request.details),
        )


def _is_test_business(name: str | None) -> bool:
    return name is not None and name.strip().lower() == TEST_BUSINESS_NAME.lower()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _name(name: str | None, display: str | None, first: str | None, last: str | None) -> str | None:
    joined = " ".join(p for p in (_clean(first), _clean(last)) if p)
    return _clean(name) or _clean(display) or _clean(joined)


def _first(first: str | None, display: str | None, name: str | None) -> str | None:
    if _clean(first):
        return _clean(first)
    whole = _clean(display) or _clean(name)
    return whole.split(" ")[0] if whole else None
