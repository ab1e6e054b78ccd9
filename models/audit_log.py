"""The audit log: grievance_event rows appended in the caller's transaction (none of these
commits), each chained to the one before (`workflow.audit_chain`), and read back as the
domain's records."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, insert
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.prepared import Prepared, bound, params
from models.tables import Grievance, GrievanceEvent
from workflow.actor import Actor
from workflow.audit_chain import GENESIS, Link
from workflow.case import Record
from workflow.vocab import Event

_EVENT = Grievance.metadata.tables["grievance_event"]
_EVENT_COLUMNS = (
    "grievance_id",
    "number",
    "seq",
    "event",
    "from_state",
    "to_state",
    "actor",
    "role",
    "actor_unit",
    "at",
    "recorded_at",
    "payload",
    "prev_hash",
    "hash",
)
_INSERT_EVENT = Prepared(insert(_EVENT).values(bound(_EVENT, _EVENT_COLUMNS)))


def record_from_event(event: GrievanceEvent) -> Record:
    return Record(
        number=event.number,
        event=event.event,
        from_state=event.from_state,
        to_state=event.to_state,
        at=event.at,
        actor=Actor(name=event.actor, role=event.role, unit=event.actor_unit),
        payload=dict(event.payload),
    )


_PREV_HASH = Prepared(
    core_select(_EVENT.c.hash).where(
        _EVENT.c.grievance_id == bindparam("grievance_id"), _EVENT.c.seq == bindparam("seq")
    )
)


def prev_hash(session: Session, grievance_id: int, seq: int) -> str:
    """The hash the event `seq` links to: its predecessor's (GENESIS for the first)."""
    if seq <= 1:
        return GENESIS
    found = _PREV_HASH.scalar(session, {"grievance_id": grievance_id, "seq": seq - 1})
    return GENESIS if found is None else str(found)


def insert_event(
    session: Session, grievance_id: int, seq: int, record: Record, recorded_at: datetime
) -> None:
    """Append one audit event row, chained to the one before (written at once, in the
    caller's transaction: the grievance's row is locked, so the one before is its last)."""
    values: dict[str, object] = {
        "grievance_id": grievance_id,
        "number": record.number,
        "seq": seq,
        "event": record.event,
        "from_state": record.from_state,
        "to_state": record.to_state,
        "actor": record.actor.name,
        "role": record.actor.role,
        "actor_unit": record.actor.unit,
        "at": record.at,
        "recorded_at": recorded_at,
        "payload": record.payload,
        "prev_hash": prev_hash(session, grievance_id, seq),
    }
    values["hash"] = Link.of(SimpleNamespace(**values)).hash()
    _INSERT_EVENT.execute(session, params(values))


_EVENTS_OF = (
    select(GrievanceEvent)
    .where(col(GrievanceEvent.number) == bindparam("number"))
    .order_by(col(GrievanceEvent.seq))
)


def events_of(session: Session, number: str) -> list[GrievanceEvent]:
    return list(session.exec(_EVENTS_OF, params={"number": number}).all())


_MERGES_INTO = (
    select(GrievanceEvent)
    .join(Grievance, col(Grievance.id) == col(GrievanceEvent.grievance_id))
    .where(
        col(Grievance.merged_into) == bindparam("number"),
        col(GrievanceEvent.event) == Event.MERGE,
    )
    .order_by(col(GrievanceEvent.at), col(GrievanceEvent.number))
)


def merges_into(session: Session, number: str) -> list[GrievanceEvent]:
    """The 并单 events of the duplicates merged into grievance `number`, oldest first."""
    return list(session.exec(_MERGES_INTO, params={"number": number}).all())


def events_since(session: Session, grievance_id: int, seq: int) -> list[GrievanceEvent]:
    """The audit events of a grievance after version `seq`."""
    query = select(GrievanceEvent).where(
        GrievanceEvent.grievance_id == grievance_id, col(GrievanceEvent.seq) > seq
    )
    return list(session.exec(query.order_by(col(GrievanceEvent.seq))).all())


def attach_events(session: Session, grievance_id: int) -> list[GrievanceEvent]:
    """The 上传证据 events of a grievance (its attachments), oldest first."""
    query = select(GrievanceEvent).where(
        GrievanceEvent.grievance_id == grievance_id,
        col(GrievanceEvent.event) == Event.ATTACH,
    )
    return list(session.exec(query.order_by(col(GrievanceEvent.seq))).all())


def attachment_events(session: Session) -> list[GrievanceEvent]:
    """Every 上传证据 event (for `audit verify`), in id order."""
    query = select(GrievanceEvent).where(col(GrievanceEvent.event) == Event.ATTACH)
    return list(session.exec(query.order_by(col(GrievanceEvent.id))).all())
