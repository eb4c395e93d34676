"""crm destinations, automation events, first replies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:27:07.213517
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_settings",
        sa.Column("business_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=16), nullable=True),
        sa.Column("destination_options", sa.JSON(), nullable=True),
        sa.Column("destination_secret", sa.Text(), nullable=True),
        sa.Column("autoreply_rules", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_business_settings")),
    )
    op.create_table(
        "crm_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("trigger_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("job_status", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_crm_events_event_id")),
    )
    op.create_table(
        "crm_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_links")),
        sa.UniqueConstraint("lead_id", name=op.f("uq_crm_links_lead_id")),
    )
    with op.batch_alter_table("crm_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_links_external_id"), ["external_id"], unique=False)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_reply_by", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("first_reply_by")
        batch_op.drop_column("first_reply_at")

    with op.batch_alter_table("crm_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_links_external_id"))

    op.drop_table("crm_links")
    op.drop_table("crm_events")
    op.drop_table("business_settings")
