"""What the store keeps for the CRM side: each business's destination choice (secrets sealed),
the record each lead became at its destination, and the Coperniq automation events received.

A business without a choice of its own gets the settings' default: Coperniq when a Coperniq key
is configured, else the signed webhook when a URL is, else none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, Field, SecretStr, field_validator
from sqlalchemy import Connection, select, update

from tackbridge.crm.coperniq import CoperniqSettings
from tackbridge.crm.destination import DestinationConfig, DestinationKind
from tackbridge.settings import Settings
from tackbridge.store import business_settings
from tackbridge.store.schema import crm_events, crm_links
from tackbridge.store.secrets import SecretBox
from tackbridge.store.upsert import insert_ignore

MatchBy = Literal["title", "primaryEmail", "primaryPhone", "address"]
MatchFoundStrategy = Literal["skip", "replace", "enrich"]


class CoperniqOptions(BaseModel):
    baseUrl: str | None = None
    matchBy: MatchBy | None = None
    matchFoundStrategy: MatchFoundStrategy | None = None
    allowNewOptions: bool | None = None


class DestinationIn(BaseModel):
    """``PUT /api/businesses/{id}/destination``. A secret left out keeps the stored one."""

    kind: DestinationKind
    coperniq: CoperniqOptions = Field(default_factory=CoperniqOptions)
    coperniqApiKey: SecretStr | None = None
    webhookUrl: str | None = Field(default=None, pattern=r"^https?://[^/\s]+")
    webhookSecret: SecretStr | None = None

    @field_validator("coperniqApiKey", "webhookSecret")
    @classmethod
    def _storable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.strip():
            raise ValueError("must not be blank")
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid text (no lone surrogates)") from None
        return value


class DestinationOut(BaseModel):
    businessID: str
    kind: DestinationKind
    inherited: bool  # True: the settings' default, the business chose nothing
    coperniq: CoperniqOptions
    webhookUrl: str | None = None
    secretSet: bool


def default_destination(settings: Settings) -> DestinationConfig:
    kind: DestinationKind
    if settings.destination is not None:
        kind = settings.destination
    elif settings.coperniq_api_key is not None:
        kind = "coperniq"
    elif settings.webhook_destination_url:
        kind = "webhook"
    else:
        kind = "none"
    return DestinationConfig(
        kind=kind,
        coperniq_api_key=settings.coperniq_api_key,
        coperniq_base_url=settings.coperniq_base_url,
        coperniq=CoperniqSettings(
            match_by=settings.coperniq_match_by,
            match_found_strategy=settings.coperniq_match_found_strategy,
            allow_new_options=settings.coperniq_allow_new_options,
            create_contacts=settings.coperniq_create_contacts,
        ),
        coperniq_requests_per_second=settings.coperniq_requests_per_second,
        coperniq_requests_per_day=settings.coperniq_requests_per_day,
        webhook_url=settings.webhook_destination_url,
        webhook_secret=settings.webhook_destination_secret,
    )


def _own_config(
    row: Any, settings: Settings, box: Callable[[], SecretBox]
) -> tuple[DestinationConfig, CoperniqOptions]:
    base = default_destination(settings)
    options = CoperniqOptions.model_validate((row.destination_options or {}).get("coperniq", {}))
    secret = SecretStr(box().open(row.destination_secret)) if row.destination_secret else None
    kind = cast(DestinationKind, row.destination)
    config = DestinationConfig(
        kind=kind,
        coperniq_api_key=secret if kind == "coperniq" and secret else base.coperniq_api_key,
        coperniq_base_url=options.baseUrl or base.coperniq_base_url,
        coperniq=CoperniqSettings(
            match_by=options.matchBy or base.coperniq.match_by,
            match_found_strategy=options.matchFoundStrategy or base.coperniq.match_found_strategy,
            allow_new_options=(
                options.allowNewOptions
                if options.allowNewOptions is not None
                else base.coperniq.allow_new_options
            ),
            create_contacts=base.coperniq.create_contacts,
        ),
        coperniq_requests_per_second=base.coperniq_requests_per_second,
        coperniq_requests_per_day=base.coperniq_requests_per_day,
        webhook_url=(row.destination_options or {}).get("webhookUrl") or base.webhook_url,
        webhook_secret=secret if kind == "webhook" and secret else base.webhook_secret,
    )
    return config, options


def destination_for(
    conn: Connection, business_id: str | None, settings: Settings, box: Callable[[], SecretBox]
) -> DestinationConfig:
    """The business's destination; ``box`` is asked for only when a sealed secret is read."""
    row = business_settings.get(conn, business_id) if business_id else None
    if row is None or row.destination is None:
        return default_destination(settings)
    return _own_config(row, settings, box)[0]


def describe_destination(
    conn: Connection, business_id: str, settings: Settings, box: Callable[[], SecretBox]
) -> DestinationOut:
    row = business_settings.get(conn, business_id)
    if row is None or row.destination is None:
        config, options, inherited = default_destination(settings), CoperniqOptions(), True
    else:
        (config, options), inherited = _own_config(row, settings, box), False
    secret = config.coperniq_api_key if config.kind == "coperniq" else config.webhook_secret
    return DestinationOut(
        businessID=business_id,
        kind=config.kind,
        inherited=inherited,
        coperniq=CoperniqOptions(
            baseUrl=config.coperniq_base_url,
            matchBy=config.coperniq.match_by,
            matchFoundStrategy=config.coperniq.match_found_strategy,
            allowNewOptions=config.coperniq.allow_new_options,
        )
        if config.kind == "coperniq"
        else options,
        webhookUrl=config.webhook_url if config.kind == "webhook" else None,
        secretSet=secret is not None and bool(secret.get_secret_value()),
    )


def save_destination(
    conn: Connection,
    business_id: str,
    choice: DestinationIn,
    box: SecretBox | None,
    now: datetime,
) -> None:
    """``box`` seals the secret ``choice`` carries (it is needed only then)."""
    row = business_settings.get(conn, business_id)
    secret = choice.coperniqApiKey if choice.kind == "coperniq" else choice.webhookSecret
    sealed = row.destination_secret if row is not None else None
    if secret is not None:
        if box is None:
            raise ValueError("a secret box is needed to store a secret")
        sealed = box.seal(secret.get_secret_value())
    elif row is not None and row.destination != choice.kind:
        sealed = None  # a secret of another kind must not carry over
    values = {
        "destination": choice.kind,
        "destination_options": {
            "coperniq": choice.coperniq.model_dump(exclude_none=True),
            "webhookUrl": choice.webhookUrl,
        },
        "destination_secret": sealed,
        "updated_at": now,
    }
    business_settings.put(conn, business_id, values)


@dataclass(frozen=True)
class Link:
    lead_id: str
    destination: str
    external_id: str | None
    outcome: str


def save_link(conn: Connection, link: Link, now: datetime) -> None:
    inserted = insert_ignore(
        conn,
        crm_links,
        {
            "lead_id": link.lead_id,
            "destination": link.destination,
            "external_id": link.external_id,
            "outcome": link.outcome,
            "created_at": now,
        },
        ["lead_id"],
    )
    if not inserted:
        conn.execute(
            update(crm_links)
            .where(crm_links.c.lead_id == link.lead_id)
            .values(
                destination=link.destination, external_id=link.external_id, outcome=link.outcome
            )
        )


def link_of_lead(conn: Connection, lead_id: str) -> Link | None:
    row = conn.execute(select(crm_links).where(crm_links.c.lead_id == lead_id)).first()
    return None if row is None else Link(row.lead_id, row.destination, row.external_id, row.outcome)


def lead_of_record(conn: Connection, external_id: str) -> str | None:
    row = conn.execute(
        select(crm_links.c.lead_id)
        .where(crm_links.c.external_id == external_id, crm_links.c.destination == "coperniq")
        .order_by(crm_links.c.id)
        .limit(1)
    ).first()
    return None if row is None else str(row.lead_id)


def get_event(conn: Connection, event_row_id: int) -> Any:
    return conn.execute(select(crm_events).where(crm_events.c.id == event_row_id)).first()


def settle_event(
    conn: Connection,
    event_row_id: int,
    outcome: str,
    *,
    lead_id: str | None = None,
    job_status: str | None = None,
) -> None:
    conn.execute(
        update(crm_events)
        .where(crm_events.c.id == event_row_id)
        .values(outcome=outcome, lead_id=lead_id, job_status=job_status)
    )
