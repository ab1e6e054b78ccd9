"""Accounts (who signs in at the gate) and the security log (logins, refusals, account changes;
append-only like the audit log).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

APPEND_ONLY_SQLITE = """
CREATE TRIGGER security_event_no_{op} BEFORE {OP} ON security_event
BEGIN SELECT RAISE(ABORT, 'security_event is append-only: {op} refused'); END
"""
APPEND_ONLY_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION security_event_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'security_event is append-only: % refused', lower(TG_OP); END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_PG_TRIGGER = """
CREATE TRIGGER security_event_append_only BEFORE UPDATE OR DELETE ON security_event
FOR EACH ROW EXECUTE FUNCTION security_event_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(50), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.Column("last_login_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("name", name="uq_account_name"),
    )
    op.create_table(
        "security_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("by", sa.String(64), nullable=True),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_security_event"),
    )
    op.create_index("ix_security_event_at", "security_event", ["at"])
    op.create_index(
        "ix_security_event_account_kind_at", "security_event", ["account", "kind", "at"]
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("update", "delete"):
            op.execute(APPEND_ONLY_SQLITE.format(op=name, OP=name.upper()))
    elif dialect == "postgresql":
        op.execute(APPEND_ONLY_PG_FUNCTION)
        op.execute(APPEND_ONLY_PG_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS security_event_append_only ON security_event")
        op.execute("DROP FUNCTION IF EXISTS security_event_append_only()")
    op.drop_table("security_event")
    op.drop_table("account")
