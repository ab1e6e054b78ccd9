"""The audit chain: each audit event's hash and its predecessor's, the seals that chain the
grievances' heads bureau-wide (append-only), anchors, verifications. The events already
stored are chained once, in order; seal 1 records when the chain began.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime
from workflow.audit_chain import GENESIS, SEAL_EVENTS, Link, heads_of, seal_hash

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
GRIEVANCES_PER_BATCH = 500

EVENT_TRIGGERS_SQLITE = """
CREATE TRIGGER grievance_event_no_{op} BEFORE {OP} ON grievance_event
BEGIN SELECT RAISE(ABORT, 'grievance_event is append-only: {op} refused'); END
"""
EVENT_TRIGGER_PG = """
CREATE TRIGGER grievance_event_append_only BEFORE UPDATE OR DELETE ON grievance_event
FOR EACH ROW EXECUTE FUNCTION grievance_event_append_only()
"""
SEAL_TRIGGER_SQLITE = """
CREATE TRIGGER audit_seal_no_{op} BEFORE {OP} ON audit_seal
BEGIN SELECT RAISE(ABORT, 'audit_seal is append-only: {op} refused'); END
"""
SEAL_FUNCTION_PG = """
CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_seal is append-only: % refused', lower(TG_OP); END;
$$ LANGUAGE plpgsql
"""
SEAL_TRIGGER_PG = """
CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only()
"""

_events = sa.table(
    "grievance_event",
    sa.column("id", sa.Integer()),
    sa.column("grievance_id", sa.Integer()),
    sa.column("number", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("event", sa.String()),
    sa.column("from_state", sa.String()),
    sa.column("to_state", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("role", sa.String()),
    sa.column("actor_unit", sa.String()),
    sa.column("at", UTCDateTime()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("payload", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
_seals = sa.table(
    "audit_seal",
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
    sa.column("after_event_id", sa.BigInteger()),
    sa.column("through_event_id", sa.BigInteger()),
    sa.column("events", sa.Integer()),
    sa.column("heads", sa.JSON()),
    sa.column("sealed_at", UTCDateTime()),
    sa.column("note", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("grievance_event") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "audit_seal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("after_event_id", sa.BigInteger(), nullable=False),
        sa.Column("through_event_id", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("sealed_at", TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_seal"),
        sa.UniqueConstraint("hash", name="uq_audit_seal_hash"),
    )
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("anchored_at", TS, nullable=False),
        sa.Column("anchored_by", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["audit_seal.id"], name="fk_audit_anchor_seal_id_audit_seal"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_anchor"),
    )
    op.create_table(
        "audit_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("through_event_id", sa.BigInteger(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=True),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("incremental", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_check"),
    )
    dialect = op.get_bind().dialect.name
    _set_event_triggers(dialect, on=False)
    _chain_existing()
    _set_event_triggers(dialect, on=True)
    _seal_existing()
    if dialect == "sqlite":
        for name in ("update", "delete"):
            op.execute(SEAL_TRIGGER_SQLITE.format(op=name, OP=name.upper()))
    elif dialect == "postgresql":
        op.execute(SEAL_FUNCTION_PG)
        op.execute(SEAL_TRIGGER_PG)


def _set_event_triggers(dialect: str, *, on: bool) -> None:
    """The append-only triggers of 0001, lifted while the existing events get their hashes."""
    if dialect == "sqlite":
        for name in ("update", "delete"):
            if on:
                op.execute(EVENT_TRIGGERS_SQLITE.format(op=name, OP=name.upper()))
            else:
                op.execute(f"DROP TRIGGER IF EXISTS grievance_event_no_{name}")
    elif dialect == "postgresql":
        if on:
            op.execute(EVENT_TRIGGER_PG)
        else:
            op.execute("DROP TRIGGER IF EXISTS grievance_event_append_only ON grievance_event")


def _chain_existing() -> None:
    """Every stored event chained, grievance by grievance, in seq order."""
    bind = op.get_bind()
    ids = [
        int(i)
        for (i,) in bind.execute(
            sa.select(_events.c.grievance_id).distinct().order_by(_events.c.grievance_id)
        )
    ]
    update = (
        _events.update()
        .where(_events.c.id == sa.bindparam("w_id"))
        .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h"))
    )
    for start in range(0, len(ids), GRIEVANCES_PER_BATCH):
        batch = ids[start : start + GRIEVANCES_PER_BATCH]
        rows = bind.execute(
            sa.select(_events)
            .where(_events.c.grievance_id.in_(batch))
            .order_by(_events.c.grievance_id, _events.c.seq)
        ).all()
        changes: list[dict[str, Any]] = []
        last_grievance, prev = None, GENESIS
        for row in rows:
            if row.grievance_id != last_grievance:
                last_grievance, prev = row.grievance_id, GENESIS
            digest = Link.of(row, prev_hash=prev).hash()
            changes.append({"w_id": row.id, "p": prev, "h": digest})
            prev = digest
        if changes:
            bind.execute(update, changes)


def _seal_existing() -> None:
    """Seal 1 (and more, `SEAL_EVENTS` events each): the chain began now, over the events
    stored before it."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    prev, after, sealed, first = GENESIS, 0, 0, True
    while True:
        rows = bind.execute(
            sa.select(_events.c.id, _events.c.number, _events.c.seq, _events.c.hash)
            .where(_events.c.id > after)
            .order_by(_events.c.id)
            .limit(SEAL_EVENTS)
        ).all()
        if not rows and not first:
            break
        through = int(rows[-1].id) if rows else 0
        heads = heads_of((r.number, int(r.seq), r.hash) for r in rows)
        digest = seal_hash(prev, after, through, len(rows), heads)
        total = sealed + len(rows)
        note = (
            f"the chain began: {total} event(s) stored before migration 0016 chained"
            if first
            else None
        )
        bind.execute(
            _seals.insert().values(
                prev_hash=prev,
                hash=digest,
                after_event_id=after,
                through_event_id=through,
                events=len(rows),
                heads=[h.as_list() for h in heads],
                sealed_at=now,
                note=note,
            )
        )
        prev, after, sealed, first = digest, through, total, False
        if len(rows) < SEAL_EVENTS:
            break


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_seal")
        op.execute("DROP FUNCTION IF EXISTS audit_seal_append_only()")
    op.drop_table("audit_check")
    op.drop_table("audit_anchor")
    op.drop_table("audit_seal")
    with op.batch_alter_table("grievance_event") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    # SQLite's batch mode copies the table and drops it: its triggers go with it
    if dialect == "sqlite":
        _set_event_triggers(dialect, on=False)
        _set_event_triggers(dialect, on=True)
