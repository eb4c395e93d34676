"""messages are unique per lead; a message's attachments name its lead; messages keep the names
their delivery gave the customer and the business

Revision ID: 0003_messages_per_lead
Revises: 0003_business_enabled
Create Date: 2026-12-01 10:00:00.000000

Existing rows stay: they were unique on ``message_id`` alone, so they are unique on
(``lead_id``, ``message_id``) too, and each message attachment takes its message's lead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_messages_per_lead"
down_revision = "0003_business_enabled"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_name", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("business_name", sa.Text(), nullable=True))
        batch_op.drop_constraint("uq_messages_message_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_lead_id_message_id"), ["lead_id", "message_id"]
        )
        batch_op.create_index(batch_op.f("ix_messages_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_lead", sa.String(length=64), server_default="", nullable=False)
        )
    op.execute(
        "UPDATE attachments SET owner_lead = COALESCE(("
        "SELECT messages.lead_id FROM messages WHERE messages.message_id = attachments.owner_id"
        "), '') WHERE owner_kind = 'message'"
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_attachments_owner_kind_owner_id_position", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_attachments_owner_kind_owner_id_owner_lead_position"),
            ["owner_kind", "owner_id", "owner_lead", "position"],
        )


def downgrade() -> None:
    # Only possible while no message ID is used under two leads.
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_attachments_owner_kind_owner_id_owner_lead_position", type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_attachments_owner_kind_owner_id_position", ["owner_kind", "owner_id", "position"]
        )
        batch_op.drop_column("owner_lead")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_message_id")
        batch_op.drop_constraint("uq_messages_lead_id_message_id", type_="unique")
        batch_op.create_unique_constraint("uq_messages_message_id", ["message_id"])
        batch_op.drop_column("business_name")
        batch_op.drop_column("customer_name")
