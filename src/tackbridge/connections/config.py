"""What the connections code reads from the settings: our public URL, and the default API and
scopes of a new connection. (The Thumbtack environment and our OAuth client are the process's
one Thumbtack client's: ``tackbridge.services``.)"""

from __future__ import annotations

from collections.abc import Sequence

from tackbridge.services import NotConfiguredError
from tackbridge.settings import Settings
from tackbridge.thumbtack.grants import Api

__all__ = [
    "DEFAULT_SCOPES",
    "WEBHOOK_EVENT_TYPES",
    "Api",
    "NotConfiguredError",
    "callback_url",
    "public_base",
    "scopes_for",
]

#: What a connection asks for unless the operator chooses: replies, job status and targeting.
DEFAULT_SCOPES: dict[Api, tuple[str, ...]] = {
    "v4": (
        "supply::negotiations.read",
        "supply::negotiations.write",
        "supply::messages.read",
        "supply::messages.write",
        "offline_access",
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


def scopes_for(api: Api, requested: Sequence[str] | None) -> tuple[str, ...]:
    if not requested:
        return DEFAULT_SCOPES[api]
    return tuple(dict.fromkeys(requested))
