"""SLA: the policy of each grievance, timers, and operator calendar overrides.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("grievance") as batch:
        batch.add_column(
            sa.Column("policy", sa.String(64), nullable=False, server_default="2142@1")
        )
    with op.batch_alter_table("grievance") as batch:
        batch.alter_column("policy", server_default=None)
    op.create_table(
        "sla_timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("warn_at", TS, nullable=True),
        sa.Column("paused_since", TS, nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("extended_days", sa.Integer(), nullable=False),
        sa.Column("stopped_at", TS, nullable=True),
        sa.Column("breached_at", TS, nullable=True),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_sla_timer_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sla_timer"),
        sa.UniqueConstraint(
            "grievance_id", "target", "cycle", name="uq_sla_timer_grievance_id_target_cycle"
        ),
    )
    op.create_index("ix_sla_timer_grievance_id", "sla_timer", ["grievance_id"])
    op.create_index("ix_sla_timer_next_fire_at", "sla_timer", ["next_fire_at"])
    op.create_index("ix_sla_timer_due_at", "sla_timer", ["due_at"])
    op.create_index("ix_sla_timer_stopped_at", "sla_timer", ["stopped_at"])
    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("loaded_by", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_calendar_day"),
    )


def downgrade() -> None:
    op.drop_table("calendar_day")
    op.drop_table("sla_timer")
    with op.batch_alter_table("grievance") as batch:
        batch.drop_column("policy")
