"""Which business hours Price Assurance's clock runs on for a lead: the hours of the auto-reply
rule the lead falls under (``autoreply``: the business's own rule set, or the default), the one
place tackbridge keeps a business's hours and time zone. None when no rule names hours (then
every hour counts; ``insights.price_assurance``). The look-up is ``insights.hours``' (the
insights count the share answered in time with the same hours)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from tackbridge.autoreply.rules import BusinessHours
from tackbridge.insights.hours import HoursLookup
from tackbridge.insights.price_assurance import TimeLeft, time_left
from tackbridge.settings import Settings

__all__ = ["PriceClock"]


@dataclass
class PriceClock:
    """Looks up each business's rule set once (per page render)."""

    conn: Connection
    settings: Settings
    _lookup: HoursLookup | None = field(default=None, repr=False)

    def hours(
        self, business_id: str | None, category: str | None, category_id: str | None = None
    ) -> BusinessHours | None:
        if self._lookup is None:
            self._lookup = HoursLookup(self.conn, self.settings)
        return self._lookup.of(business_id, category, category_id)

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
