"""messages: one row per message ID among those without a lead (a partial unique index)

Revision ID: 0007_messages_unique_without_lead
Revises: 0006_inbox_business_status
Create Date: 2026-12-01 15:00:00.000000

The (lead_id, message_id) constraint cannot hold messages without a lead to one row (NULLs
differ), and a look before the insert cannot see another process's uncommitted row: the same
message arriving at two ``serve`` processes at once on PostgreSQL was stored twice. Rows stored
twice that way before this index are folded into their first (same ID, no lead: the same
message delivered again); their attachments are keyed by the ID, so none is lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_messages_unique_without_lead"
down_revision = "0006_inbox_business_status"
branch_labels = None
depends_on = None

_WITHOUT_LEAD = sa.text("lead_id IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Alembic makes its version column VARCHAR(32); this revision's ID is longer, and is
        # written there when this upgrade ends (SQLite does not enforce the length). Kept wide
        # on downgrade: it still holds this ID until the downgrade has ended.
        op.alter_column(
            "alembic_version",
            "version_num",
            type_=sa.String(64),
            existing_type=sa.String(32),
            existing_nullable=False,
        )
    op.execute(
        "DELETE FROM messages WHERE lead_id IS NULL AND id NOT IN ("
        "SELECT MIN(id) FROM messages WHERE lead_id IS NULL GROUP BY message_id)"
    )
    op.create_index(
        "ux_messages_message_id_without_lead",
        "messages",
        ["message_id"],
        unique=True,
        sqlite_where=_WITHOUT_LEAD,
        postgresql_where=_WITHOUT_LEAD,
    )


def downgrade() -> None:
    op.drop_index("ux_messages_message_id_without_lead", table_name="messages")
