"""Calendar notices: the State Council's holiday notice of a year, loaded as data.

A loaded notice declares its year complete (its days replace the law minimum the engine uses
for a year without one) and makes the deadlines that depend on that year official.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_notice",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("published", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_calendar_notice"),
    )


def downgrade() -> None:
    op.drop_table("calendar_notice")
