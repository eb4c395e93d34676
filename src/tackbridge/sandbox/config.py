"""Configuration of one sandbox instance: who the partner is, the credentials it uses, the seed,
the lead rate and the faults to inject.

Everything has a development default so that ``create_app(SandboxConfig())`` is a working
Thumbtack + Coperniq on its own. The CLI maps each field to a ``TACKBRIDGE_SANDBOX_*`` variable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

DeliveryStyle = Literal["legacy", "v4"]
# The shapes of v4 records: ``real`` as real Thumbtack sends them (api-notes.md, "Corrections and
# facts added on 2026-12-01": ``createdAt``, ``leadPriceBreakdown {salesTax, subtotal}``, the full
# ``estimate``, travel preference codes, message ``customer``/``business``); ``docs`` as the
# documents show them.
DeliveryShapes = Literal["real", "docs"]
DELIVERY_SHAPES: tuple[DeliveryShapes, ...] = ("real", "docs")

# Documented development values: the sandbox is never a production system.
DEV_CLIENT_ID = "tackbridge-dev"
DEV_CLIENT_SECRET = "dev-client-secret"  # noqa: S105
DEV_API_USERNAME = "tackbridge-dev"
DEV_API_PASSWORD = "dev-api-password"  # noqa: S105
DEV_COPERNIQ_API_KEY = "dev-coperniq-key"
DEV_TOKEN_SIGNING_KEY = "dev-sandbox-token-signing-key"  # noqa: S105


@dataclass(frozen=True)
class Faults:
    """Faults on demand. Rates are probabilities in [0, 1], drawn from the seeded generator.

    API faults apply to every Thumbtack and Coperniq call a partner makes (never to
    ``/_sandbox``); delivery faults apply to what the dispatcher sends to the partner.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    retry_after_seconds: int = 1
    delivery_drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    message_before_lead: bool = False
    expired_codes: bool = False
    null_token_rate: float = 0.0

    def validated(self) -> Faults:
        for name in (
            "error_rate",
            "rate_limit_rate",
            "drop_rate",
            "delivery_drop_rate",
            "duplicate_rate",
            "null_token_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0 or self.retry_after_seconds < 0:
            raise ValueError("latency_ms and retry_after_seconds must not be negative")
        return self


@dataclass(frozen=True)
class BusinessSeed:
    """A business that exists from the start; its ID is derived from the seed when not given."""

    name: str
    business_id: str | None = None
    category_ids: tuple[str, ...] = ()
    # Businesses with the same account are one pro's: a grant for one serves them all.
    account: str | None = None


DEFAULT_BUSINESSES = (
    BusinessSeed("Robert's Remodeling"),
    BusinessSeed("Tim's Painting Business"),
    BusinessSeed("Sparkly Cleaning Service"),
)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything one sandbox instance needs. All fields have development defaults."""

    # Where deliveries go. None: nothing is delivered except to webhooks registered via v4.
    partner_url: str | None = None
    delivery_style: DeliveryStyle = "v4"
    delivery_shapes: DeliveryShapes = "real"
    partner_username: str | None = None
    partner_password: str | None = None

    # OAuth client (legacy partner-connect and v4), and the v1 Basic credentials.
    client_id: str = DEV_CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET
    # Empty: any http(s) redirect URI is accepted (the real servers use a registered list).
    redirect_uris: tuple[str, ...] = ()
    api_username: str = DEV_API_USERNAME
    api_password: str = DEV_API_PASSWORD
    # The scopes our partner client is provisioned with; empty: every scope the sandbox knows.
    # A scope asked for but not provisioned is left out of the grant (and of its answer).
    provisioned_scopes: tuple[str, ...] = ()
    # Signs the JWT-shaped v4 access tokens (HS256).
    token_signing_key: str = DEV_TOKEN_SIGNING_KEY
    # Real Thumbtack accepts only https webhook URLs; loopback http is always allowed here.
    allow_http_webhooks: bool = False

    coperniq_api_key: str = DEV_COPERNIQ_API_KEY
    coperniq_webhook_url: str | None = None
    coperniq_rate_per_second: int = 100
    # The window of that limit; tests widen it so that no pass/fail depends on timing.
    coperniq_rate_window_seconds: float = 1.0
    coperniq_rate_per_day: int = 5000

    seed: int = 1
    # Leads per minute the scenario engine creates while running; 0 keeps it idle.
    lead_rate: float = 0.0
    scenario_autostart: bool = False
    reply_rate: float = 0.5
    review_rate: float = 0.2
    reply_delay_seconds: float = 2.0
    businesses: tuple[BusinessSeed, ...] = DEFAULT_BUSINESSES

    faults: Faults = field(default_factory=Faults)

    delivery_timeout_seconds: float = 10.0
    delivery_max_attempts: int = 6
    delivery_backoff_seconds: float = 1.0
    delivery_backoff_max_seconds: float = 60.0

    def with_faults(self, faults: Faults) -> SandboxConfig:
        return replace(self, faults=faults.validated())

    def validated(self) -> SandboxConfig:
        self.faults.validated()
        if self.delivery_style not in ("legacy", "v4"):
            raise ValueError("delivery_style must be 'legacy' or 'v4'")
        if self.delivery_shapes not in DELIVERY_SHAPES:
            raise ValueError("delivery_shapes must be 'real' or 'docs'")
        if self.lead_rate < 0:
            raise ValueError("lead_rate must not be negative")
        if self.delivery_max_attempts < 1:
            raise ValueError("delivery_max_attempts must be at least 1")
        if self.coperniq_rate_per_second < 1 or self.coperniq_rate_per_day < 1:
            raise ValueError("the Coperniq rate limits must be at least 1")
        if not self.businesses:
            raise ValueError("the sandbox needs at least one business")
        return self
