"""Find a grievance by channel reference, phone or plate (issue 21): an index on each; and
the markings of typical cases (典型案例) in the audit log, for the monthly bulletin.

`grievance find` and the gate's search page ask for one exact value; the duplicate hint at
intake asks for the open grievances of the same phone or plate. Without these indexes each
is a full scan of the grievances; with them a lookup (`bench/find.py`).
The number is unique already (its index), and the (channel, ref) unique index does not serve
a reference given without its channel.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_grievance_ref", "ref"),
    ("ix_grievance_phone", "phone"),
    ("ix_grievance_plate", "plate"),
)


_TYPICAL = sa.text("event = 'typical'")


def upgrade() -> None:
    for name, column in _INDEXES:
        op.create_index(name, "grievance", [column])
    # 典型案例: the markings by time, for the monthly bulletin; few rows, so a partial index
    op.create_index(
        "ix_grievance_event_typical",
        "grievance_event",
        ["at"],
        sqlite_where=_TYPICAL,
        postgresql_where=_TYPICAL,
    )


def downgrade() -> None:
    op.drop_index("ix_grievance_event_typical", table_name="grievance_event")
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="grievance")
