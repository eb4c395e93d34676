"""Keeping our ``/v4/webhooks`` URL registered on each v4 business (the
``connection.register_webhook`` job).

Idempotent: an existing webhook with our URL is updated in place (its secret is write-only, so
the PUT also re-sends our current credentials), extra copies are deleted, and only when none
exists is one created. A business that is no longer connected needs no webhook.
"""

from __future__ import annotations

from tackbridge.connections import store
from tackbridge.connections.config import WEBHOOK_EVENT_TYPES, WEBHOOK_PATH, public_base
from tackbridge.connections.kinds import REGISTER_WEBHOOK_KIND, RegisterWebhookJob
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, Registration
from tackbridge.outbox.thumbtack import call_with_refresh
from tackbridge.services import NotConfiguredError, Services, secret_value
from tackbridge.settings import Settings
from tackbridge.thumbtack import (
    WebhookBasicAuth,
    WebhookCreate,
    WebhookHeaderAuth,
    WebhookUpdate,
)
from tackbridge.thumbtack.grants import ConnectionUnavailableError, Grant

__all__ = ["REGISTER_WEBHOOK", "RegisterWebhookHandler", "webhook_auth", "webhook_url"]


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

        webhook_id = await call_with_refresh(grants, grant, register)
        await service.writer.run(
            lambda conn: store.set_webhook(conn, business_id, webhook_id, None)
        )


REGISTER_WEBHOOK = Registration(REGISTER_WEBHOOK_KIND, RegisterWebhookHandler)
