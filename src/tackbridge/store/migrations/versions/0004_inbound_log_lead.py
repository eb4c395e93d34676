"""the inbound log names the lead and business of each delivered record

Revision ID: 0004_inbound_log_lead
Revises: 0003_messages_per_lead
Create Date: 2026-12-01 12:00:00.000000

A message ID is unique only within its lead, so a log row naming a message by its ID alone
cannot say whose delivery it was. Existing rows are backfilled where the store can tell: a lead
or lead update names its lead; a review ID is unique, so its review names the lead; a message
ID used by one lead only names that lead, and one used by several names the one whose lead ID
the delivery's body carries (exactly one, else it stays unknown). The business follows from
the lead. Rows left unknown are purged only when no other lead uses their message ID.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_inbound_log_lead"
down_revision = "0003_messages_per_lead"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("business_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_inbound_log_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbound_log_business_id"), ["business_id"], unique=False
        )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "UPDATE inbound_log SET lead_id = record_id "
            "WHERE record_kind IN ('lead', 'lead_update') AND record_id IS NOT NULL"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE inbound_log SET lead_id = (SELECT reviews.lead_id FROM reviews "
            "WHERE reviews.review_id = inbound_log.record_id) WHERE record_kind = 'review'"
        )
    )
    # Messages: one lead for the ID, or the one lead whose ID the body carries.
    rows = conn.execute(
        sa.text(
            "SELECT id, record_id, body FROM inbound_log "
            "WHERE record_kind = 'message' AND record_id IS NOT NULL"
        )
    ).all()
    leads_of: dict[str, list[str]] = {}
    for message_id, lead_id in conn.execute(
        sa.text("SELECT message_id, lead_id FROM messages WHERE lead_id IS NOT NULL")
    ).all():
        leads_of.setdefault(message_id, []).append(lead_id)
    for row_id, message_id, body in rows:
        candidates = sorted(set(leads_of.get(message_id, [])))
        if len(candidates) > 1:
            raw = bytes(body or b"")
            candidates = [c for c in candidates if c.encode() in raw]
        if len(candidates) == 1:
            conn.execute(
                sa.text("UPDATE inbound_log SET lead_id = :lead WHERE id = :id"),
                {"lead": candidates[0], "id": row_id},
            )
    conn.execute(
        sa.text(
            "UPDATE inbound_log SET business_id = (SELECT leads.business_id FROM leads "
            "WHERE leads.lead_id = inbound_log.lead_id) WHERE lead_id IS NOT NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("inbound_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_log_business_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_log_lead_id"))
        batch_op.drop_column("business_id")
        batch_op.drop_column("lead_id")
