"""The job kinds of connections: the purge of a disconnected business's data, and keeping our
webhook registered on a v4 business."""

from __future__ import annotations

from tackbridge.outbox.kinds import JobKind, Payload

__all__ = ["PURGE_KIND", "REGISTER_WEBHOOK_KIND", "PurgeJob", "RegisterWebhookJob"]


class PurgeJob(Payload):
    business_id: str
    disconnected_at: str  # ISO 8601; a reconnect after it keeps the data


class RegisterWebhookJob(Payload):
    business_id: str
    # The connection's token version when it was queued: each (re)connect registers again.
    version: int | None = None
    # Set when an operator enabled or disabled the business: each such change runs again.
    toggle: int | None = None


PURGE_KIND = JobKind.of(
    "connection.purge", PurgeJob, lambda p: f"connection.purge:{p.business_id}:{p.disconnected_at}"
)
REGISTER_WEBHOOK_KIND = JobKind.of(
    "connection.register_webhook",
    RegisterWebhookJob,
    lambda p: (
        f"connection.register_webhook:{p.business_id}:{p.version}"
        + ("" if p.toggle is None else f":{p.toggle}")
    ),
)
