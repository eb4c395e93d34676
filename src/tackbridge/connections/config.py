"""What the connections code reads from the settings: the Thumbtack environment and OAuth
client, our public URL, and the default API and scopes of a new connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import SecretStr

from tackbridge.settings import Settings
from tackbridge.thumbtack import ClientCredentials, Environment, ThumbtackClient

__all__ = [
    "DEFAULT_SCOPES",
    "WEBHOOK_EVENT_TYPES",
    "Api",
    "NotConfiguredError",
    "callback_url",
    "client_credentials",
    "environment",
    "open_thumbtack",
    "scopes_for",
    "secret_value",
]

Api = Literal["legacy", "v4"]

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


class NotConfiguredError(RuntimeError):
    """A setting the connect flow needs is missing."""


def secret_value(value: SecretStr | str | None) -> str | None:
    """The plaintext of a setting that may hold a SecretStr or, after ``model_copy``, a str."""
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    text = str(reveal() if callable(reveal) else value)
    return text or None


def environment(settings: Settings) -> Environment:
    try:
        return Environment.from_name(
            str(settings.thumbtack_environment), base_url=settings.thumbtack_base_url
        )
    except ValueError as exc:
        raise NotConfiguredError(f"TACKBRIDGE_THUMBTACK_ENVIRONMENT: {exc}") from None


def client_credentials(settings: Settings) -> ClientCredentials | None:
    secret = secret_value(settings.thumbtack_client_secret)
    if not settings.thumbtack_client_id or secret is None:
        return None
    return ClientCredentials(settings.thumbtack_client_id, secret)


def open_thumbtack(settings: Settings) -> ThumbtackClient:
    """The process's shared client (one connection pool), with our OAuth client, if any."""
    return ThumbtackClient(environment(settings), credentials=client_credentials(settings))


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
