"""connections: enabled per business, one grant for several businesses, webhook errors;
the business an operator named when connecting

Revision ID: 0003_business_enabled
Revises: 0002
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_business_enabled"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): SQLite adds a column with a constant default in place.
    op.add_column("connections", sa.Column("webhook_error", sa.Text(), nullable=True))
    op.add_column(
        "connections",
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("connections", sa.Column("grant_of", sa.String(length=64), nullable=True))
    op.add_column("oauth_states", sa.Column("business_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("business_id")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("grant_of")
        batch.drop_column("enabled")
        batch.drop_column("webhook_error")
