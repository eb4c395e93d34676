"""Which business hours Price Assurance's clock runs on for a lead: the hours of the auto-reply
rule the lead falls under (``autoreply``: the business's own rule set, or the default), the one
place tackbridge keeps a business's hours and time zone. None when no rule names hours (then
every hour counts; ``insights.price_assurance``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from tackbridge.autoreply.rules import BusinessHours, RuleSet
from tackbridge.autoreply.store import rules_for
from tackbridge.insights.price_assurance import TimeLeft, time_left
from tackbridge.leads.models import LeadInput
from tackbridge.settings import Settings

__all__ = ["PriceClock"]


@dataclass
class PriceClock:
    """Looks up each business's rule set once (per page render)."""

    conn: Connection
    settings: Settings
    _rules: dict[str | None, RuleSet | None] = field(default_factory=dict)

    def _rule_set(self, business_id: str | None) -> RuleSet | None:
        if business_id not in self._rules:
            try:
                self._rules[business_id] = rules_for(self.conn, business_id, self.settings)
            except ValueError:  # a stored rule set that no longer validates: no hours known
                self._rules[business_id] = None
        return self._rules[business_id]

    def hours(
        self, business_id: str | None, category: str | None, category_id: str | None = None
    ) -> BusinessHours | None:
        rules = self._rule_set(business_id)
        if rules is None:
            return None
        chosen = rules.rule_for(LeadInput(lead_id="", category=category, category_id=category_id))
        if chosen is not None and chosen[1].business_hours is not None:
            return chosen[1].business_hours
        if rules.default is not None:
            return rules.default.business_hours
        return None

    def left(
        self,
        received_at: datetime,
        business_id: str | None,
        category: str | None,
        *,
        now: datetime,
        category_id: str | None = None,
    ) -> TimeLeft:
        return time_left(received_at, self.hours(business_id, category, category_id), now=now)
