"""What a destination reports back for one delivered record (kept with the outbox job)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryReceipt:
    destination: str
    # The record at the destination (Coperniq opportunity or note ID), when there is one.
    external_id: str | None = None
    # What happened, for operators: "created", "found", "linked", "skipped", "sent", ...
    outcome: str = "sent"
