"""Every outbox job kind this service runs: one entry per kind, each from the feature that owns
it. The worker inside ``tackbridge serve``, ``tackbridge worker`` and the one-shot commands all
run this registry.

| kinds | feature |
|---|---|
| ``autoreply.plan``, ``autoreply.send`` | autoreply |
| ``thumbtack.message`` | conversations |
| ``thumbtack.job_status`` | jobstatus |
| ``thumbtack.targeting`` | targeting |
| ``crm.lead``, ``crm.message``, ``crm.lead_update``, ``crm.review`` | crm |
| ``connection.purge``, ``connection.register_webhook`` | connections |
| ``inbound.retention`` (hourly; scheduled when serve's worker starts) | inbound |
| ``lead.received``, ``message.received``, ``lead.updated``, ``review.received``, ``crm.event``
  (queued by the front door) | flows |

Adding a kind: declare its ``JobKind`` and ``Registration`` in its feature, and add the
registration here.
"""

from __future__ import annotations

from typing import Any

from tackbridge import flows
from tackbridge.autoreply.service import PLAN, SEND
from tackbridge.connections.purge import PURGE
from tackbridge.connections.webhooks import REGISTER_WEBHOOK
from tackbridge.conversations.replies import REPLY
from tackbridge.crm.handlers import CRM_LEAD, CRM_LEAD_UPDATE, CRM_MESSAGE, CRM_REVIEW
from tackbridge.inbound.retention import PURGE_INBOUND
from tackbridge.jobstatus.push import PUSH
from tackbridge.outbox.kinds import Registration, Registry
from tackbridge.targeting.service import TARGETING

__all__ = ["REGISTRATIONS", "build_registry"]

REGISTRATIONS: tuple[Registration[Any], ...] = (
    PLAN,
    SEND,
    REPLY,
    PUSH,
    TARGETING,
    CRM_LEAD,
    CRM_MESSAGE,
    CRM_LEAD_UPDATE,
    CRM_REVIEW,
    PURGE,
    REGISTER_WEBHOOK,
    PURGE_INBOUND,
    *flows.REGISTRATIONS,
)


def build_registry(*extra: Registration[Any]) -> Registry:
    """The registry of every kind (``extra``: more, e.g. a plugin's or a test's)."""
    registry = Registry.of((*REGISTRATIONS, *extra))
    for kind, hook in flows.SETTLE_REACTIONS:
        registry.react(kind, hook)
    return registry
