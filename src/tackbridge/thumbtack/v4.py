"""v4 API (``/api/v4``): leads ("negotiations"), messages, job status, businesses, webhooks,
business phone numbers, and the demand side (requests, users, business search).

Every call takes the access token as ``token=`` (a string, a ``SecretStr``, or an async callable
returning one) or falls back to the provider given to ``ThumbtackClient``. A 401 is raised as
:class:`AuthError`; refreshing and retrying is the caller's decision.

``GET /api/v4/businesses/{id}/negotiations`` is in the leads guide but some partners do not get
it: its 404 raises :class:`NotAvailableError` (a ``NotFoundError``), meaning "cannot list,
rely on webhooks". Its page cursor is not documented: the next-page token is read from
``pagination`` (``nextPageToken`` or a similar name) and sent back as ``pageToken``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel

from ._http import (
    HttpCore,
    TokenSource,
    body_json,
    expect_no_body,
    is_unset,
    parse_model,
    resolve_token,
    segment,
    unexpected,
)
from .environments import Environment
from .errors import NotAvailableError, NotFoundError
from .models._base import format_rfc3339
from .models.job_status import JobStatusUpdate
from .models.negotiations import (
    BusinessPage,
    Message,
    MessagePage,
    Negotiation,
    NegotiationPage,
    User,
)
from .models.phone_numbers import (
    AssociatePhoneNumber,
    AssociatePhoneNumberCreate,
    AssociatePhoneNumberPage,
    AssociatePhoneNumberUpdate,
)
from .models.requests import BusinessSearch, BusinessSearchResult, RequestCreate, RequestResult
from .models.webhooks import (
    Webhook,
    WebhookBasicAuth,
    WebhookCreate,
    WebhookHeaderAuth,
    WebhookPage,
    WebhookUpdate,
)

__all__ = ["MESSAGES_MAX_LIMIT", "PAGE_TOKEN_PARAM", "V4API"]

MESSAGES_MAX_LIMIT = 20
PAGE_TOKEN_PARAM = "pageToken"  # noqa: S105 - a query parameter name
M = TypeVar("M", bound=BaseModel)
_MAX_PAGES = 10_000  # a cursor that never ends is a server bug, not a reason to spin forever


class V4API:
    """The v4 API. Reach it as ``ThumbtackClient.v4``."""

    def __init__(
        self,
        core: HttpCore,
        environment: Environment,
        *,
        token_provider: TokenSource | None = None,
    ) -> None:
        self._core = core
        self._env = environment
        self._token_provider = token_provider

    # ------------------------------------------------------------------ negotiations (leads)

    async def get_negotiation(
        self, negotiation_id: str | int, *, token: TokenSource | None = None
    ) -> Negotiation:
        """``GET /api/v4/negotiations/{negotiationID}``."""
        response = await self._send(
            "GET", f"/negotiations/{segment(negotiation_id)}", "v4.get_negotiation", token
        )
        return parse_model(response, Negotiation)

    async def list_negotiations(
        self,
        business_id: str | int,
        *,
        page_token: str | None = None,
        limit: int | None = None,
        token: TokenSource | None = None,
    ) -> NegotiationPage:
        """One page of a business's leads. Raises NotAvailableError on 404 (see module doc)."""
        params: list[tuple[str, str]] = []
        if limit is not None:
            if limit < 1:
                raise ValueError("limit must be at least 1")
            params.append(("limit", str(limit)))
        if page_token:
            params.append((PAGE_TOKEN_PARAM, page_token))
        response = await self._send(
            "GET",
            f"/businesses/{segment(business_id)}/negotiations",
            "v4.list_negotiations",
            token,
            params=params,
            not_found=NotAvailableError,
        )
        return parse_model(response, NegotiationPage)

    async def iter_negotiations(
        self,
        business_id: str | int,
        *,
        limit: int | None = None,
        token: TokenSource | None = None,
    ) -> AsyncIterator[Negotiation]:
        """Every lead of a business, page after page (a backfill). The token is resolved per
        page, so a provider can hand out a refreshed one mid-way."""
        page_token: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = await self.list_negotiations(
                business_id, page_token=page_token, limit=limit, token=token
            )
            for negotiation in page.data:
                yield negotiation
            page_token = page.next_page_token
            if not page_token or not page.data or page_token in seen:
                return
            seen.add(page_token)

    async def update_job_status(
        self,
        negotiation_id: str | int,
        update: JobStatusUpdate,
        *,
        token: TokenSource | None = None,
    ) -> None:
        """``POST /api/v4/negotiations/{id}/job-status`` (scope ``supply::negotiations.write``)."""
        response = await self._send(
            "POST",
            f"/negotiations/{segment(negotiation_id)}/job-status",
            "v4.update_job_status",
            token,
            json=update.to_wire(),
        )
        expect_no_body(response)

    # ------------------------------------------------------------------ messages

    async def list_messages(
        self,
        negotiation_id: str | int,
        *,
        limit: int | None = None,
        sent_before: datetime | None = None,
        sent_after: datetime | None = None,
        token: TokenSource | None = None,
    ) -> MessagePage:
        """``GET /api/v4/negotiations/{id}/messages``; ``limit`` 1-20 (Thumbtack's default 10)."""
        params: list[tuple[str, str]] = []
        if limit is not None:
            if not 1 <= limit <= MESSAGES_MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {MESSAGES_MAX_LIMIT}")
            params.append(("limit", str(limit)))
        if sent_before is not None:
            params.append(("sentBefore", format_rfc3339(sent_before)))
        if sent_after is not None:
            params.append(("sentAfter", format_rfc3339(sent_after)))
        response = await self._send(
            "GET",
            f"/negotiations/{segment(negotiation_id)}/messages",
            "v4.list_messages",
            token,
            params=params,
        )
        return parse_model(response, MessagePage)

    async def iter_messages(
        self,
        negotiation_id: str | int,
        *,
        sent_after: datetime | None = None,
        token: TokenSource | None = None,
    ) -> AsyncIterator[Message]:
        """Every message of a lead, newest pages first, paging back with ``sentBefore``.

        ``sentBefore`` is exclusive, so messages sharing the exact timestamp of a page's oldest
        one but left off that page are missed; with 20 messages a page this needs a burst of
        same-second messages straddling a page boundary.
        """
        before: datetime | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = await self.list_messages(
                negotiation_id,
                limit=MESSAGES_MAX_LIMIT,
                sent_before=before,
                sent_after=sent_after,
                token=token,
            )
            fresh = [m for m in page.data if m.messageID not in seen]
            for message in fresh:
                seen.add(message.messageID)
                yield message
            times = [t for t in (m.sent_at for m in page.data) if t is not None]
            if len(page.data) < MESSAGES_MAX_LIMIT or not fresh or not times:
                return
            before = min(times)

    async def send_message(
        self, negotiation_id: str | int, text: str, *, token: TokenSource | None = None
    ) -> Message | None:
        """``POST /api/v4/negotiations/{id}/messages`` with ``{"text": ...}``. Returns the
        created message when Thumbtack echoes one, else None."""
        if not text or not text.strip():
            raise ValueError("message text must not be empty")
        response = await self._send(
            "POST",
            f"/negotiations/{segment(negotiation_id)}/messages",
            "v4.send_message",
            token,
            json={"text": text},
        )
        return _optional(response, Message)

    # ------------------------------------------------------------------ businesses and users

    async def list_businesses(self, *, token: TokenSource | None = None) -> BusinessPage:
        """``GET /api/v4/businesses``: the businesses of the connected user."""
        response = await self._send("GET", "/businesses", "v4.list_businesses", token)
        return parse_model(response, BusinessPage)

    async def get_current_user(self, *, token: TokenSource | None = None) -> User:
        """``GET /api/v4/users/self`` (demand side)."""
        response = await self._send("GET", "/users/self", "v4.get_current_user", token)
        return parse_model(response, User)

    # ------------------------------------------------------------------ webhooks

    async def list_webhooks(
        self, business_id: str | int, *, token: TokenSource | None = None
    ) -> WebhookPage:
        response = await self._send("GET", self._webhooks(business_id), "v4.list_webhooks", token)
        return parse_model(response, WebhookPage)

    async def create_webhook(
        self,
        business_id: str | int,
        webhook: WebhookCreate,
        *,
        token: TokenSource | None = None,
    ) -> Webhook:
        response = await self._send(
            "POST",
            self._webhooks(business_id),
            "v4.create_webhook",
            token,
            json=webhook.to_wire(),
            secrets=_auth_secrets(webhook.auth),
        )
        return parse_model(response, Webhook)

    async def get_webhook(
        self, business_id: str | int, webhook_id: str, *, token: TokenSource | None = None
    ) -> Webhook:
        response = await self._send(
            "GET",
            f"{self._webhooks(business_id)}/{segment(webhook_id)}",
            "v4.get_webhook",
            token,
        )
        return parse_model(response, Webhook)

    async def update_webhook(
        self,
        business_id: str | int,
        webhook_id: str,
        update: WebhookUpdate,
        *,
        token: TokenSource | None = None,
    ) -> Webhook | None:
        """``PUT`` the webhook; returns it when Thumbtack echoes it back."""
        response = await self._send(
            "PUT",
            f"{self._webhooks(business_id)}/{segment(webhook_id)}",
            "v4.update_webhook",
            token,
            json=update.to_wire(),
            secrets=_auth_secrets(update.auth),
        )
        return _optional(response, Webhook)

    async def delete_webhook(
        self, business_id: str | int, webhook_id: str, *, token: TokenSource | None = None
    ) -> None:
        response = await self._send(
            "DELETE",
            f"{self._webhooks(business_id)}/{segment(webhook_id)}",
            "v4.delete_webhook",
            token,
        )
        expect_no_body(response)

    async def create_test_negotiation(
        self, business_id: str | int, *, token: TokenSource | None = None
    ) -> dict[str, Any]:
        """``POST .../webhooks/test-negotiation``: Thumbtack creates a test lead and delivers
        it to the business's webhooks. Returns whatever JSON object it answers (or ``{}``)."""
        response = await self._send(
            "POST",
            f"{self._webhooks(business_id)}/test-negotiation",
            "v4.create_test_negotiation",
            token,
            json={},
        )
        data = body_json(response)
        if is_unset(data) or data is None:
            _no_body(response)
            return {}
        if not isinstance(data, dict):
            raise unexpected(response, "not a JSON object")
        return data

    # ------------------------------------------------------------------ phone numbers

    async def list_phone_numbers(
        self, business_id: str | int, *, token: TokenSource | None = None
    ) -> AssociatePhoneNumberPage:
        response = await self._send(
            "GET", self._phones(business_id), "v4.list_phone_numbers", token
        )
        return parse_model(response, AssociatePhoneNumberPage)

    async def create_phone_number(
        self,
        business_id: str | int,
        phone: AssociatePhoneNumberCreate,
        *,
        token: TokenSource | None = None,
    ) -> AssociatePhoneNumber | None:
        response = await self._send(
            "POST",
            self._phones(business_id),
            "v4.create_phone_number",
            token,
            json=phone.to_wire(),
        )
        return _optional(response, AssociatePhoneNumber)

    async def update_phone_number(
        self,
        business_id: str | int,
        phone_number_id: str,
        update: AssociatePhoneNumberUpdate,
        *,
        token: TokenSource | None = None,
    ) -> AssociatePhoneNumber | None:
        """``PUT .../associate-phone-numbers/{id}`` (the method is assumed, as for webhooks)."""
        response = await self._send(
            "PUT",
            f"{self._phones(business_id)}/{segment(phone_number_id)}",
            "v4.update_phone_number",
            token,
            json=update.to_wire(),
        )
        return _optional(response, AssociatePhoneNumber)

    async def delete_phone_number(
        self, business_id: str | int, phone_number_id: str, *, token: TokenSource | None = None
    ) -> None:
        response = await self._send(
            "DELETE",
            f"{self._phones(business_id)}/{segment(phone_number_id)}",
            "v4.delete_phone_number",
            token,
        )
        expect_no_body(response)

    # ------------------------------------------------------------------ demand side

    async def create_request(
        self, request: RequestCreate, *, token: TokenSource | None = None
    ) -> RequestResult:
        """``POST /api/v4/requests``. Check :attr:`RequestResult.contactErrors`: the request
        exists even when some businesses could not be contacted."""
        response = await self._send(
            "POST", "/requests", "v4.create_request", token, json=request.to_wire()
        )
        return parse_model(response, RequestResult)

    async def search_businesses(
        self, search: BusinessSearch, *, token: TokenSource | None = None
    ) -> BusinessSearchResult:
        """``POST /api/v4/businesses/search`` (demand side, client-credentials token)."""
        response = await self._send(
            "POST", "/businesses/search", "v4.search_businesses", token, json=search.to_wire()
        )
        return parse_model(response, BusinessSearchResult)

    # ------------------------------------------------------------------ helpers

    def _webhooks(self, business_id: str | int) -> str:
        return f"/businesses/{segment(business_id)}/webhooks"

    def _phones(self, business_id: str | int) -> str:
        return f"/businesses/{segment(business_id)}/associate-phone-numbers"

    async def _send(
        self,
        method: str,
        path: str,
        operation: str,
        token: TokenSource | None,
        *,
        params: list[tuple[str, str]] | None = None,
        json: Mapping[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
        not_found: type[NotFoundError] = NotFoundError,
    ) -> httpx2.Response:
        access = await resolve_token(token if token is not None else self._token_provider)
        extra: dict[str, Any] = {} if json is None else {"json": dict(json)}
        return await self._core.send(
            method,
            f"{self._env.api_base_url}/api/v4{path}",
            operation=operation,
            authorization=f"Bearer {access}",
            params=params,
            secrets=secrets,
            not_found=not_found,
            **extra,
        )


def _auth_secrets(auth: WebhookBasicAuth | WebhookHeaderAuth | None) -> tuple[str, ...]:
    if isinstance(auth, WebhookBasicAuth):
        return (auth.password.get_secret_value(),)
    if isinstance(auth, WebhookHeaderAuth):
        return (auth.headerValue.get_secret_value(),)
    return ()


def _optional(response: httpx2.Response, model: type[M]) -> M | None:
    """For creates/updates documented without an answer body: the echoed object, or None."""
    data = body_json(response)
    if is_unset(data) or data is None or data == {}:
        _no_body(response)
        return None
    return parse_model(response, model, data=data)


def _no_body(response: httpx2.Response) -> None:
    """An empty (or ``null``/``{}``) success is fine; a page of HTML is not an API answer."""
    expect_no_body(response)
    if is_unset(body_json(response)) and response.content.strip():
        raise unexpected(response, "non-JSON body")
