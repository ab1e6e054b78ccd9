"""Unit calendars: a unit's own business hours, workdays and rest days, in revisions, and
the calendar each SLA timer counts on.

`unit_calendar` is append-only: each change of a unit's calendar is a new revision, and a
timer names the revision it counts on (`sla_timer.calendar`, "ROAD@2"; "" for the bureau
calendar), so timers that stopped under an earlier revision keep it (see workflow/sla_calendars.py).

The new timer column is added with a constant default: no table rewrite on SQLite, however
many timers there are.

Revision ID: 0010
Revises: 0009 (at merge time: 0009, the other branch's migration)
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "unit_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("hours", sa.String(200), nullable=True),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("rest_days", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name="fk_unit_calendar_unit_code_unit"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unit_calendar"),
        sa.UniqueConstraint("unit_code", "revision", name="uq_unit_calendar_unit_code_revision"),
    )
    op.add_column(
        "sla_timer",
        sa.Column("calendar", sa.String(40), nullable=False, server_default=""),
    )


def downgrade() -> None:
    with op.batch_alter_table("sla_timer") as batch:
        batch.drop_column("calendar")
    op.drop_table("unit_calendar")
