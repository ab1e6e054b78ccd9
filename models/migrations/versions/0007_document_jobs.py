"""Document jobs: the documents a record issues, rendered after its commit (an outbox).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "document_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("requested_by", sa.String(50), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_document_job_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document_job"),
        sa.UniqueConstraint(
            "number", "kind", "version", name="uq_document_job_number_kind_version"
        ),
    )
    op.create_index("ix_document_job_grievance_id", "document_job", ["grievance_id"])
    op.create_index("ix_document_job_status_id", "document_job", ["status", "id"])


def downgrade() -> None:
    op.drop_table("document_job")
