"""首办负责 figures (issue 21): a partial index on the audit log's returns and reassignments.

The weekly and monthly digests count, per unit, the 退单 returns and 改派 reassignments of the
period's grievances (`models.handoffs`); both are rare among the events, so a partial index on
their time finds them without reading the others. The first-handler facts themselves are
columns of `grievance` already (`first_handler_unit`, `return_count`, `reassign_count`).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_HANDOFFS = sa.text("event IN ('return', 'reassign')")


def upgrade() -> None:
    op.create_index(
        "ix_grievance_event_handoffs",
        "grievance_event",
        ["at"],
        sqlite_where=_HANDOFFS,
        postgresql_where=_HANDOFFS,
    )


def downgrade() -> None:
    op.drop_index("ix_grievance_event_handoffs", table_name="grievance_event")
