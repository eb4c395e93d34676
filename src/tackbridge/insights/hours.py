"""Which business hours Price Assurance's clock runs on for a lead: the hours of the auto-reply
rule the lead falls under (the business's own rule set, or the default), else the default rule's
hours; None when no rule names hours (then every hour counts). The auto-reply rules are the one
place tackbridge keeps a business's hours and time zone."""

from __future__ import annotations

from sqlalchemy import Connection

from tackbridge.autoreply.rules import BusinessHours, RuleSet
from tackbridge.autoreply.store import rules_for
from tackbridge.leads.models import LeadInput
from tackbridge.settings import Settings

__all__ = ["HoursLookup", "hours_in"]


def hours_in(
    rules: RuleSet | None, category: str | None, category_id: str | None = None
) -> BusinessHours | None:
    """The hours of the rule a lead of this category gets, else the default rule's."""
    if rules is None:
        return None
    chosen = rules.rule_for(LeadInput(lead_id="", category=category, category_id=category_id))
    if chosen is not None and chosen[1].business_hours is not None:
        return chosen[1].business_hours
    return None if rules.default is None else rules.default.business_hours


class HoursLookup:
    """Each business's rule set read once (per page or answer); a stored rule set that no
    longer validates counts as no hours known."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self._conn = conn
        self._settings = settings
        self._rules: dict[str | None, RuleSet | None] = {}
        # A page counts thousands of leads of a few businesses and categories.
        self._hours: dict[tuple[str | None, str | None, str | None], BusinessHours | None] = {}

    def rules(self, business_id: str | None) -> RuleSet | None:
        if business_id not in self._rules:
            try:
                self._rules[business_id] = rules_for(self._conn, business_id, self._settings)
            except ValueError:  # RuleSetError is one
                self._rules[business_id] = None
        return self._rules[business_id]

    def of(
        self, business_id: str | None, category: str | None, category_id: str | None = None
    ) -> BusinessHours | None:
        key = (business_id, category, category_id)
        if key not in self._hours:
            self._hours[key] = hours_in(self.rules(business_id), category, category_id)
        return self._hours[key]
