"""Policy versions: each time-limit policy version's definition, stored when first used.

A grievance keeps the policy version it was accepted under ("tianjin@1"); until now only
the policy file knew what that version said, so a file moved on to version 2 left the
version-1 grievances unreadable. The canonical JSON definition and its SHA-256 are kept
here (`workflow.policy_versions.policy_json`); (name, version) is unique.

The table starts empty: the engine stores the versions the existing grievances name (and
that its configuration still defines) the first time it opens the upgraded database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("stored_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_version"),
        sa.UniqueConstraint("name", "version", name="uq_policy_version_name_version"),
    )


def downgrade() -> None:
    op.drop_table("policy_version")
