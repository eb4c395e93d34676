"""The Coperniq destination (kind ``coperniq``): a lead becomes one contact and one opportunity
(or, for a business whose ``coperniq.recordType`` is ``project``, one project: the same calls on
``/projects/**``), lead updates patch its custom fields, messages and reviews become notes on it
(a review also sets a rating field).

Every write is safe to repeat, because the outbox retries after timeouts whose outcome is
unknown: the lead's opportunity is looked up by its lead-ID custom field (or, in an account
without that property, by the inbox link in its description) before anything is created; the
contact is matched by phone before one is created; each note carries a reference to its outbox
key and is not written again when a note with that reference exists.

``COPERNIQ`` declares it to the registry: a business may set ``coperniq{baseUrl, matchBy,
matchFoundStrategy, allowNewOptions, recordType}`` and its own ``coperniqApiKey``; the rest
(its key, the pacing per key, ``create_contacts``) is ``TACKBRIDGE_COPERNIQ_*``.

The link a lead keeps (``crm_links.destination``) says which record it became: ``coperniq`` for
an opportunity (as always), ``coperniq:project`` for a project (``link_destination``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

import httpx2
from pydantic import BaseModel, Field, SecretStr

from tackbridge.core.redact import redact_url
from tackbridge.crm.coperniq_client import (
    DEFAULT_BASE_URL,
    ContactCreate,
    CoperniqClient,
    SearchFilter,
    digits,
)
from tackbridge.crm.destination import DestinationType, Preset
from tackbridge.crm.errors import CoperniqNotFoundError, CrmPermanentError, NotReadyError
from tackbridge.crm.limiter import shared_limiter
from tackbridge.crm.opportunity import (
    CustomFieldKeys,
    OpportunityMapping,
    disambiguated_title,
    fit_custom,
    lead_update_patch,
    message_note,
    opportunity_create,
    review_note,
    review_patch,
)
from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.leads.views import INBOX_LINK
from tackbridge.payloads.coperniq import (
    MatchBy,
    MatchFoundStrategy,
    Opportunity,
    Property,
    RecordType,
)
from tackbridge.settings import Settings

__all__ = [
    "COPERNIQ",
    "CoperniqAnswer",
    "CoperniqChoice",
    "CoperniqDestination",
    "CoperniqOptions",
    "CoperniqSettings",
    "link_destination",
]

log = logging.getLogger("tackbridge.crm.coperniq")


def link_destination(record_type: RecordType) -> str:
    """``crm_links.destination`` of a lead that became a Coperniq record of this type (at most
    16 characters, the column's width)."""
    return "coperniq" if record_type == "opportunity" else f"coperniq:{record_type}"


_INBOX = re.compile(re.escape(INBOX_LINK.format(lead_id="")) + r"(\d+)")


@dataclass(frozen=True)
class CoperniqSettings:
    match_by: MatchBy = "title"
    match_found_strategy: MatchFoundStrategy = "skip"
    allow_new_options: bool = False
    # What a lead becomes: an opportunity (``/opportunities``) or a project (``/projects``).
    record_type: RecordType = "opportunity"
    mapping: OpportunityMapping = field(default_factory=OpportunityMapping)
    # False: Coperniq matches or creates the contact from primaryPhone on its own (one request);
    # True: tackbridge pages through the contacts for the phone and creates it with the name.
    create_contacts: bool = False
    contact_search_pages: int = 10


def _reference(key: str) -> str:
    return f"[tackbridge ref {key}]"


class CoperniqDestination:
    kind = "coperniq"

    def __init__(self, client: CoperniqClient, settings: CoperniqSettings | None = None) -> None:
        self.client = client
        self.settings = settings or CoperniqSettings()
        self._properties: list[Property] | None = None

    @property
    def record_type(self) -> RecordType:
        return self.settings.record_type

    @property
    def link_destination(self) -> str:
        return link_destination(self.record_type)

    @property
    def _new(self) -> bool:
        return self.settings.allow_new_options

    @property
    def _keys(self) -> CustomFieldKeys:
        return self.settings.mapping.keys

    async def properties(self) -> list[Property]:
        """The account's properties of the record type, read once per destination."""
        if self._properties is None:
            self._properties = await self.client.list_properties(self.record_type)
        return self._properties

    async def _has_lead_key(self) -> bool:
        return any(p.keyName == self._keys.lead_id for p in await self.properties())

    def _owner(self, opportunity: Opportunity) -> str | None:
        """The Thumbtack lead an opportunity belongs to, if it says."""
        raw = opportunity.custom.get(self._keys.lead_id)
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw):
            return str(raw)
        found = _INBOX.search(opportunity.description or "")
        return found.group(1) if found else None

    async def find_opportunity(self, lead_id: str) -> Opportunity | None:
        if await self._has_lead_key():
            found = await self.client.search_opportunities(
                SearchFilter(self._keys.lead_id, "eq", lead_id),
                page_size=5,
                record_type=self.record_type,
            )
        else:
            link = INBOX_LINK.format(lead_id=lead_id)
            found = await self.client.search_opportunities(
                SearchFilter("description", "contains", link),
                page_size=20,
                record_type=self.record_type,
            )
        mine = [o for o in found if self._owner(o) == lead_id]
        return min(mine, key=lambda o: o.id) if mine else None

    async def _require(self, lead_id: str | None, what: str) -> Opportunity:
        if not lead_id:
            raise CrmPermanentError(f"coperniq: the {what} names no lead")
        opportunity = await self.find_opportunity(lead_id)
        if opportunity is None:
            # Messages can arrive before their lead; the lead's own job will create it.
            # The usual backoff: it must outlast the lead's own job retrying through an outage.
            raise NotReadyError(f"coperniq: lead {lead_id} has no {self.record_type} yet")
        return opportunity

    async def _contact_id(self, lead: LeadInput) -> int | None:
        phone = lead.customer_phone
        if not self.settings.create_contacts or len(digits(phone)) < 7 or phone is None:
            # Without a phone nothing could match the contact on a retry: let Coperniq's own
            # primaryEmail/primaryPhone handling decide instead.
            return None
        contact = await self.client.find_contact_by_phone(
            phone, max_pages=self.settings.contact_search_pages
        )
        if contact is None:
            contact = await self.client.create_contact(
                ContactCreate(name=lead.customer_name or "Thumbtack customer", phones=[phone])
            )
        return contact.id

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt:
        # On a first try nothing of ours can exist yet, and the create's own match rule still
        # catches a record made by someone else: the look-up is for repeats (one request saved
        # per lead, of Coperniq's 5,000 a day).
        existing = None if first_try else await self.find_opportunity(lead.lead_id)
        if existing is not None:
            return self._receipt(str(existing.id), "found")
        properties = await self.properties()
        contact_id = await self._contact_id(lead)
        body = opportunity_create(lead, self.settings.mapping)
        custom, dropped = fit_custom(body.custom or {}, properties, allow_new_options=self._new)
        if dropped:
            log.info(
                "coperniq: no property (or no such option) for %s; left out",
                ", ".join(sorted(dropped)),
            )
        body = body.model_copy(
            update={"custom": custom or None, "contacts": [contact_id] if contact_id else None}
        )
        settings = self.settings
        created = await self.client.create_opportunity(
            body,
            match_by=settings.match_by,
            match_found_strategy=settings.match_found_strategy,
            allow_new_options=settings.allow_new_options,
            record_type=self.record_type,
        )
        owner = self._owner(created)
        if owner is not None and owner != lead.lead_id:
            # The match rule found another lead's opportunity (same customer and category):
            # this lead gets its own, under a title only it has.
            body = body.model_copy(update={"title": disambiguated_title(lead)})
            created = await self.client.create_opportunity(
                body,
                match_by="title",
                match_found_strategy=settings.match_found_strategy,
                allow_new_options=settings.allow_new_options,
                record_type=self.record_type,
            )
            if self._owner(created) not in (None, lead.lead_id):
                raise CrmPermanentError(
                    f"coperniq: lead {lead.lead_id} keeps matching {self.record_type} {created.id} "
                    "of another lead; check match_by"
                )
        if self._owner(created) is None and await self._has_lead_key():
            # Matched a record made outside tackbridge: tag it so the next look-up finds it.
            created = await self.client.patch_opportunity(
                created.id,
                {"custom": {self._keys.lead_id: lead.lead_id}},
                record_type=self.record_type,
            )
            return self._receipt(str(created.id), "linked")
        return self._receipt(str(created.id), "created")

    def _receipt(self, external_id: str | None, outcome: str) -> DeliveryReceipt:
        # A lead's own receipt names the record type (``link_destination``).
        return DeliveryReceipt(self.link_destination, external_id, outcome)

    async def deliver_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt:
        patch = lead_update_patch(update, self._keys)
        if patch is None:
            return DeliveryReceipt(self.kind, None, "skipped")
        opportunity = await self._require(update.lead_id, "lead update")
        custom, _ = fit_custom(
            patch["custom"], await self.properties(), allow_new_options=self._new
        )
        if not custom:
            return DeliveryReceipt(self.kind, str(opportunity.id), "skipped")
        await self.client.patch_opportunity(
            opportunity.id,
            {"custom": custom},
            allow_new_options=self.settings.allow_new_options,
            record_type=self.record_type,
        )
        return DeliveryReceipt(self.kind, str(opportunity.id), "patched")

    async def add_note(
        self, opportunity_id: int, body: str, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt:
        """One note per key: a note already carrying the key's reference is not written again
        (looked for unless this is the job's first try)."""
        reference = _reference(idempotency_key)
        kind = self.record_type
        existing = (
            [] if first_try else await self.client.list_notes(opportunity_id, record_type=kind)
        )
        for note in existing:
            if reference in note.text:
                return DeliveryReceipt(self.kind, str(note.id), "found")
        note = await self.client.create_note(
            opportunity_id, f"{body}\n\n{reference}", record_type=kind
        )
        return DeliveryReceipt(self.kind, str(note.id), "created")

    async def deliver_message(
        self,
        message: MessageReceived,
        *,
        idempotency_key: str,
        first_try: bool = False,
        record_id: str | None = None,
        customer_name: str | None = None,
    ) -> DeliveryReceipt:
        if record_id is not None and record_id.isdigit():
            # The opportunity the lead became, as recorded when it was delivered: no search.
            body = message_note(message, customer_name=customer_name)
            try:
                return await self.add_note(
                    int(record_id), body, idempotency_key=idempotency_key, first_try=first_try
                )
            except CoperniqNotFoundError:
                log.info(
                    "coperniq: %s %s is gone; looking the lead up", self.record_type, record_id
                )
        opportunity = await self._require(message.lead_id, "message")
        name = opportunity.custom.get(self._keys.customer_name or "")
        body = message_note(message, customer_name=name if isinstance(name, str) else None)
        return await self.add_note(opportunity.id, body, idempotency_key=idempotency_key)

    async def deliver_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt:
        opportunity = await self._require(review.lead_id, "review")
        receipt = await self.add_note(
            opportunity.id, review_note(review), idempotency_key=idempotency_key
        )
        patch = review_patch(review, self._keys)
        custom, _ = fit_custom(
            patch["custom"] if patch else {}, await self.properties(), allow_new_options=self._new
        )
        if custom:
            await self.client.patch_opportunity(
                opportunity.id,
                {"custom": custom},
                allow_new_options=self.settings.allow_new_options,
                record_type=self.record_type,
            )
        return replace(receipt, external_id=str(opportunity.id))

    async def record_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return await self.deliver_review(review, idempotency_key=idempotency_key)

    async def apply_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return await self.deliver_lead_update(update, idempotency_key=idempotency_key)

    async def deliver_status(
        self, change: CrmStatusChange, *, idempotency_key: str
    ) -> DeliveryReceipt:
        # Job statuses come from Coperniq itself; echoing them back would loop.
        return DeliveryReceipt(self.kind, change.opportunity_id, "skipped")


class CoperniqOptions(BaseModel):
    baseUrl: str | None = None
    matchBy: MatchBy | None = None
    matchFoundStrategy: MatchFoundStrategy | None = None
    allowNewOptions: bool | None = None
    # What a lead becomes: ``opportunity`` (unset: the default) or ``project``. Unset, it is
    # left out of answers, which stay as they were before the option.
    recordType: RecordType | None = Field(default=None, exclude_if=lambda v: v is None)


class CoperniqChoice(BaseModel):
    """A business's Coperniq options: the ``coperniq`` object of the API and of the stored row;
    an unset field takes the settings' value."""

    coperniq: CoperniqOptions = Field(default_factory=CoperniqOptions)


class CoperniqAnswer(BaseModel):
    coperniq: CoperniqOptions  # always shown, so the answer names it as required


def _preset(settings: Settings) -> Preset[CoperniqChoice]:
    return Preset(
        CoperniqChoice.model_construct(
            coperniq=CoperniqOptions.model_construct(
                baseUrl=settings.coperniq_base_url,
                matchBy=settings.coperniq_match_by,
                matchFoundStrategy=settings.coperniq_match_found_strategy,
                allowNewOptions=settings.coperniq_allow_new_options,
            )
        ),
        secret=settings.coperniq_api_key,
        configured=settings.coperniq_api_key is not None,
    )


def _build(
    options: CoperniqChoice,
    secret: SecretStr | None,
    http_client: httpx2.AsyncClient | None,
    settings: Settings,
) -> CoperniqDestination:
    if secret is None or not secret.get_secret_value():
        raise ValueError("coperniq_api_key is required for the coperniq destination")
    # One budget per key (and limits) in the process, whichever business uses the key.
    limiter = shared_limiter(
        secret.get_secret_value(),
        settings.coperniq_requests_per_second,
        settings.coperniq_requests_per_day,
    )
    chosen = options.coperniq
    client = CoperniqClient(
        secret,
        base_url=chosen.baseUrl or DEFAULT_BASE_URL,
        http_client=http_client,
        limiter=limiter,
    )
    defaults = CoperniqSettings()
    return CoperniqDestination(
        client,
        CoperniqSettings(
            match_by=chosen.matchBy or defaults.match_by,
            match_found_strategy=chosen.matchFoundStrategy or defaults.match_found_strategy,
            allow_new_options=(
                chosen.allowNewOptions
                if chosen.allowNewOptions is not None
                else defaults.allow_new_options
            ),
            create_contacts=settings.coperniq_create_contacts,
            record_type=chosen.recordType or defaults.record_type,
        ),
    )


def _show(options: CoperniqChoice, active: bool) -> dict[str, CoperniqOptions]:
    # The base URL is shown without userinfo or query secrets (tackbridge.core.redact).
    chosen = options.coperniq
    if chosen.baseUrl:
        chosen = chosen.model_copy(update={"baseUrl": redact_url(chosen.baseUrl)})
    return {"coperniq": chosen}


COPERNIQ: DestinationType[CoperniqChoice] = DestinationType(
    kind="coperniq",
    options=CoperniqChoice,
    preset=_preset,
    build=_build,
    secret_field="coperniqApiKey",  # noqa: S106 - a field name, not a secret
    answer=CoperniqAnswer,
    show=_show,
)
