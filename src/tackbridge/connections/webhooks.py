"""Keeping our ``/v4/webhooks`` URL registered on each v4 business (the
``connection.register_webhook`` job).

Idempotent: an existing webhook with our URL is updated in place (its secret is write-only, so
the PUT also re-sends our current credentials), extra copies are deleted, and only when none
exists is one created. A business that is no longer connected needs no webhook; a disabled
one has ours removed. Without ``supply::webhooks.write`` nothing is tried (and nothing retried):
the connection says "webhook not registered: missing scope supply::webhooks.write".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tackbridge.connections import store
from tackbridge.connections.config import (
    WEBHOOK_EVENT_TYPES,
    WEBHOOK_PATH,
    WEBHOOKS_SCOPE,
    public_base,
)
from tackbridge.connections.kinds import REGISTER_WEBHOOK_KIND, RegisterWebhookJob
from tackbridge.connections.tokens import TokenManager
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, Registration
from tackbridge.outbox.thumbtack import call_with_refresh
from tackbridge.services import NotConfiguredError, Services, secret_value
from tackbridge.settings import Settings
from tackbridge.thumbtack import (
    MissingScopeError,
    WebhookBasicAuth,
    WebhookCreate,
    WebhookHeaderAuth,
    WebhookUpdate,
)
from tackbridge.thumbtack.grants import ConnectionUnavailableError, Grant

__all__ = [
    "REGISTER_WEBHOOK",
    "RegisterWebhookHandler",
    "missing_scope_note",
    "webhook_auth",
    "webhook_url",
]


T = TypeVar("T")


def missing_scope_note(scopes: tuple[str, ...] | list[str]) -> str:
    return "webhook not registered: missing scope " + ", ".join(scopes or (WEBHOOKS_SCOPE,))


def webhook_url(settings: Settings) -> str:
    return public_base(settings) + WEBHOOK_PATH


def webhook_auth(settings: Settings) -> WebhookBasicAuth | WebhookHeaderAuth:
    """The credentials Thumbtack must present: the partner endpoints' Basic pair, else the
    custom header (v4 allows either)."""
    password = secret_value(settings.webhook_password)
    if settings.webhook_username and password:
        return WebhookBasicAuth(username=settings.webhook_username, password=password)
    header_value = secret_value(settings.webhook_header_value)
    if settings.webhook_header_name and header_value:
        return WebhookHeaderAuth(headerName=settings.webhook_header_name, headerValue=header_value)
    raise NotConfiguredError("no webhook credentials to register (TACKBRIDGE_WEBHOOK_*)")


class _ScopeMissingError(Exception):
    """A ``MissingScopeError`` carried past the refresh and the job-outcome mapping: a missing
    scope is noted on the connection, never retried."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__(", ".join(scopes))
        self.scopes = scopes


def _scoped(call: Callable[[Grant], Awaitable[T]]) -> Callable[[Grant], Awaitable[T]]:
    async def run(grant: Grant) -> T:
        try:
            return await call(grant)
        except MissingScopeError as exc:
            raise _ScopeMissingError(exc.scopes) from None

    return run


class RegisterWebhookHandler:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(self, job: Job[RegisterWebhookJob]) -> None:
        business_id = job.payload.business_id
        service = self._services
        try:
            url = webhook_url(service.settings)
            auth = webhook_auth(service.settings)
        except NotConfiguredError as exc:
            raise PermanentError(str(exc)) from None
        grants = service.grants
        if grants is None:
            raise PermanentError("webhook registration needs the connections' token store")
        try:
            grant = await grants.access_token(business_id)
        except ConnectionUnavailableError:
            return  # disconnected or waiting for the pro: a new connection enqueues a new job
        if grant.api != "v4":
            return
        v4 = service.thumbtack.v4
        row: store.ConnectionRow | None = None
        scopes: tuple[str, ...] = ()
        if isinstance(grants, TokenManager):
            row, scopes = await grants.stored(business_id), await grants.scopes(business_id)
        enabled = True if row is None else row.enabled
        if enabled and scopes and WEBHOOKS_SCOPE not in scopes:
            await self._note(business_id, missing_scope_note([WEBHOOKS_SCOPE]))
            return

        async def unregister(current: Grant) -> None:
            page = await v4.list_webhooks(business_id, token=current.access_token)
            for hook in page.data:
                if hook.webhookURL == url:
                    await v4.delete_webhook(business_id, hook.webhookID, token=current.access_token)

        if not enabled:
            try:
                await call_with_refresh(grants, grant, _scoped(unregister))
            except _ScopeMissingError as exc:
                await self._note(business_id, missing_scope_note(list(exc.scopes)))
                return
            await service.writer.run(lambda conn: store.set_webhook(conn, business_id, None, None))
            return

        async def register(current: Grant) -> str:
            page = await v4.list_webhooks(business_id, token=current.access_token)
            ours = [hook for hook in page.data if hook.webhookURL == url]
            if not ours:
                created = await v4.create_webhook(
                    business_id,
                    WebhookCreate(webhookURL=url, eventTypes=list(WEBHOOK_EVENT_TYPES), auth=auth),
                    token=current.access_token,
                )
                return created.webhookID
            keep, *extra = ours
            await v4.update_webhook(
                business_id,
                keep.webhookID,
                WebhookUpdate(
                    webhookURL=url, eventTypes=list(WEBHOOK_EVENT_TYPES), enabled=True, auth=auth
                ),
                token=current.access_token,
            )
            for duplicate in extra:  # every event would otherwise arrive once per copy
                await v4.delete_webhook(
                    business_id, duplicate.webhookID, token=current.access_token
                )
            return keep.webhookID

        try:
            webhook_id = await call_with_refresh(grants, grant, _scoped(register))
        except _ScopeMissingError as exc:
            await self._note(business_id, missing_scope_note(list(exc.scopes)))
            return
        await service.writer.run(
            lambda conn: store.set_webhook(conn, business_id, webhook_id, None)
        )

    async def _note(self, business_id: str, why: str) -> None:
        await self._services.writer.run(
            lambda conn: store.set_webhook(conn, business_id, None, None, webhook_error=why)
        )


REGISTER_WEBHOOK = Registration(REGISTER_WEBHOOK_KIND, RegisterWebhookHandler)
