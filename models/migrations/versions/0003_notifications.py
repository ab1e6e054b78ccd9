"""Notifications: unit targets, the outbox and its delivery attempts, timer lateness.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.add_column(sa.Column("notify", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("supervisor_notify", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("unit") as batch:
        batch.alter_column("notify", server_default=None)
        batch.alter_column("supervisor_notify", server_default=None)
    with op.batch_alter_table("sla_timer") as batch:
        batch.add_column(
            sa.Column("late_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("sla_timer") as batch:
        batch.alter_column("late_seconds", server_default=None)
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("recipient", sa.String(80), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("give_up_after", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_notification_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.UniqueConstraint("dedupe_key", name="uq_notification_dedupe_key"),
    )
    op.create_index("ix_notification_grievance_id", "notification", ["grievance_id"])
    op.create_index(
        "ix_notification_status_next_attempt_at", "notification", ["status", "next_attempt_at"]
    )
    op.create_table(
        "notification_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name="fk_notification_attempt_notification_id_notification",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_attempt"),
        sa.UniqueConstraint(
            "notification_id", "attempt", name="uq_notification_attempt_notification_id_attempt"
        ),
    )
    op.create_index(
        "ix_notification_attempt_notification_id", "notification_attempt", ["notification_id"]
    )


def downgrade() -> None:
    op.drop_table("notification_attempt")
    op.drop_table("notification")
    with op.batch_alter_table("sla_timer") as batch:
        batch.drop_column("late_seconds")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("supervisor_notify")
        batch.drop_column("notify")
