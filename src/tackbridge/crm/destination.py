"""The contract of a destination: the ``Destination`` interface the outbox handlers call, and the
``DestinationType`` each destination module declares (its kind, its options, its secret, its
process-wide default and its factory). ``crm.destinations`` lists the types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx2
from pydantic import BaseModel, SecretStr

from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.settings import Settings

__all__ = [
    "Destination",
    "DestinationConfig",
    "DestinationType",
    "Factory",
    "Preset",
    "dump_options",
]

OptionsT = TypeVar("OptionsT", bound=BaseModel)


class Destination(Protocol):
    """Each call is one outbox job: safe to repeat with the same ``idempotency_key``; raises
    ``CrmRetryableError`` or ``CrmPermanentError`` (``crm.errors``) when it did not happen.

    ``first_try``: no earlier attempt of this job can have written anything, so a destination
    may skip the look-ups that make a repeat safe. ``record_id`` and ``customer_name``: what
    tackbridge already knows of the lead at this destination (the record it became), so a
    destination need not look them up.
    """

    kind: str

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt: ...

    async def deliver_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt: ...

    async def deliver_message(
        self,
        message: MessageReceived,
        *,
        idempotency_key: str,
        first_try: bool = False,
        record_id: str | None = None,
        customer_name: str | None = None,
    ) -> DeliveryReceipt: ...

    async def deliver_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt: ...

    async def deliver_status(
        self, change: CrmStatusChange, *, idempotency_key: str
    ) -> DeliveryReceipt: ...


@dataclass(frozen=True)
class Preset(Generic[OptionsT]):
    """A type's process-wide default, read from the settings. ``configured``: the settings set
    this destination up, so it is the default unless ``TACKBRIDGE_DESTINATION`` says otherwise
    (the registry asks its types in order)."""

    options: OptionsT
    secret: SecretStr | None = None
    configured: bool = False


#: (options merged over the preset, secret, the process's shared HTTP client, settings): the
#: destination, or a ValueError naming what is missing. ``settings`` carries the process-wide
#: tuning a business cannot set (Coperniq's pacing).
Factory = Callable[[OptionsT, SecretStr | None, httpx2.AsyncClient | None, Settings], Destination]


def _all_fields(options: BaseModel, active: bool) -> Mapping[str, Any]:
    return {name: getattr(options, name) for name in type(options).model_fields}


def _no_urls(options: BaseModel) -> Mapping[str, str | None]:
    return {}


def _any_options(own: BaseModel, preset: BaseModel) -> bool:
    return True


@dataclass(frozen=True)
class DestinationType(Generic[OptionsT]):
    """One destination, as its module declares it.

    ``options``: the pydantic model of what a business may set through the API; its fields are
    this destination's fields of the ``PUT /api/businesses/{id}/destination`` body, and what is
    stored in ``business_settings.destination_options`` (every field needs a default: a request
    for another kind leaves them out). ``secret_field``: the body field carrying its secret
    (sealed at rest), None when it has none. ``required``: option fields that must be set once
    merged over the preset (a PUT lacking one is refused). ``answer``: its fields of the GET
    answer (default: ``options``) and ``show`` fills them from the options (merged when
    ``active``, as given when another kind is chosen).

    ``urls``: the URLs a business's options name, by field (``core.netguard`` checks each when
    saved and when called). ``keeps_preset_secret(own, preset)``: whether a business without a
    secret of its own may use the process's with these options of its own (the account-wide
    Coperniq key goes only to the account's base URL).
    """

    kind: str
    options: type[OptionsT]
    preset: Callable[[Settings], Preset[OptionsT]]
    build: Factory[OptionsT]
    secret_field: str | None = None
    required: tuple[str, ...] = ()
    answer: type[BaseModel] | None = None
    show: Callable[[OptionsT, bool], Mapping[str, Any]] = _all_fields
    urls: Callable[[OptionsT], Mapping[str, str | None]] = _no_urls
    keeps_preset_secret: Callable[[OptionsT, OptionsT], bool] = _any_options


@dataclass(frozen=True)
class DestinationConfig:
    """One business's resolved choice: its kind, its options merged over the process's, and
    its secret (``SecretStr``, so it never prints). ``options`` is None for a kind no type
    declares (a row written by a newer version); building it fails."""

    kind: str
    options: BaseModel | None = None
    secret: SecretStr | None = None


def dump_options(options: BaseModel) -> dict[str, Any]:
    """The stored form of options: each field as JSON, nested models without their unset
    (None) fields, which is how rows have always been written."""
    dumped: dict[str, Any] = options.model_dump(mode="json")
    for name in type(options).model_fields:
        value = getattr(options, name)
        if isinstance(value, BaseModel):
            dumped[name] = value.model_dump(mode="json", exclude_none=True)
    return dumped
