"""What the connections code reads from the settings: our public URL, and the default API and
scopes of a new connection. (The Thumbtack environment and our OAuth client are the process's
one Thumbtack client's: ``tackbridge.services``.)"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tackbridge.services import NotConfiguredError
from tackbridge.settings import Settings
from tackbridge.thumbtack.grants import Api

__all__ = [
    "BUSINESSES_SCOPE",
    "DEFAULT_SCOPES",
    "WEBHOOKS_SCOPE",
    "WEBHOOK_EVENT_TYPES",
    "Api",
    "NotConfiguredError",
    "callback_url",
    "configured_scopes",
    "public_base",
    "scopes_for",
]

#: Lists the businesses of the account that connected (``GET /api/v4/businesses``).
BUSINESSES_SCOPE = "supply::businesses.list"
#: Registers, updates and deletes our webhook on each business.
WEBHOOKS_SCOPE = "supply::webhooks.write"

#: What a connection asks for unless the operator chooses (``TACKBRIDGE_THUMBTACK_SCOPES``):
#: each feature's scopes; the README says what each is for and what happens without it.
DEFAULT_SCOPES: dict[Api, tuple[str, ...]] = {
    "v4": (
        "supply::negotiations.read",  # a lead's details, backfill
        "supply::negotiations.write",  # job status pushes
        "supply::messages.read",  # a lead's thread, backfill
        "supply::messages.write",  # replies, the automatic first reply
        BUSINESSES_SCOPE,  # which businesses connected
        "supply::webhooks.read",  # finding our webhook again
        WEBHOOKS_SCOPE,  # registering our webhook
        "offline_access",  # a refresh token: without it the connection ends after an hour
    ),
    "legacy": ("messages", "targeting"),
}

#: Every business event type api-notes.md lists; unknown ones are stored on arrival anyway.
WEBHOOK_EVENT_TYPES = (
    "NegotiationCreatedV4",
    "MessageCreatedV4",
    "ReviewCreatedV4",
    "PresetJobMatchedV4",
    "StatusChangedV4",
    "CancelledV4",
    "UpdatedV4",
    "CompletedV4",
    "IncentiveUsedV4",
)

CALLBACK_PATH = "/oauth/callback"
WEBHOOK_PATH = "/v4/webhooks"


def public_base(settings: Settings, fallback: str | None = None) -> str:
    base = settings.public_url or fallback
    if not base:
        raise NotConfiguredError("TACKBRIDGE_PUBLIC_URL is not set")
    return base.rstrip("/")


def callback_url(settings: Settings, fallback: str | None = None) -> str:
    """The OAuth redirect URI: ``TACKBRIDGE_PUBLIC_URL`` (or the request's base URL)."""
    return public_base(settings, fallback) + CALLBACK_PATH


def configured_scopes(settings: Settings | None, api: Api) -> tuple[str, ...]:
    """``TACKBRIDGE_THUMBTACK_SCOPES`` (v4), else the default set of ``api``."""
    if api == "v4" and settings is not None and settings.thumbtack_scopes:
        parts = [part for part in re.split(r"[\s,]+", settings.thumbtack_scopes) if part]
        if parts:
            return tuple(dict.fromkeys(parts))
    return DEFAULT_SCOPES[api]


def scopes_for(
    api: Api, requested: Sequence[str] | None, settings: Settings | None = None
) -> tuple[str, ...]:
    if not requested:
        return configured_scopes(settings, api)
    return tuple(dict.fromkeys(requested))
