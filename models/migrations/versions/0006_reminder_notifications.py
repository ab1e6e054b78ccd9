"""Notifications about no single grievance (a unit's daily reminder): grievance optional.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("grievance_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("number", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute(
        "DELETE FROM notification_attempt WHERE notification_id IN "
        "(SELECT id FROM notification WHERE grievance_id IS NULL)"
    )
    op.execute("DELETE FROM notification WHERE grievance_id IS NULL")
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("number", existing_type=sa.String(32), nullable=False)
        batch.alter_column("grievance_id", existing_type=sa.Integer(), nullable=False)
