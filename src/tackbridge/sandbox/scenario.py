"""Realistic, reproducible marketplace traffic: leads with categories, places, request details,
schedules, attachments, lead types and prices; customers who reply to the pro; reviews.

``make_lead`` is pure: the same seed and index give the same lead content. ``ScenarioEngine`` owns
the timing: a lead every ``60 / lead_rate`` seconds while running, a lead update once the price is
known (legacy), customer replies after the pro writes, and the message-before-lead fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tackbridge.sandbox import catalog
from tackbridge.sandbox.dispatcher import Dispatcher
from tackbridge.sandbox.render import TEST_BUSINESS_NAME
from tackbridge.sandbox.state import Business, Customer, Lead, Message, Review, SandboxState

log = logging.getLogger("tackbridge.sandbox.scenario")


def category(category_id: str) -> catalog.CategoryInfo | None:
    return next((c for c in catalog.CATEGORIES if c.category_id == category_id), None)


def make_lead(
    *,
    seed: int,
    index: int,
    ids: Callable[[], str],
    business: Business,
    now: datetime,
    source: str = "scenario",
    category_id: str | None = None,
    lead_type: str | None = None,
    description: str | None = None,
    zip_code: str | None = None,
) -> Lead:
    """One lead's content, determined by ``seed`` and ``index`` (IDs come from ``ids``)."""
    rng = random.Random(f"lead:{seed}:{index}")  # noqa: S311 - simulated data
    info = category(category_id) if category_id else None
    if info is None:
        own = [c for c in catalog.CATEGORIES if c.category_id in business.category_ids]
        info = rng.choice(own or list(catalog.CATEGORIES))
    place = rng.choice(catalog.PLACES)
    kind = lead_type or rng.choice(catalog.LEAD_TYPES)
    first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
    with_address = kind in catalog.ADDRESS_LEAD_TYPES
    details = [(q, rng.choice(answers)) for q, answers in info.questions]
    attachments: list[dict[str, Any]] = []
    if rng.random() < 0.3:
        token = f"{rng.getrandbits(160):040x}"
        name = rng.choice(("photo.jpg", "door.jpg", "plans.pdf"))
        attachment: dict[str, Any] = {
            "fileName": name,
            "mimeType": "application/pdf" if name.endswith(".pdf") else "image/jpeg",
            "url": f"https://www.thumbtack.com/attachment/{token}/{name}",
            "description": rng.choice(("what it looks like now", "my stain", "")),
        }
        if rng.random() < 0.8:  # real deliveries sometimes omit the size
            attachment["fileSize"] = rng.randrange(800, 4_000_000)
        attachments.append(attachment)
    proposed: list[dict[str, str]] = []
    if kind in ("INSTANT_BOOK", "BOOKING", "INSTANT_CONSULT"):
        start = (now + timedelta(days=rng.randrange(1, 10))).replace(
            hour=rng.choice((9, 12, 15)), minute=0, second=0, microsecond=0
        )
        proposed.append(
            {
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
            }
        )
    low, high = info.price_range
    free = kind in ("PHONE_CONSULTATION",) or rng.random() < 0.1
    estimate_type = rng.choice(catalog.ESTIMATE_TYPES)
    estimate: dict[str, Any] = {"type": estimate_type}
    if estimate_type != "MoreInfo":
        estimate["amount"] = f"${rng.randrange(80, 2000)}.00"
    return Lead(
        lead_id=ids(),
        request_id=ids(),
        business_id=business.business_id,
        customer=Customer(
            customer_id=ids(),
            first_name=first,
            last_name=last,
            phone=f"415555{rng.randrange(1000, 9999)}" if with_address else None,
        ),
        category_id=info.category_id,
        category_name=info.name,
        title=info.name,
        description=description if description is not None else rng.choice(info.descriptions),
        schedule=rng.choice(catalog.SCHEDULES),
        address1=rng.choice(place.streets) if with_address else "",
        address2=rng.choice(("", "Apt 2", "Unit B")) if with_address else "",
        city=place.city,
        state=place.state,
        zip_code=zip_code or place.zip_code,
        travel_preferences=rng.choice(catalog.TRAVEL_PREFERENCES),
        details=details,
        attachments=attachments,
        proposed_times=proposed,
        lead_type=kind,
        price=rng.choice(catalog.PRICE_TEXTS),
        lead_price_cents=None if free else rng.randrange(low, high, 25),
        charge_state=None,
        estimate=estimate,
        created_at=now,
        source=source,
    )


class ScenarioEngine:
    def __init__(self, state: SandboxState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self._rng = random.Random(f"scenario:{state.config.seed}")  # noqa: S311
        self._index = 0
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.rate = state.config.lead_rate

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, rate: float | None = None) -> None:
        if rate is not None:
            if rate <= 0:
                raise ValueError("rate must be positive")
            self.rate = rate
        if self.rate <= 0:
            raise ValueError("set a lead rate (leads per minute) to start the scenario")
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="scenario")
        self.state.note(f"scenario started: {self.rate:g} leads per minute")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.state.note("scenario stopped")

    async def close(self) -> None:
        await self.stop()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(60.0 / self.rate)
            try:
                self.create_lead()
            except Exception:  # one bad tick must not end the scenario
                log.exception("scenario tick failed")

    def _later(self, delay: float, action: Callable[[], object]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            action()
            return
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            try:
                action()
            except Exception:
                log.exception("scheduled scenario action failed")

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _pick_business(self) -> Business:
        connected = self.state.connected_business_ids()
        pool = connected or list(self.state.businesses)
        with self.state.lock:
            return self.state.businesses[self._rng.choice(pool)]

    # actions ------------------------------------------------------------------------------

    def create_lead(
        self,
        business_id: str | None = None,
        *,
        source: str = "scenario",
        category_id: str | None = None,
        lead_type: str | None = None,
        description: str | None = None,
        zip_code: str | None = None,
        test: bool = False,
        follow_up: bool = True,
    ) -> Lead:
        """Creates a lead, delivers it, and schedules what a real customer would do next."""
        state = self.state
        if business_id is None:
            business = self._pick_business()
        else:
            found = state.business(business_id)
            if found is None:
                raise KeyError(business_id)
            business = found
        with state.lock:
            self._index += 1
            index = self._index
        lead = make_lead(
            seed=state.config.seed,
            index=index,
            ids=state.ids.next,
            business=business,
            now=state.clock.now(),
            source=source,
            category_id=category_id,
            lead_type=lead_type,
            description=description,
            zip_code=zip_code,
        )
        if test:
            lead.is_test = True
            lead.business_name_override = TEST_BUSINESS_NAME
            lead.customer.phone = "1234567890"
            lead.lead_price_cents = None
        if lead.lead_price_cents is not None and state.config.delivery_style == "v4":
            lead.charge_state = "Charged"
        state.add_lead(lead)
        if state.faults.message_before_lead and not test:
            # The fault: the customer's first message reaches the partner before its lead.
            self.customer_message(lead, self._rng.choice(catalog.CUSTOMER_MESSAGES))
            self.dispatcher.lead_created(lead, delay=0.3)
        else:
            self.dispatcher.lead_created(lead)
        if lead.lead_price_cents is not None and not test:
            self._later(0.5, lambda: self._price_known(lead))
        if follow_up and not test and self._chance(state.config.review_rate):
            self._later(state.config.reply_delay_seconds * 3, lambda: self.review(lead))
        return lead

    def _chance(self, rate: float) -> bool:
        with self.state.lock:
            return self._rng.random() < rate

    def _price_known(self, lead: Lead) -> None:
        with self.state.lock:
            lead.charge_state = "Charged"
        if self.state.config.delivery_style == "legacy":
            self.dispatcher.lead_updated(lead)

    def customer_message(
        self,
        lead: Lead,
        text: str | None = None,
        *,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Message:
        message = Message(
            message_id=self.state.ids.next(),
            lead_id=lead.lead_id,
            business_id=lead.business_id,
            customer_id=lead.customer.customer_id,
            sender="Customer",
            text=text or self._rng.choice(catalog.CUSTOMER_MESSAGES),
            sent_at=self.state.clock.now(),
            via="customer",
            attachments=attachments or [],
        )
        self.state.add_message(message)
        self.dispatcher.message_created(message)
        return message

    def business_message_in_app(self, lead: Lead, text: str) -> Message:
        """A pro typing in Thumbtack's own app: v4 delivers it to the partner too."""
        message = Message(
            message_id=self.state.ids.next(),
            lead_id=lead.lead_id,
            business_id=lead.business_id,
            customer_id=lead.customer.customer_id,
            sender="Business",
            text=text,
            sent_at=self.state.clock.now(),
            via="thumbtack-app",
        )
        self.state.add_message(message)
        self.dispatcher.message_created(message)
        return message

    def pro_message_received(self, lead: Lead) -> None:
        """The partner wrote to the customer through the API; the customer may answer."""
        if self._chance(self.state.config.reply_rate):
            self._later(self.state.config.reply_delay_seconds, lambda: self.customer_message(lead))

    def review(self, lead: Lead, rating: int | None = None, text: str | None = None) -> Review:
        rating = rating if rating is not None else self._rng.choice((5, 5, 5, 4, 4, 3, 2))
        review = Review(
            review_id=self.state.ids.next(),
            business_id=lead.business_id,
            lead_id=lead.lead_id,
            category_id=lead.category_id,
            rating=rating,
            text=text or self._rng.choice(catalog.REVIEW_TEXTS),
            reviewer_name=lead.customer.display_name,
            created_at=self.state.clock.now(),
            verified=True,
        )
        self.state.add_review(review)
        self.dispatcher.review_created(review)
        return review
