"""Runtime configuration, read from ``TACKBRIDGE_*`` environment variables and an optional ``.env``.

Production refuses to start without the secrets that protect the partner endpoints and the
operator API; dev mode fills them with well-known development values instead.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_WEBHOOK_USERNAME = "thumbtack"
DEV_WEBHOOK_PASSWORD = "dev-webhook-password"  # noqa: S105 - a documented development value
DEV_API_TOKEN = "dev-api-token"  # noqa: S105 - a documented development value


class Mode(StrEnum):
    PRODUCTION = "production"
    DEV = "dev"


class MissingSecretsError(RuntimeError):
    """Raised at start-up when production mode lacks a required secret."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        names = ", ".join(missing)
        super().__init__(
            f"refusing to start in production mode: missing {names} "
            "(set them, or set TACKBRIDGE_MODE=dev for local development)"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TACKBRIDGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    mode: Mode = Mode.PRODUCTION
    data_dir: Path = Path("var")
    database_url: str = ""
    sqlite_synchronous: str = Field(
        default="FULL",
        description="SQLite PRAGMA synchronous: FULL survives power loss, NORMAL only crashes.",
    )

    webhook_username: str | None = None
    webhook_password: SecretStr | None = None
    # v4 webhooks may authenticate with a custom header instead of Basic.
    webhook_header_name: str | None = None
    webhook_header_value: SecretStr | None = None

    api_token: SecretStr | None = None

    run_worker: bool = Field(
        default=True, description="Run the outbox worker inside `tackbridge serve`."
    )
    # Jobs in flight per worker. Nearly all of a job's time is waiting on a remote API, and a
    # large batch of claims and settles costs little more than a small one: 32 held 100 leads/s
    # of work to ~45/s on 2 cores, 256 kept up (bench/speed_to_lead.py, bench/RESULTS.md).
    worker_concurrency: int = Field(default=256, ge=1)
    worker_lease_seconds: float = 60.0
    # How often an idle worker looks for due jobs. Jobs queued in this process wake its worker
    # at once; a worker in another process (``tackbridge worker``) sees them at its next look.
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    # /readyz reports a worker that has due jobs but has completed no claim for this long as
    # stalled; unset: max(10 s, 5 poll intervals).
    worker_stall_seconds: float | None = Field(default=None, gt=0)
    # The retry schedule (tackbridge.outbox.backoff): base * 2**(attempt-1), capped, jittered.
    worker_backoff_base_seconds: float = Field(default=2.0, gt=0)
    worker_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    worker_max_attempts: int = Field(default=15, ge=1)

    # Thumbtack OAuth connections (tackbridge.connections).
    thumbtack_environment: Literal["production", "staging", "sandbox"] = "production"
    thumbtack_base_url: str | None = Field(
        default=None, description="Base URL of a sandbox (environment `sandbox` only)."
    )
    thumbtack_client_id: str | None = None
    thumbtack_client_secret: SecretStr | None = None
    thumbtack_api: Literal["v4", "legacy"] = Field(
        default="v4", description="The API a new connection uses unless the operator chooses."
    )
    thumbtack_scopes: str | None = Field(
        default=None,
        description=(
            "The v4 scopes a new connection requests, space or comma separated (default: every "
            "scope a feature needs; see the README). Leave out what the partner's client lacks."
        ),
    )
    # The v1 username/password Thumbtack issues a partner: v1 Basic replies for businesses
    # without an OAuth connection.
    thumbtack_api_username: str | None = None
    thumbtack_api_password: SecretStr | None = None
    public_url: str | None = Field(
        default=None, description="Our external base URL: OAuth redirect URI and webhook URL."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key that encrypts tokens at rest."
    )
    purge_delay_days: float = Field(
        default=5.0, ge=0, description="Days after a disconnect before the business's data goes."
    )

    # Where leads land (tackbridge.crm); a business can choose otherwise through the API.
    destination: Literal["coperniq", "webhook", "none"] | None = Field(
        default=None,
        description="Default destination: coperniq when a Coperniq key is set, else webhook "
        "when a webhook URL is set, else none.",
    )
    coperniq_api_key: SecretStr | None = None
    coperniq_base_url: str = "https://api.coperniq.io/v1"
    coperniq_match_by: Literal["title", "primaryEmail", "primaryPhone", "address"] = "title"
    coperniq_match_found_strategy: Literal["skip", "replace", "enrich"] = "skip"
    coperniq_allow_new_options: bool = False
    # Coperniq's published limits per API key. Each process counts on its own: with several
    # worker processes sharing a key, give each its share.
    coperniq_requests_per_second: int = Field(default=100, ge=1)
    coperniq_requests_per_day: int = Field(default=5000, ge=1)
    coperniq_create_contacts: bool = Field(
        default=False,
        description="True: look the customer's contact up by phone (paging through every "
        "contact) and create it with their name before the opportunity. False: let Coperniq "
        "match or create it from the opportunity's primaryPhone, in the same request.",
    )
    # The secret in the URL Coperniq's automations call: /coperniq/webhooks/{secret}.
    coperniq_webhook_secret: SecretStr | None = None
    # A link to a lead's CRM record on the dashboard's lead page: "{type}" (opportunity or
    # project) and "{id}" are replaced, e.g. https://app.coperniq.io/1234/{type}s/{id}.
    crm_record_url: str | None = None
    webhook_destination_url: str | None = None
    webhook_destination_secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret (whsec_...)."
    )
    # Automatic first replies (tackbridge.autoreply): a JSON rule set applying to every business
    # that has none of its own; dev mode replies to every lead by default.
    autoreply_rules: str | None = Field(
        default=None, description="Default rule set: inline JSON, or @path/to/rules.json."
    )

    max_body_bytes: int = 1024 * 1024
    write_batch_size: int = 256
    bench_endpoints: bool = False
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one readable line per event; json: one JSON object."
    )
    redact_names: str | None = Field(
        default=None,
        description="More header and query parameter names to redact, comma separated (names "
        "carrying auth, token, key, secret, signature, password or cookie always are).",
    )
    # Wrong credentials (partner Basic/header, operator token): after this many failures in the
    # window, from one client address or for one account, answers are 429 with Retry-After,
    # the wait doubling with each further failure up to the cap (tackbridge.core.throttle).
    auth_failures_allowed: int = Field(default=10, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    auth_lockout_max_seconds: float = Field(default=300.0, gt=0)
    trusted_proxies: str | None = Field(
        default=None,
        description="Addresses of the reverse proxies whose X-Forwarded-For names the client "
        "(comma separated, or *); unset: the peer is the client.",
    )

    @cached_property
    def redacted_names(self) -> frozenset[str]:
        """The configured extra names to redact, lower case."""
        return frozenset(
            part.strip().lower()
            for part in (self.redact_names or "").replace(",", " ").split()
            if part.strip()
        )

    @property
    def is_dev(self) -> bool:
        return self.mode is Mode.DEV

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tackbridge.db').as_posix()}"

    def secret_values(self) -> list[str]:
        """The plaintext of every secret setting that is set: what logs must never show."""
        found = []
        for name, value in self:
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
            elif isinstance(value, str) and value and name.endswith(("_secret", "_password")):
                found.append(value)  # a secret set by model_copy, as a plain str
        return found

    def missing_secrets(self) -> list[str]:
        """Names of the secrets production needs that are not set."""
        missing: list[str] = []
        has_basic = bool(self.webhook_username) and _present(self.webhook_password)
        has_header = bool(self.webhook_header_name) and _present(self.webhook_header_value)
        if not (has_basic or has_header):
            if not self.webhook_username:
                missing.append("TACKBRIDGE_WEBHOOK_USERNAME")
            if not _present(self.webhook_password):
                missing.append("TACKBRIDGE_WEBHOOK_PASSWORD")
        if not _present(self.api_token):
            missing.append("TACKBRIDGE_API_TOKEN")
        return missing

    def checked(self) -> Settings:
        """Settings ready to serve: dev defaults filled in, production secrets enforced."""
        if self.is_dev:
            updates: dict[str, object] = {}
            if not self.webhook_username and not self.webhook_header_name:
                updates["webhook_username"] = DEV_WEBHOOK_USERNAME
            if not _present(self.webhook_password) and not self.webhook_header_name:
                updates["webhook_password"] = SecretStr(DEV_WEBHOOK_PASSWORD)
            if not _present(self.api_token):
                updates["api_token"] = SecretStr(DEV_API_TOKEN)
            return self.model_copy(update=updates)
        missing = self.missing_secrets()
        if missing:
            raise MissingSecretsError(missing)
        return self


def _present(secret: SecretStr | None) -> bool:
    return secret is not None and secret.get_secret_value() != ""
