"""The grievance a security event is about, as a column: `grievance show` lists who saw a
driver's number in full (reveal) and who downloaded an evidence file (attachment_read).

The number was only in the event's JSON `detail`; reading it there would scan the whole log
for every `show`. The column is indexed, written by `service.security.record` from now on,
and filled here for the events already logged. The security log refuses updates (its
append-only trigger, 0012), so this migration lifts the trigger for that one UPDATE, which
writes only the new column, and puts it back in the same transaction; the database admin who
runs migrations could do as much by hand, so nothing is given away.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SQLITE_NO_UPDATE = """
CREATE TRIGGER security_event_no_update BEFORE UPDATE ON security_event
BEGIN SELECT RAISE(ABORT, 'security_event is append-only: update refused'); END
"""  # as 0012 made it


def upgrade() -> None:
    op.add_column("security_event", sa.Column("number", sa.String(32), nullable=True))
    op.create_index("ix_security_event_number", "security_event", ["number"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER security_event_no_update")
        op.execute(
            "UPDATE security_event SET number = json_extract(detail, '$.number')"
            " WHERE kind IN ('reveal', 'attachment_read') AND detail IS NOT NULL"
        )
        op.execute(SQLITE_NO_UPDATE)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE security_event DISABLE TRIGGER security_event_append_only")
        op.execute(
            "UPDATE security_event SET number = detail::json ->> 'number'"
            " WHERE kind IN ('reveal', 'attachment_read') AND detail IS NOT NULL"
        )
        op.execute("ALTER TABLE security_event ENABLE TRIGGER security_event_append_only")


def downgrade() -> None:
    op.drop_index("ix_security_event_number", table_name="security_event")
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy would lose the triggers
    op.drop_column("security_event", "number")
