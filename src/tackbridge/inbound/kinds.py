"""The job kinds the front door queues, one per stored record, and what they carry.

Their handlers are not the front door's: what a record sets in motion crosses features
(``tackbridge.flows``). A new lead usually skips ``lead.received``: the runtime's reactions
queue its follow-ups in the transaction that stores it (``reactions.Reactions``).
"""

from __future__ import annotations

from pydantic import Field

from tackbridge.leads.refs import LeadRef, LeadUpdateRef, MessageRef, ReviewRef, message_key
from tackbridge.outbox.kinds import JobKind, Payload

__all__ = [
    "COPERNIQ_EVENT",
    "LEAD_RECEIVED",
    "LEAD_UPDATED",
    "MESSAGE_RECEIVED",
    "RETENTION",
    "REVIEW_RECEIVED",
    "CoperniqEventRef",
    "RetentionRun",
]


class CoperniqEventRef(Payload):
    """A Coperniq automation event, stored in ``crm_events`` (row ``eventRowID``)."""

    eventRowID: int = Field(ge=1)
    eventID: str


LEAD_RECEIVED = JobKind.of("lead.received", LeadRef, lambda p: f"lead.received:{p.leadID}")
MESSAGE_RECEIVED = JobKind.of(
    "message.received", MessageRef, lambda p: message_key("message.received", p)
)
LEAD_UPDATED = JobKind.of(
    "lead.updated", LeadUpdateRef, lambda p: f"lead.updated:{p.leadID}:{p.updateID}"
)
REVIEW_RECEIVED = JobKind.of(
    "review.received", ReviewRef, lambda p: f"review.received:{p.reviewID}"
)
# The name predates the move of the Coperniq webhook into the front door; stored jobs keep it.
COPERNIQ_EVENT = JobKind.of("crm.event", CoperniqEventRef, lambda p: f"crm.event:{p.eventID}")


class RetentionRun(Payload):
    """One hourly run of the inbound log's retention; ``period``: the hour it is due
    (ISO 8601, UTC), so that each hour has one run however many processes schedule it."""

    period: str


RETENTION = JobKind.of("inbound.retention", RetentionRun, lambda p: f"inbound.retention:{p.period}")
