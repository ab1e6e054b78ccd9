"""Repository functions: rows <-> domain objects, and the few queries the use cases need.

None of these commit: the caller's transaction (`Database.transaction`) is the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, or_, text, update
from sqlmodel import Session, col, select

from models.tables import CalendarDay, Grievance, GrievanceEvent, SlaTimer, Unit
from workflow.actor import Actor
from workflow.calendar import Overrides
from workflow.case import Case, Record
from workflow.errors import Conflict, Duplicate, NotFound
from workflow.sla import Timer
from workflow.vocab import Channel, State

_CASE_FIELDS = tuple(f.name for f in fields(Case))


def case_from_row(row: Grievance) -> Case:
    values: dict[str, Any] = {name: getattr(row, name) for name in _CASE_FIELDS}
    values["co_units"] = tuple(values["co_units"] or ())
    return Case(**values)


def _row_values(case: Case) -> dict[str, Any]:
    values = {name: getattr(case, name) for name in _CASE_FIELDS}
    values["co_units"] = list(case.co_units)
    return values


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


def get_row(session: Session, number: str) -> Grievance:
    row = session.exec(select(Grievance).where(Grievance.number == number)).first()
    if row is None:
        raise NotFound(f"grievance {number} does not exist")
    return row


def get_row_by_id(session: Session, grievance_id: int) -> Grievance:
    row = session.get(Grievance, grievance_id)
    if row is None:
        raise NotFound(f"grievance id {grievance_id} does not exist")
    return row


def all_numbers(session: Session) -> list[str]:
    return list(session.exec(select(Grievance.number).order_by(col(Grievance.id))).all())


def state_of(session: Session, number: str) -> State | None:
    value = session.exec(select(Grievance.state).where(Grievance.number == number)).first()
    return None if value is None else State(value)


def number_by_ref(session: Session, channel: Channel, ref: str) -> str | None:
    query = select(Grievance.number).where(Grievance.channel == channel, Grievance.ref == ref)
    return session.exec(query).first()


def next_number(session: Session, day: date) -> str:
    """The next grievance number of the day, e.g. 20261123-0001 (atomic on every engine)."""
    key = day.strftime("%Y%m%d")
    last = (
        session.connection()
        .execute(
            text(
                "INSERT INTO number_counter (day, last) VALUES (:day, 1) "
                "ON CONFLICT (day) DO UPDATE SET last = number_counter.last + 1 RETURNING last"
            ),
            {"day": key},
        )
        .scalar_one()
    )
    return f"{key}-{last:04d}"


def _event_row(
    grievance_id: int, seq: int, record: Record, recorded_at: datetime
) -> GrievanceEvent:
    return GrievanceEvent(
        grievance_id=grievance_id,
        number=record.number,
        seq=seq,
        event=record.event,
        from_state=record.from_state,
        to_state=record.to_state,
        actor=record.actor.name,
        role=record.actor.role,
        actor_unit=record.actor.unit,
        at=record.at,
        recorded_at=recorded_at,
        payload=record.payload,
    )


def insert_case(session: Session, case: Case, record: Record, recorded_at: datetime) -> int:
    """Insert a new grievance and its first audit event; returns the row id."""
    row = Grievance(**_row_values(case), version=1, created_at=recorded_at, updated_at=recorded_at)
    session.add(row)
    session.flush()
    if row.id is None:
        raise RuntimeError("grievance insert returned no id")
    session.add(_event_row(row.id, 1, record, recorded_at))
    session.flush()
    return row.id


def update_case(
    session: Session, row_id: int, version: int, case: Case, record: Record, recorded_at: datetime
) -> int:
    """Compare-and-set on `version`: raise Conflict if someone else wrote in between."""
    result = session.exec(
        update(Grievance)
        .where(col(Grievance.id) == row_id, col(Grievance.version) == version)
        .values(**_row_values(case), version=version + 1, updated_at=recorded_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            f"grievance {case.number} was changed by someone else while you worked on it; "
            "look at it again (`grievance show`) and retry"
        )
    session.add(_event_row(row_id, version + 1, record, recorded_at))
    session.flush()
    return version + 1


def events_of(session: Session, number: str) -> list[GrievanceEvent]:
    query = select(GrievanceEvent).where(GrievanceEvent.number == number)
    return list(session.exec(query.order_by(col(GrievanceEvent.seq))).all())


def record_system_event(
    session: Session, row_id: int, version: int, record: Record, recorded_at: datetime
) -> int:
    """Append an engine record that changes nothing of the case (a fired SLA step): the same
    compare-and-set on `version` as `update_case`, without rewriting the case's columns."""
    result = session.exec(
        update(Grievance)
        .where(col(Grievance.id) == row_id, col(Grievance.version) == version)
        .values(version=version + 1, updated_at=recorded_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"grievance {record.number} was changed meanwhile")
    session.add(_event_row(row_id, version + 1, record, recorded_at))
    return version + 1


def events_since(session: Session, grievance_id: int, seq: int) -> list[GrievanceEvent]:
    """The audit events of a grievance after version `seq`."""
    query = select(GrievanceEvent).where(
        GrievanceEvent.grievance_id == grievance_id, col(GrievanceEvent.seq) > seq
    )
    return list(session.exec(query.order_by(col(GrievanceEvent.seq))).all())


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
        query = query.where(
            or_(
                col(Grievance.lead_unit) == visible_to_unit,
                col(Grievance.first_handler_unit) == visible_to_unit,
                cast(Grievance.co_units, String).like(f'%"{visible_to_unit}"%'),
            )
        )
    query = query.order_by(col(Grievance.accepted_at), col(Grievance.id))
    return session.exec(query.limit(limit).offset(offset)).all()


def count_by_state(session: Session) -> dict[State, int]:
    rows = session.exec(select(Grievance.state, func.count()).group_by(col(Grievance.state))).all()
    return {State(state): count for state, count in rows}


def missing_units(session: Session, codes: Iterable[str]) -> frozenset[str]:
    wanted = set(codes)
    if not wanted:
        return frozenset()
    found = session.exec(select(Unit.code).where(col(Unit.code).in_(wanted))).all()
    return frozenset(wanted - set(found))


def add_unit(
    session: Session,
    *,
    code: str,
    name: str,
    at: datetime,
    by: str,
    notify: Sequence[str] = (),
    supervisor_notify: Sequence[str] = (),
) -> Unit:
    if session.exec(select(Unit.id).where(Unit.code == code)).first() is not None:
        raise Duplicate(f"unit {code} already exists")
    unit = Unit(
        code=code,
        name=name,
        created_at=at,
        created_by=by,
        notify=list(notify),
        supervisor_notify=list(supervisor_notify),
    )
    session.add(unit)
    session.flush()
    return unit


def set_unit_targets(
    session: Session, *, code: str, notify: Sequence[str], supervisor_notify: Sequence[str]
) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"unit {code} does not exist")
    unit.notify, unit.supervisor_notify = list(notify), list(supervisor_notify)
    session.add(unit)
    session.flush()
    return unit


def list_units(session: Session) -> Sequence[Unit]:
    return session.exec(select(Unit).order_by(col(Unit.code))).all()


# ----------------------------------------------------------------------------- SLA timers
_DURATIONS = {"paused_total": "paused_seconds", "late": "late_seconds", "used": "used_seconds"}
_TIMER_FIELDS = tuple(f.name for f in fields(Timer) if f.name not in _DURATIONS)


def timer_from_row(row: SlaTimer) -> Timer:
    values: dict[str, Any] = {name: getattr(row, name) for name in _TIMER_FIELDS}
    for name, column in _DURATIONS.items():
        values[name] = timedelta(seconds=getattr(row, column))
    return Timer(**values)


def timers_of(session: Session, grievance_id: int) -> list[SlaTimer]:
    query = select(SlaTimer).where(SlaTimer.grievance_id == grievance_id)
    return list(session.exec(query.order_by(col(SlaTimer.target), col(SlaTimer.cycle))).all())


def rows_by_id(session: Session, ids: Iterable[int]) -> dict[int, Grievance]:
    wanted = list(ids)
    rows = session.exec(select(Grievance).where(col(Grievance.id).in_(wanted))).all()
    return {row.id: row for row in rows if row.id is not None}


def timers_of_many(session: Session, ids: Iterable[int]) -> dict[int, list[SlaTimer]]:
    """The timers of several grievances at once, each list ordered like `timers_of`."""
    wanted = list(ids)
    result: dict[int, list[SlaTimer]] = {i: [] for i in wanted}
    query = (
        select(SlaTimer)
        .where(col(SlaTimer.grievance_id).in_(wanted))
        .order_by(col(SlaTimer.grievance_id), col(SlaTimer.target), col(SlaTimer.cycle))
    )
    for timer in session.exec(query).all():
        result[timer.grievance_id].append(timer)
    return result


def save_timers(
    session: Session,
    grievance_id: int,
    number: str,
    old: Sequence[SlaTimer],
    timers: Iterable[Timer],
) -> None:
    """Insert new timers and update the ones that changed (each row's version goes up)."""
    rows = {(row.target, row.cycle): row for row in old}
    for timer in timers:
        values = {name: getattr(timer, name) for name in _TIMER_FIELDS}
        for name, column in _DURATIONS.items():
            values[column] = int(getattr(timer, name).total_seconds())
        row = rows.get(timer.key)
        if row is None:
            session.add(SlaTimer(grievance_id=grievance_id, number=number, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.version += 1
    session.flush()


def due_timers(
    session: Session, now: datetime, limit: int, exclude: Iterable[int] = (), lock: bool = False
) -> list[SlaTimer]:
    """Timers with a step due at `now`, soonest first (the `next_fire_at` index; never a scan
    of open grievances). With `lock` (PostgreSQL), the rows are locked FOR UPDATE SKIP LOCKED,
    so concurrent watchdogs share the work instead of queueing on the same rows."""
    query = select(SlaTimer).where(col(SlaTimer.next_fire_at) <= now)
    skipped = list(exclude)
    if skipped:
        query = query.where(col(SlaTimer.id).not_in(skipped))
    query = query.order_by(col(SlaTimer.next_fire_at), col(SlaTimer.id)).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def overdue_by_target(session: Session, now: datetime) -> dict[str, int]:
    """Open timers past their deadline at `now`, counted per target."""
    query = (
        select(SlaTimer.target, func.count())
        .where(col(SlaTimer.stopped_at).is_(None), col(SlaTimer.due_at) < now)
        .group_by(col(SlaTimer.target))
    )
    return {target: count for target, count in session.exec(query).all()}


def grievance_ids_due_from(session: Session, since: datetime) -> list[int]:
    """Grievances a calendar change from `since` on can move: a timer still open, or one due
    at or after `since` (the indexed columns keep this off a full scan of history)."""
    query = (
        select(SlaTimer.grievance_id)
        .where(or_(col(SlaTimer.stopped_at).is_(None), col(SlaTimer.due_at) >= since))
        .distinct()
    )
    return sorted(session.exec(query).all())


# ----------------------------------------------------------------------------- calendar
def calendar_overrides(session: Session) -> Overrides:
    rows = session.exec(select(CalendarDay)).all()
    return Overrides(
        holidays={r.day: r.name for r in rows if not r.working},
        workdays={r.day: r.name for r in rows if r.working},
    )


def store_calendar(
    session: Session, overrides: Overrides, *, source: str, at: datetime, by: str
) -> int:
    """Add or replace the stored override of every date in `overrides`; returns how many."""
    count = 0
    for working, days in ((False, overrides.holidays), (True, overrides.workdays)):
        for day, name in days.items():
            row = session.get(CalendarDay, day)
            if row is None:
                row = CalendarDay(
                    day=day, working=working, name=name, source=source, loaded_at=at, loaded_by=by
                )
                session.add(row)
            else:
                row.working, row.name, row.source = working, name, source
                row.loaded_at, row.loaded_by = at, by
            count += 1
    session.flush()
    return count
