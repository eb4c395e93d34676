"""Job payloads that name one of a lead's records: what the jobs about a lead, a message, an
update or a review carry (the record itself is read from the store when the job runs, so a
retry after an outage sees it as it is now)."""

from __future__ import annotations

from tackbridge.outbox.kinds import Payload

__all__ = ["LeadRef", "LeadUpdateRef", "MessageRef", "ReviewRef", "message_key"]


class LeadRef(Payload):
    leadID: str


class MessageRef(Payload):
    messageID: str
    leadID: str | None = None


def message_key(kind: str, ref: MessageRef) -> str:
    """A message job's idempotency key: message IDs are unique within a lead only, so the key
    names the lead (a message without one, and jobs queued before, keep the ID alone)."""
    if ref.leadID is None:
        return f"{kind}:{ref.messageID}"
    return f"{kind}:{ref.leadID}:{ref.messageID}"


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
