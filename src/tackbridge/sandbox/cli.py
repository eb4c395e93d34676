"""``tackbridge sandbox``: runs the sandbox with uvicorn. ``sandbox_command`` is a plain function
with typer annotations (the main CLI registers it); every option is also a
``TACKBRIDGE_SANDBOX_*`` environment variable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
import uvicorn

from tackbridge.sandbox.app import create_app
from tackbridge.sandbox.config import (
    DEV_API_PASSWORD,
    DEV_API_USERNAME,
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_COPERNIQ_API_KEY,
    Faults,
    SandboxConfig,
)

__all__ = ["build_config", "sandbox_command"]

DEFAULT_PORT = 8700
ENV = "TACKBRIDGE_SANDBOX_"


class Style(StrEnum):
    legacy = "legacy"
    v4 = "v4"


class Shapes(StrEnum):
    real = "real"
    docs = "docs"


def _opt(name: str, help_text: str) -> typer.models.OptionInfo:
    info: typer.models.OptionInfo = typer.Option(envvar=ENV + name, help=help_text)
    return info


def sandbox_command(
    port: Annotated[int, _opt("PORT", "Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[str, _opt("HOST", "Interface to bind.")] = "127.0.0.1",
    partner_url: Annotated[
        str | None,
        _opt(
            "PARTNER_URL",
            "Base URL of the partner endpoints deliveries go to (none: no deliveries "
            "except to webhooks registered through the v4 API).",
        ),
    ] = None,
    delivery_style: Annotated[
        Style,
        _opt(
            "DELIVERY_STYLE",
            "legacy: POST /v1/lead, /v1/message, PUT /v1/lead/update, POST "
            "/v1/review. v4: POST /v4/webhooks with the v4 envelope.",
        ),
    ] = Style.v4,
    delivery_shapes: Annotated[
        Shapes,
        _opt(
            "DELIVERY_SHAPES",
            "real: v4 records as real Thumbtack sends them (createdAt, leadPriceBreakdown "
            "{salesTax, subtotal}, the full estimate, travel preference codes, message "
            "customer/business). docs: as the documents show them.",
        ),
    ] = Shapes.real,
    partner_username: Annotated[
        str | None, _opt("PARTNER_USERNAME", "Basic auth username for the partner endpoints.")
    ] = None,
    partner_password: Annotated[
        str | None, _opt("PARTNER_PASSWORD", "Basic auth password for the partner endpoints.")
    ] = None,
    client_id: Annotated[
        str, _opt("CLIENT_ID", "OAuth client ID (legacy and v4).")
    ] = DEV_CLIENT_ID,
    client_secret: Annotated[
        str, _opt("CLIENT_SECRET", "OAuth client secret (legacy and v4).")
    ] = DEV_CLIENT_SECRET,
    redirect_uri: Annotated[
        list[str] | None,
        _opt("REDIRECT_URIS", "Registered redirect URI (repeatable; none: any http(s) URI)."),
    ] = None,
    provisioned_scope: Annotated[
        list[str] | None,
        _opt(
            "PROVISIONED_SCOPE",
            "A scope the partner client is provisioned with (repeatable; none: every scope).",
        ),
    ] = None,
    api_username: Annotated[
        str, _opt("API_USERNAME", "Basic username partners use for the v1 API.")
    ] = DEV_API_USERNAME,
    api_password: Annotated[
        str, _opt("API_PASSWORD", "Basic password partners use for the v1 API.")
    ] = DEV_API_PASSWORD,
    coperniq_api_key: Annotated[
        str, _opt("COPERNIQ_API_KEY", "The x-api-key Coperniq accepts.")
    ] = DEV_COPERNIQ_API_KEY,
    coperniq_webhook_url: Annotated[
        str | None,
        _opt("COPERNIQ_WEBHOOK_URL", "Where Coperniq automations post their webhooks."),
    ] = None,
    coperniq_rate_per_second: Annotated[
        int,
        _opt(
            "COPERNIQ_RATE_PER_SECOND",
            "Coperniq requests allowed per second and key (Coperniq's published limit: 100).",
        ),
    ] = 100,
    coperniq_rate_per_day: Annotated[
        int,
        _opt(
            "COPERNIQ_RATE_PER_DAY",
            "Coperniq requests allowed per day and key (Coperniq's published limit: 5000).",
        ),
    ] = 5000,
    seed: Annotated[int, _opt("SEED", "Seed of all generated traffic.")] = 1,
    lead_rate: Annotated[
        float, _opt("LEAD_RATE", "Leads per minute the scenario creates (0: none).")
    ] = 12.0,
    reply_rate: Annotated[
        float, _opt("REPLY_RATE", "Chance a customer answers the pro's message.")
    ] = 0.5,
    latency_ms: Annotated[int, _opt("LATENCY_MS", "Fault: latency added to API calls.")] = 0,
    error_rate: Annotated[
        float, _opt("ERROR_RATE", "Fault: share of API calls answered 503.")
    ] = 0.0,
    rate_limit_rate: Annotated[
        float, _opt("RATE_LIMIT_RATE", "Fault: share of API calls answered 429.")
    ] = 0.0,
    drop_rate: Annotated[
        float, _opt("DROP_RATE", "Fault: share of API calls whose connection is dropped.")
    ] = 0.0,
    delivery_drop_rate: Annotated[
        float,
        _opt("DELIVERY_DROP_RATE", "Fault: share of deliveries treated as dropped and resent."),
    ] = 0.0,
    duplicate_rate: Annotated[
        float, _opt("DUPLICATE_RATE", "Fault: share of deliveries sent twice.")
    ] = 0.0,
    message_before_lead: Annotated[
        bool, _opt("MESSAGE_BEFORE_LEAD", "Fault: a lead's first message arrives before it.")
    ] = False,
    expired_codes: Annotated[
        bool, _opt("EXPIRED_CODES", "Fault: authorization codes are issued already expired.")
    ] = False,
    null_token_rate: Annotated[
        float,
        _opt("NULL_TOKEN_RATE", "Fault: share of legacy refreshes answered null (tokens rotated)."),
    ] = 0.0,
    log_level: Annotated[str, _opt("LOG_LEVEL", "uvicorn log level.")] = "info",
) -> None:
    """Run the sandbox: a local Thumbtack and Coperniq on one port.

    \b
    Point an integration at it by swapping base URLs (B = http://HOST:PORT):
      Thumbtack legacy Pro API   https://pro-api.thumbtack.com  -> B
      (and staging-pro-api, and api.thumbtack.com for /v2 send message)
      partner-connect page       https://thumbtack.com/services/partner-connect/
                                 -> B/services/partner-connect/
      Thumbtack v4 API           https://api.thumbtack.com/api/v4 -> B/api/v4
      v4 OAuth                   https://auth.thumbtack.com/oauth2/auth  (and
                                 /oauth2/token) -> B/oauth2/auth, B/oauth2/token
      Coperniq                   https://api.coperniq.io/v1     -> B/coperniq/v1

    \b
    Dev credentials (override with the options below):
      OAuth client    tackbridge-dev / dev-client-secret
      v1 Basic user   tackbridge-dev / dev-api-password
      Coperniq key    dev-coperniq-key

    \b
    Leads, messages, lead updates and reviews go to --partner-url
    (legacy paths or POST /v4/webhooks, see --delivery-style) and to v4
    webhooks registered through the API. Coperniq automation webhooks
    (DEAL_STATUS_MOVEMENT, REQUEST_PHASE_*, APPOINTMENT_CREATED, ...) go to
    --coperniq-webhook-url. Watch at B/_sandbox/ (move Coperniq opportunities
    there too); every endpoint, including the /_sandbox control API (create
    leads, faults, clock), is listed at B/docs.
    """
    config = build_config(
        partner_url=partner_url,
        delivery_style=delivery_style,
        delivery_shapes=delivery_shapes,
        partner_username=partner_username,
        partner_password=partner_password,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=tuple(redirect_uri or ()),
        provisioned_scopes=tuple(
            part for value in provisioned_scope or () for part in value.replace(",", " ").split()
        ),
        api_username=api_username,
        api_password=api_password,
        coperniq_api_key=coperniq_api_key,
        coperniq_webhook_url=coperniq_webhook_url,
        coperniq_rate_per_second=coperniq_rate_per_second,
        coperniq_rate_per_day=coperniq_rate_per_day,
        seed=seed,
        lead_rate=lead_rate,
        reply_rate=reply_rate,
        faults=Faults(
            latency_ms=latency_ms,
            error_rate=error_rate,
            rate_limit_rate=rate_limit_rate,
            drop_rate=drop_rate,
            delivery_drop_rate=delivery_drop_rate,
            duplicate_rate=duplicate_rate,
            message_before_lead=message_before_lead,
            expired_codes=expired_codes,
            null_token_rate=null_token_rate,
        ),
    )
    base = f"http://{host}:{port}"
    typer.echo(f"tackbridge sandbox on {base}  (watch: {base}/_sandbox/, API docs: {base}/docs)")
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)


def build_config(
    *,
    delivery_style: Style | str = Style.v4,
    delivery_shapes: Shapes | str = Shapes.real,
    faults: Faults | None = None,
    **fields: object,
) -> SandboxConfig:
    """A validated config from CLI values; bad values raise ``typer.BadParameter``."""
    try:
        config = SandboxConfig(
            delivery_style="legacy" if str(delivery_style) == "legacy" else "v4",
            delivery_shapes="docs" if str(delivery_shapes) == "docs" else "real",
            faults=faults or Faults(),
            scenario_autostart=float(fields.get("lead_rate", 0) or 0) > 0,  # type: ignore[arg-type]
            **fields,  # type: ignore[arg-type]
        )
        return config.validated()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
