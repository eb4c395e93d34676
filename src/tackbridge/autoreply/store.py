"""Where each business's auto-reply rules live, and the default rule set from the settings
(inline JSON, or ``@path`` to a JSON file). Dev mode, with no rules configured, replies to every
lead with a friendly default so that ``make run`` shows the whole flow."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from tackbridge.autoreply.rules import RuleSet, validate_rule_set
from tackbridge.settings import Settings
from tackbridge.store import business_settings

DEV_RULES: dict[str, Any] = {
    "default": {
        "template": (
            "Hi {{ customer_first_name or 'there' }}, thanks for reaching out to "
            "{{ business_name or 'us' }}{% if category %} about your {{ category }} project"
            "{% endif %}! We have your request and will call you shortly to talk it through."
        ),
    }
}


@lru_cache(maxsize=8)
def _parse(raw: str) -> RuleSet:
    text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    return validate_rule_set(json.loads(text))


def default_rules(settings: Settings) -> RuleSet | None:
    """The settings' rule set; raises ValueError (naming the field) when it is not valid."""
    if settings.autoreply_rules:
        return _parse(settings.autoreply_rules)
    if settings.is_dev:
        return validate_rule_set(DEV_RULES)
    return None


def replies_to_leads(row: Any, settings: Settings) -> bool:
    """Whether a business whose settings row is ``row`` (None: it has none) has auto-reply
    rules at all: its own, or the settings' default. Without any, a new lead queues no
    ``autoreply.plan`` job (it would have nothing to do)."""
    own = row.autoreply_rules if row is not None else None
    return own is not None or bool(settings.autoreply_rules) or settings.is_dev


def own_rules(conn: Connection, business_id: str) -> dict[str, Any] | None:
    row = business_settings.get(conn, business_id)
    rules: dict[str, Any] | None = row.autoreply_rules if row is not None else None
    return rules


def rules_for(conn: Connection, business_id: str | None, settings: Settings) -> RuleSet | None:
    own = own_rules(conn, business_id) if business_id else None
    return validate_rule_set(own) if own is not None else default_rules(settings)


def save_rules(conn: Connection, business_id: str, rules: RuleSet | None, now: datetime) -> None:
    stored = rules.model_dump(mode="json", exclude_none=True) if rules is not None else None
    business_settings.put(conn, business_id, {"autoreply_rules": stored, "updated_at": now})
