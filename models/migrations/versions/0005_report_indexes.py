"""Report indexes: open timers in deadline order, for the overdue and due lists.

`models.open_work.overdue_list` and `due_between` ask for open timers (`stopped_at IS NULL`)
by deadline, most late first, a few hundred at a time. With separate indexes on `stopped_at`
and `due_at`, SQLite reads every open timer and sorts them all (USE TEMP B-TREE FOR ORDER BY)
before keeping the first 500, once per unit in the daily reminders; with (stopped_at, due_at)
it walks the open timers in deadline order and stops at the limit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sla_timer_stopped_at_due_at", "sla_timer", ["stopped_at", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_timer_stopped_at_due_at", table_name="sla_timer")
