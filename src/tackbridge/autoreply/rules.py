"""Auto-reply rules of one business, optionally per category: enabled, template, business hours
in a time zone with an out-of-hours template, and a delay; their validation (for the API that
saves them) and ``choose_reply``, which decides what to send for a new lead and when.

One automatic reply per lead is the caller's bookkeeping (``already_replied``); this module
never replies to Thumbtack's test lead, nor once the pro has replied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tackbridge.autoreply.templates import (
    TemplateError,
    check_template,
    default_reply,
    render,
    variables_for,
)
from tackbridge.leads.models import LeadInput

__all__ = [
    "BusinessHours",
    "HoursWindow",
    "PlannedReply",
    "ReplyRule",
    "RuleSet",
    "RuleSetError",
    "TemplateError",
    "choose_reply",
    "validate_rule_set",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DELAY_SECONDS = 3600


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursWindow(_Strict):
    days: list[Weekday] = Field(min_length=1)
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> HoursWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def contains(self, moment: datetime) -> bool:
        day = WEEKDAYS[moment.weekday()]
        return day in self.days and self.start <= moment.time().replace(tzinfo=None) < self.end


class BusinessHours(_Strict):
    time_zone: str
    windows: list[HoursWindow] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (like America/New_York)"
            ) from None
        return value

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.time_zone))
        return any(window.contains(local) for window in self.windows)


class ReplyRule(_Strict):
    enabled: bool = True
    template: str
    out_of_hours_template: str | None = None
    business_hours: BusinessHours | None = None
    delay_seconds: int = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)

    @field_validator("template", "out_of_hours_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("must not be blank")
            check_template(value)
        return value


class RuleSet(_Strict):
    """One business's rules: ``default`` for any lead, ``categories`` keyed by a Thumbtack
    category ID or name (case-insensitive) for leads of that category."""

    default: ReplyRule | None = None
    categories: dict[str, ReplyRule] = Field(default_factory=dict)

    def rule_for(self, lead: LeadInput) -> tuple[str, ReplyRule] | None:
        wanted = {v.strip().lower() for v in (lead.category_id, lead.category) if v}
        for key, rule in self.categories.items():
            if key.strip().lower() in wanted:
                return f"category:{key}", rule
        return ("default", self.default) if self.default is not None else None


class RuleSetError(ValueError):
    """A rule set that cannot be saved: ``errors`` lists ``{"field", "detail"}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        super().__init__(f"{first['field']}: {first['detail']}")
        self.errors = errors


def validate_rule_set(data: Any) -> RuleSet:
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"]) or "body"
            detail = str(err["msg"]).removeprefix("Value error, ")
            errors.append({"field": where, "detail": detail})
        raise RuleSetError(errors) from None


@dataclass(frozen=True)
class PlannedReply:
    text: str
    send_at: datetime
    rule: str
    out_of_hours: bool
    # True when the template failed or rendered blank and the safe default text is used.
    fallback: bool


def choose_reply(
    lead: LeadInput,
    rules: RuleSet,
    now: datetime,
    already_replied: bool,
    is_test: bool = False,
) -> PlannedReply | None:
    """The automatic first reply for ``lead`` and when to send it, or None for no reply."""
    if is_test or lead.is_test or already_replied:
        return None
    chosen = rules.rule_for(lead)
    if chosen is None:
        return None
    name, rule = chosen
    if not rule.enabled:
        return None
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    out_of_hours = rule.business_hours is not None and not rule.business_hours.is_open(moment)
    source = rule.out_of_hours_template if out_of_hours else None
    text = render(source or rule.template, variables_for(lead))
    fallback = text is None
    return PlannedReply(
        text=text if text is not None else default_reply(lead),
        send_at=moment + timedelta(seconds=rule.delay_seconds),
        rule=name,
        out_of_hours=out_of_hours,
        fallback=fallback,
    )
