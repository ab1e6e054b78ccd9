"""Grievance rows <-> cases: a grievance read (locked for a use case, or as an ORM row), its
number, the insert and the compare-and-set update (with their audit event), and the lists and
counts over grievances.

None of these commit: the caller's transaction (`Database.transaction`) is the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    bindparam,
    cast,
    func,
    insert,
    or_,
    text,
    update,
)
from sqlmodel import Session, col, select

from models import prepared
from models.audit_log import insert_event
from models.partial_updates import update_of
from models.prepared import Prepared, bound, params
from models.tables import Grievance
from workflow.case import Case, Record
from workflow.errors import Conflict, NotFound
from workflow.vocab import Channel, State

_CASE_FIELDS = tuple(f.name for f in fields(Case))

# The statements the use cases send on every operation are built once, with bound parameters
# (values are given at execution): SQLAlchemy then skips rebuilding the statement and its
# cache key for each call, which cost more than the database's own work. The writes go
# through the tables' Core constructs (the same column types convert the values).
_GRIEVANCE = Grievance.metadata.tables["grievance"]

_ROW_BY_NUMBER = select(Grievance).where(col(Grievance.number) == bindparam("number"))
_STATE_BY_NUMBER = Prepared(
    select(_GRIEVANCE.c.state).where(_GRIEVANCE.c.number == bindparam("number"))
)
_NUMBER_BY_REF = Prepared(
    select(_GRIEVANCE.c.number).where(
        _GRIEVANCE.c.channel == bindparam("channel", type_=_GRIEVANCE.c.channel.type),
        _GRIEVANCE.c.ref == bindparam("ref"),
    )
)
_NEXT_NUMBER = Prepared(
    text(
        "INSERT INTO number_counter (day, last) VALUES (:day, 1) "
        "ON CONFLICT (day) DO UPDATE SET last = number_counter.last + 1 RETURNING last"
    ).columns(last=Integer)
)
_INSERT_CASE = Prepared(
    insert(_GRIEVANCE)
    .values(bound(_GRIEVANCE, (*_CASE_FIELDS, "version", "created_at", "updated_at")))
    .returning(_GRIEVANCE.c.id)
)
_UPDATE_CASE = Prepared(
    update(_GRIEVANCE)
    .where(_GRIEVANCE.c.id == bindparam("w_id"), _GRIEVANCE.c.version == bindparam("w_version"))
    .values(bound(_GRIEVANCE, (*_CASE_FIELDS, "version", "updated_at")))
)
_UPDATE_VERSION = Prepared(
    update(_GRIEVANCE)
    .where(_GRIEVANCE.c.id == bindparam("w_id"), _GRIEVANCE.c.version == bindparam("w_version"))
    .values(bound(_GRIEVANCE, ("version", "updated_at")))
)


# every field of a case read in one call, in the order of its dataclass: the value object
# is then built positionally (a row is read once or twice per use case)
_CASE_GET = attrgetter(*_CASE_FIELDS)
_CO_UNITS = _CASE_FIELDS.index("co_units")


def case_from_row(row: Grievance | prepared.Row) -> Case:
    values = list(_CASE_GET(row))
    values[_CO_UNITS] = tuple(values[_CO_UNITS] or ())
    return Case(*values)


def _row_values(case: Case) -> dict[str, Any]:
    values = dict(zip(_CASE_FIELDS, _CASE_GET(case), strict=True))
    values["co_units"] = list(case.co_units)
    return values


def get_row(session: Session, number: str) -> Grievance:
    row = session.exec(_ROW_BY_NUMBER, params={"number": number}).first()
    if row is None:
        raise NotFound(f"grievance {number} does not exist")
    return row


# A use case reads the row it is about to change with FOR UPDATE: on PostgreSQL concurrent
# actions on one grievance then queue, as they do on SQLite (BEGIN IMMEDIATE; SQLite's
# dialect leaves the clause out), instead of all but one failing the compare-and-set.
_CASE_BY_NUMBER = Prepared(
    _GRIEVANCE.select().where(_GRIEVANCE.c.number == bindparam("number")).with_for_update()
)


def load_case(session: Session, number: str) -> tuple[int, int, Case]:
    """(row id, version, case) of a grievance, read as plain values (no ORM object: what a
    use case needs to decide, at a fraction of the cost), locked until the transaction ends."""
    row = _CASE_BY_NUMBER.first(session, {"number": number})
    if row is None:
        raise NotFound(f"grievance {number} does not exist")
    return int(row.id), int(row.version), case_from_row(row)


def get_row_by_id(session: Session, grievance_id: int) -> Grievance:
    row = session.get(Grievance, grievance_id)
    if row is None:
        raise NotFound(f"grievance id {grievance_id} does not exist")
    return row


def all_numbers(session: Session) -> list[str]:
    return list(session.exec(select(Grievance.number).order_by(col(Grievance.id))).all())


def state_of(session: Session, number: str) -> State | None:
    value = _STATE_BY_NUMBER.scalar(session, {"number": number})
    return None if value is None else State(value)


def number_by_ref(session: Session, channel: Channel, ref: str) -> str | None:
    found = _NUMBER_BY_REF.scalar(session, {"channel": channel, "ref": ref})
    return None if found is None else str(found)


def next_number(session: Session, day: date) -> str:
    """The next grievance number of the day, e.g. 20261123-0001 (atomic on every engine)."""
    key = day.strftime("%Y%m%d")
    last = _NEXT_NUMBER.scalar(session, {"day": key})
    return f"{key}-{last:04d}"


def insert_case(session: Session, case: Case, record: Record, recorded_at: datetime) -> int:
    """Insert a new grievance and its first audit event; returns the row id."""
    session.flush()  # anything the session holds goes first, as an ORM insert would do
    values = {**_row_values(case), "version": 1, "created_at": recorded_at}
    values["updated_at"] = recorded_at
    row_id = _INSERT_CASE.scalar(session, params(values))
    if row_id is None:
        raise RuntimeError("grievance insert returned no id")
    insert_event(session, int(row_id), 1, record, recorded_at)
    return int(row_id)


def update_case(
    session: Session,
    row_id: int,
    version: int,
    case: Case,
    record: Record,
    recorded_at: datetime,
    before: Case | None = None,
) -> int:
    """Compare-and-set on `version`: raise Conflict if someone else wrote in between.

    With `before` (the case as loaded at `version`), only the columns that differ from it
    are written: the compare-and-set guarantees the others are still as loaded. The session's
    copy of the row is not refreshed (as with `synchronize_session=False`)."""
    session.flush()
    values = _row_values(case)
    statement = _UPDATE_CASE
    if before is not None:
        changed = {
            name: values[name]
            for name, was, now in zip(_CASE_FIELDS, _CASE_GET(before), _CASE_GET(case), strict=True)
            if was is not now and was != now
        }
        statement = update_of(_GRIEVANCE, tuple(changed)) or statement
        values = changed if statement is not _UPDATE_CASE else values
    where = {"w_id": row_id, "w_version": version}
    values |= {"version": version + 1, "updated_at": recorded_at}
    if statement.execute(session, {**where, **params(values)}) != 1:
        raise Conflict(
            f"grievance {case.number} was changed by someone else while you worked on it; "
            "look at it again (`grievance show`) and retry"
        )
    insert_event(session, row_id, version + 1, record, recorded_at)
    return version + 1


def record_system_event(
    session: Session, row_id: int, version: int, record: Record, recorded_at: datetime
) -> int:
    """Append an engine record that changes nothing of the case (a fired SLA step): the same
    compare-and-set on `version` as `update_case`, without rewriting the case's columns."""
    session.flush()
    where = {"w_id": row_id, "w_version": version}
    values = {"v_version": version + 1, "v_updated_at": recorded_at}
    if _UPDATE_VERSION.execute(session, {**where, **values}) != 1:
        raise Conflict(f"grievance {record.number} was changed meanwhile")
    insert_event(session, row_id, version + 1, record, recorded_at)
    return version + 1


def list_rows(
    session: Session,
    *,
    state: State | None = None,
    unit: str | None = None,
    visible_to_unit: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Grievance]:
    query = select(Grievance)
    if state is not None:
        query = query.where(Grievance.state == state)
    if unit is not None:
        query = query.where(Grievance.lead_unit == unit)
    if visible_to_unit is not None:
        query = query.where(visible_to(visible_to_unit))
    query = query.order_by(col(Grievance.accepted_at), col(Grievance.id))
    return session.exec(query.limit(limit).offset(offset)).all()


def names_co_unit(unit: str) -> ColumnElement[bool]:
    """The grievance's co-handling units (a JSON list) include `unit`. Unit codes hold no
    '%' or '\\', but '_' is a LIKE wildcard: escaped, so U_1 does not match UX1."""
    pattern = '%"' + unit.replace("_", "\\_") + '"%'
    return cast(Grievance.co_units, String).like(pattern, escape="\\")


def visible_to(unit: str) -> ColumnElement[bool]:
    """The grievances a unit's staff may see: those the unit leads, co-handles or first
    handled."""
    return or_(
        col(Grievance.lead_unit) == unit,
        col(Grievance.first_handler_unit) == unit,
        names_co_unit(unit),
    )


def count_by_state(session: Session) -> dict[State, int]:
    rows = session.exec(select(Grievance.state, func.count()).group_by(col(Grievance.state))).all()
    return {State(state): count for state, count in rows}


def rows_by_id(session: Session, ids: Iterable[int]) -> dict[int, Grievance]:
    wanted = list(ids)
    rows = session.exec(select(Grievance).where(col(Grievance.id).in_(wanted))).all()
    return {row.id: row for row in rows if row.id is not None}


_PLAIN_CASE = Prepared(
    select(_GRIEVANCE.c.number, _GRIEVANCE.c.version, _GRIEVANCE.c.lead_unit).where(
        _GRIEVANCE.c.id == bindparam("id")
    )
)


def case_label(session: Session, grievance_id: int) -> tuple[str, int, str | None] | None:
    """(number, version, lead unit) of a grievance, read as plain text and integers: what a
    report about a grievance that cannot be processed needs, even if its other columns are
    unreadable."""
    row = _PLAIN_CASE.first(session, {"id": grievance_id})
    if row is None:
        return None
    return str(row.number), int(row.version), row.lead_unit
