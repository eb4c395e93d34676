"""Delivers what happens in the sandbox to the partner, as Thumbtack and Coperniq would: leads,
messages, lead updates and reviews to the legacy partner endpoints (``POST {partner}/v1/lead``,
``/v1/message``, ``PUT /v1/lead/update``, ``POST /v1/review``) or to ``POST {partner}/v4/webhooks``
in the v4 envelope, plus to every v4 webhook a business registered, and Coperniq automation events
to the configured URL.

One background task starts deliveries in due order, up to ``MAX_IN_FLIGHT`` at once (as the real
senders do: one slow partner answer does not hold every later event back, and the order events
arrive in is not guaranteed), retries non-2xx answers and transport errors with exponential
backoff, and records every attempt on the ``Delivery`` so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from typing import Any

import httpx2

from tackbridge.sandbox import render
from tackbridge.sandbox.httputil import iso
from tackbridge.sandbox.state import Attempt, Delivery, Lead, Message, Review, SandboxState

log = logging.getLogger("tackbridge.sandbox.dispatcher")

USER_AGENT = "tackbridge-sandbox (Thumbtack/Coperniq stand-in)"
PARTNER_WEBHOOK_ID = "partner-url"
MAX_IN_FLIGHT = 16

_DESCRIPTIONS = {
    "NegotiationCreatedV4": "A new lead was created",
    "MessageCreatedV4": "A new message was sent",
    "ReviewCreatedV4": "A new review was posted",
}


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Dispatcher:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx2.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Pending deliveries by ID (so finding the next one does not scan every delivery ever
        # made), and those being attempted right now.
        self._pending: dict[str, Delivery] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    # lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        timeout = self.state.config.delivery_timeout_seconds
        self._client = httpx2.AsyncClient(timeout=timeout, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="sandbox-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        attempts = list(self._in_flight.values())
        for task in attempts:
            task.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)
        self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    # what to deliver ----------------------------------------------------------------------

    def lead_created(self, lead: Lead, *, delay: float = 0.0) -> list[Delivery]:
        business = self.state.business(lead.business_id)
        legacy = render.legacy_lead(lead, business)
        v4 = render.v4_lead(lead, business, self.state.config.delivery_shapes)
        return self._route(
            "lead",
            "NegotiationCreatedV4",
            lead.business_id,
            lead.lead_id,
            ("POST", "/v1/lead", legacy),
            v4,
            delay,
        )

    def message_created(self, message: Message, *, delay: float = 0.0) -> list[Delivery]:
        return self._route(
            "message",
            "MessageCreatedV4",
            message.business_id,
            message.message_id,
            ("POST", "/v1/message", render.legacy_message(message)),
            render.v4_message(
                message,
                self.state.config.delivery_shapes,
                lead=self.state.lead(message.lead_id),
                business=self.state.business(message.business_id),
            ),
            delay,
        )

    def lead_updated(self, lead: Lead, *, delay: float = 0.0) -> list[Delivery]:
        # v4 has no lead-update event for ordinary leads: the price arrives with the lead.
        return self._route(
            "lead_update",
            "LeadUpdated",
            lead.business_id,
            lead.lead_id,
            ("PUT", "/v1/lead/update", render.legacy_lead_update(lead)),
            None,
            delay,
        )

    def review_created(self, review: Review, *, delay: float = 0.0) -> list[Delivery]:
        return self._route(
            "review",
            "ReviewCreatedV4",
            review.business_id,
            review.review_id,
            ("POST", "/v1/review", render.legacy_review(review)),
            render.v4_review(review),
            delay,
        )

    def coperniq_event(self, payload: dict[str, Any]) -> list[Delivery]:
        url = self.state.config.coperniq_webhook_url
        if not url:
            return []
        event = payload["event"]
        return [
            self.enqueue(
                kind="coperniq_event",
                event_type=str(event["triggerKey"]),
                method="POST",
                url=url,
                body=payload,
                headers={},
                target="coperniq",
                record_id=str(event["recordId"]),
            )
        ]

    def _route(
        self,
        kind: str,
        event_type: str,
        business_id: str,
        record_id: str,
        legacy: tuple[str, str, dict[str, Any]],
        v4_data: dict[str, Any] | None,
        delay: float,
    ) -> list[Delivery]:
        config = self.state.config
        made: list[Delivery] = []
        headers: dict[str, str] = {}
        if config.partner_username is not None:
            headers["Authorization"] = _basic(
                config.partner_username, config.partner_password or ""
            )
        if config.partner_url:
            base = config.partner_url.rstrip("/")
            if config.delivery_style == "legacy":
                method, path, body = legacy
                made += self._enqueue_maybe_twice(
                    kind,
                    event_type,
                    method,
                    base + path,
                    body,
                    headers,
                    "partner",
                    record_id,
                    delay,
                )
            elif v4_data is not None:
                body = self._envelope(event_type, PARTNER_WEBHOOK_ID, v4_data)
                made += self._enqueue_maybe_twice(
                    kind,
                    event_type,
                    "POST",
                    base + "/v4/webhooks",
                    body,
                    headers,
                    "partner",
                    record_id,
                    delay,
                )
        if v4_data is not None:
            for hook in self.state.live_webhooks(business_id, event_type):
                hook_headers: dict[str, str] = {}
                if hook.auth_type == "basic":
                    hook_headers["Authorization"] = _basic(hook.username or "", hook.password or "")
                elif hook.auth_type == "header" and hook.header_name:
                    hook_headers[hook.header_name] = hook.header_value or ""
                body = self._envelope(event_type, hook.webhook_id, v4_data)
                made += self._enqueue_maybe_twice(
                    kind,
                    event_type,
                    "POST",
                    hook.url,
                    body,
                    hook_headers,
                    f"webhook:{hook.webhook_id}",
                    record_id,
                    delay,
                )
        return made

    def _envelope(self, event_type: str, webhook_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": {
                "eventType": event_type,
                "webhookID": webhook_id,
                "triggeredAt": iso(self.state.clock.now()),
                "description": _DESCRIPTIONS.get(event_type, event_type),
            },
            "data": data,
        }

    def _enqueue_maybe_twice(
        self,
        kind: str,
        event_type: str,
        method: str,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        target: str,
        record_id: str,
        delay: float,
    ) -> list[Delivery]:
        first = self.enqueue(
            kind=kind,
            event_type=event_type,
            method=method,
            url=url,
            body=body,
            headers=headers,
            target=target,
            record_id=record_id,
            delay=delay,
        )
        made = [first]
        if self.state.chance(self.state.faults.duplicate_rate):
            second = self.enqueue(
                kind=kind,
                event_type=event_type,
                method=method,
                url=url,
                body=body,
                headers=headers,
                target=target,
                record_id=record_id,
                delay=delay + 0.05,
            )
            second.duplicate_of = first.delivery_id
            made.append(second)
        return made

    def enqueue(
        self,
        *,
        kind: str,
        event_type: str,
        method: str,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        target: str,
        record_id: str | None,
        delay: float = 0.0,
    ) -> Delivery:
        state = self.state
        delivery = Delivery(
            delivery_id=state.ids.next(),
            kind=kind,
            event_type=event_type,
            method=method,
            url=url,
            body=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
            created_at=state.clock.now(),
            due=time.monotonic() + max(delay, 0.0),
            target=target,
            record_id=record_id,
        )
        with state.lock:
            state.deliveries[delivery.delivery_id] = delivery
            self._pending[delivery.delivery_id] = delivery
        self.wake()
        return delivery

    def retry_now(self) -> int:
        """Makes every pending delivery due now (tests need not wait out the backoff)."""
        now = time.monotonic()
        count = 0
        with self.state.lock:
            for delivery in self._pending.values():
                delivery.due = min(delivery.due, now)
                count += 1
        self.wake()
        return count

    # sending ------------------------------------------------------------------------------

    def _next(self) -> tuple[Delivery | None, float | None]:
        with self.state.lock:
            waiting = [d for k, d in self._pending.items() if k not in self._in_flight]
        if not waiting:
            return None, None
        first = min(waiting, key=lambda d: (d.due, d.created_at))
        wait = first.due - time.monotonic()
        return (first, None) if wait <= 0 else (None, wait)

    async def _run(self) -> None:
        while True:
            # Clear before looking, so an enqueue (or a finished attempt) that lands in between
            # still wakes us.
            self._wake.clear()
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                await self._wake.wait()
                continue
            delivery, wait = self._next()
            if delivery is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                continue
            self._in_flight[delivery.delivery_id] = asyncio.create_task(
                self._guarded(delivery), name=f"sandbox-delivery-{delivery.delivery_id}"
            )

    async def _guarded(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:  # a dispatcher bug must not stop every later delivery
            log.exception("delivery %s crashed", delivery.delivery_id)
            with self.state.lock:
                delivery.status = "failed"
        finally:
            with self.state.lock:
                if delivery.status != "pending":
                    self._pending.pop(delivery.delivery_id, None)
            self._in_flight.pop(delivery.delivery_id, None)
            self._wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        assert self._client is not None
        state = self.state
        config = state.config
        number = len(delivery.attempts) + 1
        started = state.clock.now()
        t0 = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self._client.request(
                delivery.method, delivery.url, content=delivery.body, headers=delivery.headers
            )
            status_code = response.status_code
            if state.chance(state.faults.delivery_drop_rate):
                error = "connection dropped before the answer was read (fault)"
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration = int((time.monotonic() - t0) * 1000)
        ok = error is None and status_code is not None and 200 <= status_code < 300
        with state.lock:
            if ok:
                outcome = "delivered"
                delivery.status = "delivered"
            elif number >= config.delivery_max_attempts:
                outcome = "failed"
                delivery.status = "failed"
            else:
                outcome = "retry"
                backoff = min(
                    config.delivery_backoff_seconds * 2 ** (number - 1),
                    config.delivery_backoff_max_seconds,
                )
                delivery.due = time.monotonic() + backoff
            delivery.attempts.append(
                Attempt(number, started, duration, status_code, error, outcome)  # type: ignore[arg-type]
            )
        what = f"{delivery.kind} {delivery.record_id} to {delivery.target}"
        if ok:
            state.note(f"delivered {what} ({status_code})")
        else:
            state.note(f"delivery of {what} failed ({status_code or error}); {outcome}")
