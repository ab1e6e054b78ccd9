"""Initial schema: units, grievances, the append-only audit log, number counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ENUM = sa.String(32)

APPEND_ONLY_SQLITE = """
CREATE TRIGGER grievance_event_no_{op} BEFORE {OP} ON grievance_event
BEGIN SELECT RAISE(ABORT, 'grievance_event is append-only: {op} refused'); END
"""
APPEND_ONLY_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION grievance_event_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'grievance_event is append-only: % refused', lower(TG_OP); END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_PG_TRIGGER = """
CREATE TRIGGER grievance_event_append_only BEFORE UPDATE OR DELETE ON grievance_event
FOR EACH ROW EXECUTE FUNCTION grievance_event_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_unit"),
        sa.UniqueConstraint("code", name="uq_unit_code"),
    )
    op.create_table(
        "grievance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("type", ENUM, nullable=False),
        sa.Column("category", ENUM, nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("plate", sa.String(16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", TS, nullable=False),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("lead_unit", sa.String(32), nullable=True),
        sa.Column("co_units", sa.JSON(), nullable=False),
        sa.Column("first_handler_unit", sa.String(32), nullable=True),
        sa.Column("assigned_at", TS, nullable=True),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column("reassign_count", sa.Integer(), nullable=False),
        sa.Column("feedback_count", sa.Integer(), nullable=False),
        sa.Column("last_feedback_at", TS, nullable=True),
        sa.Column("pending_extension_days", sa.Integer(), nullable=True),
        sa.Column("extensions_granted", sa.Integer(), nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("suspension_count", sa.Integer(), nullable=False),
        sa.Column("result", ENUM, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("recovered_fen", sa.BigInteger(), nullable=True),
        sa.Column("satisfaction", ENUM, nullable=True),
        sa.Column("revisited_at", TS, nullable=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("merged_into", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_grievance"),
        sa.UniqueConstraint("number", name="uq_grievance_number"),
        sa.UniqueConstraint("channel", "ref", name="uq_grievance_channel_ref"),
    )
    op.create_index("ix_grievance_state", "grievance", ["state"])
    op.create_index("ix_grievance_accepted_at", "grievance", ["accepted_at"])
    op.create_index("ix_grievance_state_lead_unit", "grievance", ["state", "lead_unit"])
    op.create_table(
        "grievance_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grievance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", ENUM, nullable=False),
        sa.Column("from_state", ENUM, nullable=False),
        sa.Column("to_state", ENUM, nullable=False),
        sa.Column("actor", sa.String(50), nullable=False),
        sa.Column("role", ENUM, nullable=False),
        sa.Column("actor_unit", sa.String(32), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grievance_id"], ["grievance.id"], name="fk_grievance_event_grievance_id_grievance"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_grievance_event"),
        sa.UniqueConstraint("grievance_id", "seq", name="uq_grievance_event_grievance_id_seq"),
    )
    op.create_index("ix_grievance_event_grievance_id", "grievance_event", ["grievance_id"])
    op.create_index("ix_grievance_event_number", "grievance_event", ["number"])
    op.create_table(
        "number_counter",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_number_counter"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("update", "delete"):
            op.execute(APPEND_ONLY_SQLITE.format(op=name, OP=name.upper()))
    elif dialect == "postgresql":
        op.execute(APPEND_ONLY_PG_FUNCTION)
        op.execute(APPEND_ONLY_PG_TRIGGER)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS grievance_event_append_only ON grievance_event")
        op.execute("DROP FUNCTION IF EXISTS grievance_event_append_only()")
    op.drop_table("number_counter")
    op.drop_table("grievance_event")
    op.drop_table("grievance")
    op.drop_table("unit")
