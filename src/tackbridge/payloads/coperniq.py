"""Coperniq wire models (coperniq-create-opportunity.txt and api-notes.md): the opportunity
create body and record, contacts, notes, custom properties, workflows, errors and the automation
webhook payload. Names are Coperniq's own; unknown fields are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

OpportunityStatus = Literal["ACTIVE", "ON_HOLD", "CANCELLED", "COMPLETED"]
MatchBy = Literal["title", "primaryEmail", "primaryPhone", "address"]
MatchFoundStrategy = Literal["skip", "replace", "enrich"]
# Which Coperniq record a lead becomes: ``/opportunities/**`` or ``/projects/**`` (same shapes).
RecordType = Literal["opportunity", "project"]
RECORD_TYPES: tuple[RecordType, ...] = ("opportunity", "project")


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class OpportunityCreate(Wire):
    """``POST /opportunities`` (alias ``/requests``): title, address and trades are required."""

    title: str
    address: list[str] = Field(description="an array containing a single string")
    trades: list[str]
    description: str | None = None
    accountId: int | None = None
    workflowId: int | None = None
    phaseId: int | None = None
    value: float | None = None
    size: float | None = None
    confidence: float | None = Field(default=None, ge=0, le=100)
    status: OpportunityStatus | None = None
    primaryEmail: str | None = None
    primaryPhone: str | None = None
    contacts: list[int] | None = None
    custom: dict[str, Any] | None = None


class Phase(Wire):
    """A record's current phase. An opportunity's (the document's OpportunityPhase) is
    ``{id, name, type}``; a project's (ProjectPhase, Workflows 2.0) names its instance and
    template instead of an ``id``, and adds its status, SLAs and time in the phase."""

    id: int | None = None
    name: str | None = None
    type: str | None = None
    instanceId: int | None = None
    templateId: int | None = None
    status: str | None = None
    redSla: int | None = None
    yellowSla: int | None = None
    timeInStageDays: int | None = None
    slaStatus: str | None = None

    @property
    def template_id(self) -> int | None:
        """The phase template either shape names (an opportunity's ``id`` is its template)."""
        return self.templateId if self.templateId is not None else self.id


class PhaseInstance(Wire):
    """One phase of a record's workflow (PhaseInstance; a project's adds its start and end)."""

    id: int
    phaseTemplateId: int
    name: str
    type: str
    status: str
    position: int | None = None
    phaseTemplate: Any = None
    startedAt: str | None = None
    completedAt: str | None = None


class WorkflowPhase(Wire):
    """A phase of a workflow (WorkflowPhasesItems): its SLAs are in days."""

    id: int
    name: str
    type: str
    description: str | None = None
    redSla: int | None = None
    yellowSla: int | None = None


class Opportunity(Wire):
    """An opportunity as Coperniq answers it."""

    id: int
    createdAt: str
    updatedAt: str
    title: str
    description: str | None = None
    address: list[str] = Field(default_factory=list)
    isActive: bool = True
    primaryEmail: str | None = None
    primaryPhone: str | None = None
    number: int
    custom: dict[str, Any] = Field(default_factory=dict)
    trades: list[str] = Field(default_factory=list)
    value: float | None = None
    size: float | None = None
    confidence: float | None = None
    status: OpportunityStatus | None = None
    workflowId: int | None = None
    workflowName: str | None = None
    accountId: int | None = None
    createdById: int | None = None  # older answers; the document's is ``createdBy``
    createdBy: Any = None
    updatedBy: Any = None
    stage: Any = None  # a project still on Workflows 1.0
    geoLocation: list[str] | str | None = None
    imageUrl: str | None = None
    streetViewUrl: str | None = None
    city: str | None = None
    zipcode: str | None = None
    state: str | None = None
    street: str | None = None
    phaseId: int | None = None
    phase: Phase | None = None
    phaseInstances: list[PhaseInstance] = Field(default_factory=list)
    contacts: list[int] = Field(default_factory=list)
    owner: Any = None
    salesRep: Any = None
    projectManager: Any = None
    jurisdiction: Any = None
    lastActivity: str | None = None


class Contact(Wire):
    id: int
    name: str
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    title: str | None = None
    accountIds: list[int] = Field(default_factory=list)
    projectIds: list[int] = Field(default_factory=list)
    createdByUser: Any = None
    accounts: list[Any] = Field(default_factory=list)
    projects: list[Any] = Field(default_factory=list)
    createdAt: str | None = None
    updatedAt: str | None = None


class Note(Wire):
    """A note: its text is ``note`` in the document, ``body`` in older answers."""

    id: int
    recordId: int | None = None
    note: str | None = None
    body: str | None = None
    author: Any = None
    createdByUser: Any = None  # the notes list's items name the author so
    createdAt: str | None = None
    updatedAt: str | None = None

    @property
    def text(self) -> str:
        return self.note if self.note is not None else (self.body or "")


class NoteList(Wire):
    """``GET /opportunities/{id}/notes`` (and a project's): ``{notes, totalCount}``."""

    notes: list[Note] = Field(default_factory=list)
    totalCount: int = 0


class Property(Wire):
    id: int | None = None  # not in the document's Property
    name: str
    type: str
    keyName: str
    isMultiple: bool = False
    options: list[str] = Field(default_factory=list)
    defaultValue: list[Any] = Field(default_factory=list)
    isCustom: bool | None = None


class Workflow(Wire):
    id: int
    name: str
    description: str | None = None
    type: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    createdBy: Any = None
    phases: list[WorkflowPhase] = Field(default_factory=list)


class ErrorBody(Wire):
    """Every Coperniq error: ``code`` is VALIDATION_ERROR, INVALID_JSON, UNAUTHORIZED, ..."""

    message: str
    code: str
    field: str | None = None


def _text(value: Any) -> Any:
    # The document's event IDs are numbers; older payloads (and tests) sent strings.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# What the store keeps of an automation event (crm_events): bounded here, so a longer or
# control-character value is a 422 naming it, not a failed write. (Inline: the sandbox shares
# this module and nothing else of the product.)
_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"


class WebhookEvent(Wire):
    """``event`` of an automation webhook (docs.coperniq.io, "Webhooks"): ``eventId`` and
    ``recordId`` are numbers there; trigger-specific fields are added beside them."""

    eventId: Annotated[
        str, BeforeValidator(_text), Field(min_length=1, max_length=128, pattern=_PRINTABLE)
    ]
    recordId: int | str = Field(union_mode="left_to_right")
    triggerKey: str = Field(min_length=1, max_length=64, pattern=_PRINTABLE)
    triggerName: str | None = None
    firedAt: str | None = None
    phaseInstanceId: int | None = None
    phaseTemplateId: int | None = None
    phaseType: str | None = None
    status: str | None = None

    @field_validator("recordId")
    @classmethod
    def _record_id(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value < 2**63:
            raise ValueError("must be a record ID (a whole number from 0 to 2**63-1)")
        if isinstance(value, str) and not (0 < len(value) <= 64 and value.isprintable()):
            raise ValueError("must be 1 to 64 printable characters")
        return value


class WebhookRecord(Wire):
    """``record`` of an automation webhook: ``uid`` is the record's number and ``type``
    ``PROJECT``, ``DEAL`` (an opportunity) or ``ACCOUNT`` there; older payloads sent a UUID
    and lower-case types, read too."""

    id: int | str
    uid: int | str | None = None
    type: str | None = None
    status: Any = None
    dealValue: Any = None


class Webhook(Wire):
    """What a Coperniq automation's "Call webhook" action posts."""

    event: WebhookEvent
    record: WebhookRecord


class CoperniqEventError(ValueError):
    """The webhook body (or the opportunity given with it) cannot be read."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def event_error(exc: ValidationError, prefix: str = "") -> CoperniqEventError:
    """The first problem ``exc`` found, naming its field (under ``prefix``)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    field = f"{prefix}.{where}" if prefix and where else (prefix or where or "body")
    return CoperniqEventError(field, first["msg"])


def parse_webhook(payload: Any) -> Webhook:
    """An automation webhook body as its wire model; ``CoperniqEventError`` names the field."""
    if not isinstance(payload, Mapping):
        raise CoperniqEventError("body", "must be a JSON object")
    try:
        return Webhook.model_validate(dict(payload))
    except ValidationError as exc:
        raise event_error(exc) from None
