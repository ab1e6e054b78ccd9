"""Documents and measures: the respondent of a grievance, the time a timer used, and the
rendered documents (复盘报告, 无责说明) with their hashes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("grievance") as batch:
        batch.add_column(sa.Column("respondent", sa.String(100), nullable=True))
        batch.create_index("ix_grievance_respondent", ["respondent"])
    with op.batch_alter_table("sla_timer") as batch:
        batch.add_column(
            sa.Column("used_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("sla_timer") as batch:
        batch.alter_column("used_seconds", server_default=None)
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rendered_at", TS, nullable=False),
        sa.Column("rendered_by", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_document_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document"),
    )
    op.create_index("ix_document_grievance_id", "document", ["grievance_id"])
    op.create_index("ix_document_number_kind", "document", ["number", "kind"])


def downgrade() -> None:
    op.drop_table("document")
    with op.batch_alter_table("sla_timer") as batch:
        batch.drop_column("used_seconds")
    with op.batch_alter_table("grievance") as batch:
        batch.drop_index("ix_grievance_respondent")
        batch.drop_column("respondent")
