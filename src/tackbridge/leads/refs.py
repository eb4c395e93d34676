"""Job payloads that name one of a lead's records: what the jobs about a lead, a message, an
update or a review carry (the record itself is read from the store when the job runs, so a
retry after an outage sees it as it is now)."""

from __future__ import annotations

from tackbridge.outbox.kinds import Payload

__all__ = ["LeadRef", "LeadUpdateRef", "MessageRef", "ReviewRef"]


class LeadRef(Payload):
    leadID: str


class MessageRef(Payload):
    messageID: str
    leadID: str | None = None


class ReviewRef(Payload):
    reviewID: str
    leadID: str | None = None


class LeadUpdateRef(Payload):
    """A lead update: the fields it carried (only those are set), in the store's names."""

    leadID: str
    # The update's row in lead_status_history; jobs queued before it was carried lack it.
    updateID: int | None = None
    lead_price: str | None = None
    lead_price_cents: int | None = None
    charge_state: str | None = None
    status: str | None = None
