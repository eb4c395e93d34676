"""The sandbox's in-memory Thumbtack world: businesses, leads, messages, reviews, job statuses,
targeting, registered webhooks, deliveries, and a log of what happened.

One ``SandboxState`` per app. Every mutation takes ``state.lock`` (a re-entrant lock), so route
handlers, the dispatcher and the scenario engine may touch it from any task or thread. Records are
plain dataclasses; their wire shapes live in ``render``.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from tackbridge.sandbox.catalog import CATEGORIES
from tackbridge.sandbox.clock import Clock
from tackbridge.sandbox.config import Faults, SandboxConfig
from tackbridge.sandbox.coperniq.store import CoperniqStore
from tackbridge.sandbox.tokens import TokenStore

Sender = Literal["Customer", "Business"]


class IdFactory:
    """Thumbtack-style 18-digit identifiers, reproducible for a given seed and call order."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")  # noqa: S311 - identifiers, not secrets
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def next(self) -> str:
        with self._lock:
            while True:
                value = str(self._rng.randrange(10**17, 10**18))
                if value not in self._seen:
                    self._seen.add(value)
                    return value


@dataclass
class Business:
    business_id: str
    name: str
    category_ids: list[str]
    # Legacy v3 targeting: the service (the business) and its categories can be paused.
    service_targeting: bool = True
    category_targeting: dict[str, bool] = field(default_factory=dict)


@dataclass
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    phone: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name[:1]}."


@dataclass
class Lead:
    """A Thumbtack lead (a v4 negotiation) for one business."""

    lead_id: str
    request_id: str
    business_id: str
    customer: Customer
    category_id: str
    category_name: str
    title: str
    description: str | None
    schedule: str | None
    address1: str
    address2: str
    city: str
    state: str
    zip_code: str
    travel_preferences: str
    details: list[tuple[str, str]]
    attachments: list[dict[str, Any]]
    proposed_times: list[dict[str, str]]
    lead_type: str
    price: str | None
    lead_price_cents: int | None
    charge_state: str | None
    estimate: dict[str, Any] | None
    created_at: datetime
    status: str = "Open"
    is_test: bool = False
    source: str = "scenario"
    business_name_override: str | None = None


@dataclass
class Message:
    message_id: str
    lead_id: str
    business_id: str
    customer_id: str
    sender: Sender
    text: str
    sent_at: datetime
    via: str
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Review:
    review_id: str
    business_id: str
    lead_id: str | None
    category_id: str | None
    rating: int
    text: str | None
    reviewer_name: str | None
    created_at: datetime
    verified: bool
    photos: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JobStatus:
    lead_id: str
    business_id: str
    status: str
    partner_status_changed_at: str
    invoice_amount_in_cents: int | None
    received_at: datetime
    client_id: str


@dataclass
class TargetingChange:
    business_id: str
    category_id: str | None
    enabled: bool
    at: datetime


WebhookAuthType = Literal["none", "basic", "header"]


@dataclass
class Webhook:
    webhook_id: str
    business_id: str
    url: str
    event_types: list[str]
    auth_type: WebhookAuthType
    created_at: datetime
    updated_at: datetime
    enabled: bool = True
    username: str | None = None
    password: str | None = None
    header_name: str | None = None
    header_value: str | None = None
    deleted_at: datetime | None = None


@dataclass
class Attempt:
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: Literal["delivered", "retry", "failed"]


@dataclass
class Delivery:
    """One event on its way to one partner URL; the body is fixed so retries are identical."""

    delivery_id: str
    kind: str  # lead, message, lead_update, review, coperniq_event
    event_type: str
    method: str
    url: str
    body: bytes
    headers: dict[str, str]
    created_at: datetime
    due: float  # loop time of the next attempt
    target: str  # partner, webhook:<id>, coperniq
    record_id: str | None = None
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Happening:
    at: datetime
    text: str


class SandboxState:
    """All mutable state of one sandbox; see the module docstring for the locking rule."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config.validated()
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = IdFactory(config.seed)
        self._fault_rng = random.Random(f"faults:{config.seed}")  # noqa: S311
        self.tokens = TokenStore(self.clock, signing_key=config.token_signing_key)
        self.coperniq = CoperniqStore(self.clock, seed=config.seed)
        self.businesses: dict[str, Business] = {}
        self.leads: dict[str, Lead] = {}
        self.messages: list[Message] = []
        self.reviews: list[Review] = []
        self.job_statuses: list[JobStatus] = []
        self.targeting: list[TargetingChange] = []
        self.webhooks: dict[str, Webhook] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.happenings: deque[Happening] = deque(maxlen=500)
        default_categories = [c.category_id for c in CATEGORIES]
        for index, seed in enumerate(config.businesses):
            business_id = seed.business_id or self.ids.next()
            categories = list(seed.category_ids) or [
                default_categories[(index + k) % len(default_categories)] for k in range(3)
            ]
            self.businesses[business_id] = Business(business_id, seed.name, categories)

    # faults -------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self.lock:
            return self.config.faults

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.config = self.config.with_faults(faults)
            self.note(f"faults set: {faults}")

    def set_config(self, **changes: Any) -> None:
        with self.lock:
            self.config = replace(self.config, **changes).validated()

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self._fault_rng.random() < rate

    # records ------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        with self.lock:
            self.happenings.append(Happening(self.clock.now(), text))

    def business(self, business_id: str) -> Business | None:
        with self.lock:
            return self.businesses.get(business_id)

    def add_business(self, name: str, business_id: str | None = None) -> Business:
        with self.lock:
            if business_id and business_id in self.businesses:
                return self.businesses[business_id]
            business = Business(business_id or self.ids.next(), name, [CATEGORIES[0].category_id])
            self.businesses[business.business_id] = business
            self.note(f"business {business.business_id} created ({name})")
            return business

    def add_lead(self, lead: Lead) -> Lead:
        with self.lock:
            self.leads[lead.lead_id] = lead
            self.note(f"lead {lead.lead_id} for business {lead.business_id} ({lead.source})")
            return lead

    def lead(self, lead_id: str) -> Lead | None:
        with self.lock:
            return self.leads.get(lead_id)

    def leads_of(self, business_id: str) -> list[Lead]:
        with self.lock:
            return [lead for lead in self.leads.values() if lead.business_id == business_id]

    def add_message(self, message: Message) -> Message:
        with self.lock:
            self.messages.append(message)
            who = "customer" if message.sender == "Customer" else "business"
            self.note(f"message {message.message_id} from the {who} on lead {message.lead_id}")
            return message

    def messages_of(self, lead_id: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.lead_id == lead_id]

    def add_review(self, review: Review) -> Review:
        with self.lock:
            self.reviews.append(review)
            self.note(f"review {review.review_id} ({review.rating}/5) for {review.business_id}")
            return review

    def add_job_status(self, status: JobStatus) -> JobStatus:
        with self.lock:
            self.job_statuses.append(status)
            lead = self.leads.get(status.lead_id)
            if lead is not None and status.status in ("customer_cancel", "pro_cancel"):
                lead.status = "Canceled"
            self.note(f"job status {status.status} on lead {status.lead_id}")
            return status

    def add_targeting(self, change: TargetingChange) -> None:
        with self.lock:
            business = self.businesses[change.business_id]
            if change.category_id is None:
                business.service_targeting = change.enabled
            else:
                business.category_targeting[change.category_id] = change.enabled
            self.targeting.append(change)
            where = f"category {change.category_id}" if change.category_id else "service"
            state = "on" if change.enabled else "off"
            self.note(f"targeting {state} for {where} of {change.business_id}")

    def live_webhooks(self, business_id: str, event_type: str) -> list[Webhook]:
        with self.lock:
            return [
                hook
                for hook in self.webhooks.values()
                if hook.business_id == business_id
                and hook.deleted_at is None
                and hook.enabled
                and event_type in hook.event_types
            ]

    def connected_business_ids(self) -> list[str]:
        with self.lock:
            connected = self.tokens.connected_business_ids()
            return [b for b in self.businesses if b in connected]
