"""Partner systems (the 12328 hotline, freight platforms, the mini-program): their hashed API
keys, the grievances each pushed, and the callback queue's position in the audit log.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_partner"),
        sa.UniqueConstraint("code", name="uq_partner_code"),
    )
    op.create_table(
        "partner_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name="fk_partner_key_partner_id_partner"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_partner_key"),
        sa.UniqueConstraint("key_hash", name="uq_partner_key_key_hash"),
    )
    op.create_index("ix_partner_key_partner_id", "partner_key", ["partner_id"])
    op.create_table(
        "partner_intake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name="fk_partner_intake_partner_id_partner"
        ),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_partner_intake_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_partner_intake"),
        sa.UniqueConstraint("partner_id", "ref", name="uq_partner_intake_partner_id_ref"),
        sa.UniqueConstraint(
            "partner_id",
            "idempotency_key",
            name="uq_partner_intake_partner_id_idempotency_key",
        ),
    )
    op.create_index("ix_partner_intake_grievance_id", "partner_intake", ["grievance_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_intake_grievance_id", table_name="partner_intake")
    op.drop_table("partner_intake")
    op.drop_index("ix_partner_key_partner_id", table_name="partner_key")
    op.drop_table("partner_key")
    op.drop_table("partner")
