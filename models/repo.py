"""Repository functions: rows <-> domain objects, and the few queries the use cases need.

None of these commit: the caller's transaction (`Database.transaction`) is the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models import prepared
from models.prepared import Prepared, bound, params
from models.tables import (
    Grievance,
    GrievanceEvent,
    PolicyVersion,
    SlaTimer,
    Unit,
    UnitCalendarRevision,
)
from workflow.actor import Actor
from workflow.case import Case, Record
from workflow.errors import Conflict, Duplicate, NotFound
from workflow.timers import Timer
from workflow.vocab import Channel, State

_CASE_FIELDS = tuple(f.name for f in fields(Case))

# The statements the use cases send on every operation are built once, with bound parameters
# (values are given at execution): SQLAlchemy then skips rebuilding the statement and its
# cache key for each call, which cost more than the database's own work. The writes go
# through the tables' Core constructs (the same column types convert the values).
_TABLES = Grievance.metadata.tables
_GRIEVANCE, _EVENT, _TIMER = _TABLES["grievance"], _TABLES["grievance_event"], _TABLES["sla_timer"]


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
)
_INSERT_EVENT = Prepared(insert(_EVENT).values(bound(_EVENT, _EVENT_COLUMNS)))
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
_UNIT_EXISTS = Prepared(
    select(_TABLES["unit"].c.id).where(_TABLES["unit"].c.code == bindparam("code"))
)


# every field of a case (or a timer) read in one call, in the order of its dataclass: the
# value objects are then built positionally (a row is read once or twice per use case)
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


def _insert_event(
    session: Session, grievance_id: int, seq: int, record: Record, recorded_at: datetime
) -> None:
    """Append one audit event row (written at once, in the caller's transaction)."""
    values = {
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
    }
    _INSERT_EVENT.execute(session, params(values))


def insert_case(session: Session, case: Case, record: Record, recorded_at: datetime) -> int:
    """Insert a new grievance and its first audit event; returns the row id."""
    session.flush()  # anything the session holds goes first, as an ORM insert would do
    values = {**_row_values(case), "version": 1, "created_at": recorded_at}
    values["updated_at"] = recorded_at
    row_id = _INSERT_CASE.scalar(session, params(values))
    if row_id is None:
        raise RuntimeError("grievance insert returned no id")
    _insert_event(session, int(row_id), 1, record, recorded_at)
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
        statement = _update_of(_GRIEVANCE, tuple(changed)) or statement
        values = changed if statement is not _UPDATE_CASE else values
    where = {"w_id": row_id, "w_version": version}
    values |= {"version": version + 1, "updated_at": recorded_at}
    if statement.execute(session, {**where, **params(values)}) != 1:
        raise Conflict(
            f"grievance {case.number} was changed by someone else while you worked on it; "
            "look at it again (`grievance show`) and retry"
        )
    _insert_event(session, row_id, version + 1, record, recorded_at)
    return version + 1


# An UPDATE per table and set of changed columns (an event changes a few, and always the same
# few: a sign sets state, last_event_at, signed_at and first_handler_unit), each prepared
# once. The sets are few; past the cap (never seen), the caller writes every column.
_UPDATES: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_UPDATES_CAP = 256


def _update_of(table: Any, columns: tuple[str, ...]) -> Prepared | None:
    """UPDATE of `columns` and the row's version, where id = w_id (and, for a grievance,
    version = w_version: the compare-and-set)."""
    key = (table.name, columns)
    statement = _UPDATES.get(key)
    if statement is None and len(_UPDATES) < _UPDATES_CAP:
        where = [table.c.id == bindparam("w_id")]
        if table is _GRIEVANCE:
            where.append(table.c.version == bindparam("w_version"))
        extra = ("version", "updated_at") if table is _GRIEVANCE else ("version",)
        statement = _UPDATES[key] = Prepared(
            update(table).where(*where).values(bound(table, (*columns, *extra)))
        )
    return statement


_EVENTS_OF = (
    select(GrievanceEvent)
    .where(col(GrievanceEvent.number) == bindparam("number"))
    .order_by(col(GrievanceEvent.seq))
)


def events_of(session: Session, number: str) -> list[GrievanceEvent]:
    return list(session.exec(_EVENTS_OF, params={"number": number}).all())


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
    _insert_event(session, row_id, version + 1, record, recorded_at)
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
                names_co_unit(visible_to_unit),
            )
        )
    query = query.order_by(col(Grievance.accepted_at), col(Grievance.id))
    return session.exec(query.limit(limit).offset(offset)).all()


def names_co_unit(unit: str) -> ColumnElement[bool]:
    """The grievance's co-handling units (a JSON list) include `unit`. Unit codes hold no
    '%' or '\\', but '_' is a LIKE wildcard: escaped, so U_1 does not match UX1."""
    pattern = '%"' + unit.replace("_", "\\_") + '"%'
    return cast(Grievance.co_units, String).like(pattern, escape="\\")


def count_by_state(session: Session) -> dict[State, int]:
    rows = session.exec(select(Grievance.state, func.count()).group_by(col(Grievance.state))).all()
    return {State(state): count for state, count in rows}


def missing_units(session: Session, codes: Iterable[str]) -> frozenset[str]:
    # one indexed lookup per code (an assignment names one to a few units): a prepared
    # statement each, cheaper than one IN (...) that is compiled again for every count
    return frozenset(c for c in set(codes) if _UNIT_EXISTS.first(session, {"code": c}) is None)


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
_TIMER_COLUMNS = (*_TIMER_FIELDS, *_DURATIONS.values())
_TIMERS_OF = (
    select(SlaTimer)
    .where(col(SlaTimer.grievance_id) == bindparam("grievance_id"))
    .order_by(col(SlaTimer.target), col(SlaTimer.cycle))
)
_INSERT_TIMER = Prepared(
    insert(_TIMER).values(bound(_TIMER, ("grievance_id", "number", *_TIMER_COLUMNS)))
)
_UPDATE_TIMER = Prepared(
    update(_TIMER)
    .where(_TIMER.c.id == bindparam("w_id"))
    .values(bound(_TIMER, (*_TIMER_COLUMNS, "version")))
)


# a timer's fields in its dataclass's order, durations read from their seconds columns
_TIMER_ORDER = tuple(f.name for f in fields(Timer))
_TIMER_GET = attrgetter(*(_DURATIONS.get(name, name) for name in _TIMER_ORDER))
_DURATION_AT = tuple(_TIMER_ORDER.index(name) for name in _DURATIONS)


def timer_from_row(row: SlaTimer | prepared.Row) -> Timer:
    values = list(_TIMER_GET(row))
    for i in _DURATION_AT:
        values[i] = timedelta(seconds=values[i])
    return Timer(*values)


def timers_of(session: Session, grievance_id: int) -> list[SlaTimer]:
    return list(session.exec(_TIMERS_OF, params={"grievance_id": grievance_id}).all())


_TIMER_ROWS_OF = Prepared(
    _TIMER.select()
    .where(_TIMER.c.grievance_id == bindparam("grievance_id"))
    .order_by(_TIMER.c.target, _TIMER.c.cycle)
)


def timer_rows_of(session: Session, grievance_id: int) -> list[prepared.Row]:
    """`timers_of` as plain rows (read-only values, no ORM objects), for `save_timers`."""
    return _TIMER_ROWS_OF.rows(session, {"grievance_id": grievance_id})


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
    old: Sequence[SlaTimer | prepared.Row],
    timers: Iterable[Timer],
    stored: Sequence[Timer] = (),
) -> None:
    """Insert new timers and update the ones that changed (each row's version goes up).

    `old` are the grievance's stored timers, as ORM objects (`timers_of`) or plain rows
    (`timer_rows_of`). Written at once with Core statements; ORM objects among `old` are
    given the values written, so later reads in the same session see them. `stored` may
    give the timers read from `old` (`timer_from_row`): one of those passed back as it is
    (`sla.advance` returns a timer a record left alone unchanged) is skipped unread."""
    session.flush()
    rows = {(row.target, row.cycle): row for row in old}
    kept = {id(timer) for timer in stored}
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[SlaTimer | prepared.Row, dict[str, Any]]] = []
    for timer in timers:
        if id(timer) in kept:
            continue
        values = {name: getattr(timer, name) for name in _TIMER_FIELDS}
        for name, column in _DURATIONS.items():
            values[column] = int(getattr(timer, name).total_seconds())
        row = rows.get(timer.key)
        if row is None:
            inserts.append({"grievance_id": grievance_id, "number": number, **values})
            continue
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if changed:  # only what changed is written (all of it past the statements' cap)
            written = changed if _update_of(_TIMER, tuple(changed)) is not None else values
            updates.append((row, {**written, "version": row.version + 1}))
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, values in updates:
        columns = tuple(name for name in values if name != "version")
        by_columns.setdefault(columns, []).append({"w_id": row.id, **params(values)})
    for columns, many in by_columns.items():
        statement = _update_of(_TIMER, columns)
        (statement or _UPDATE_TIMER).execute_many(session, many)
    for row, values in updates:
        if isinstance(row, SlaTimer):
            for name, value in values.items():
                set_committed_value(row, name, value)
    if inserts:
        _INSERT_TIMER.execute_many(session, [params(values) for values in inserts])


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


def due_timer_ids(
    session: Session, now: datetime, limit: int, exclude: Iterable[int] = (), lock: bool = False
) -> list[tuple[int, int]]:
    """`due_timers` as (timer id, grievance id) pairs: integers only, so a timer row whose
    other columns do not convert (a corrupted value) cannot fail the query for the rest."""
    query = select(SlaTimer.id, SlaTimer.grievance_id).where(col(SlaTimer.next_fire_at) <= now)
    skipped = list(exclude)
    if skipped:
        query = query.where(col(SlaTimer.id).not_in(skipped))
    query = query.order_by(col(SlaTimer.next_fire_at), col(SlaTimer.id)).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [
        (timer_id, grievance_id)
        for timer_id, grievance_id in session.exec(query)
        if timer_id is not None
    ]


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


def timer_names(session: Session, ids: Iterable[int]) -> list[str]:
    """'close#1' for each timer id (target and cycle read as plain values), sorted."""
    wanted = list(ids)
    query = select(_TIMER.c.target, _TIMER.c.cycle).where(_TIMER.c.id.in_(wanted))
    return sorted(f"{target}#{cycle}" for target, cycle in session.execute(query))


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


# ----------------------------------------------------------------------------- unit calendars
def unit_calendars(session: Session) -> Sequence[UnitCalendarRevision]:
    """Every revision of every unit's calendar, oldest first per unit."""
    query = select(UnitCalendarRevision).order_by(
        col(UnitCalendarRevision.unit_code), col(UnitCalendarRevision.revision)
    )
    return session.exec(query).all()


def latest_unit_calendar(session: Session, code: str) -> UnitCalendarRevision | None:
    query = (
        select(UnitCalendarRevision)
        .where(col(UnitCalendarRevision.unit_code) == code)
        .order_by(col(UnitCalendarRevision.revision).desc())
    )
    return session.exec(query).first()


def add_unit_calendar(
    session: Session,
    *,
    code: str,
    hours: str | None,
    workdays: dict[str, str],
    rest_days: dict[str, str],
    source: str,
    at: datetime,
    by: str,
) -> UnitCalendarRevision:
    """Append the next revision of a unit's calendar (earlier ones stay: timers name them)."""
    latest = latest_unit_calendar(session, code)
    row = UnitCalendarRevision(
        unit_code=code,
        revision=1 if latest is None else latest.revision + 1,
        hours=hours,
        workdays=workdays,
        rest_days=rest_days,
        source=source,
        created_at=at,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def grievance_ids_led_with_open_timers(session: Session, unit: str) -> list[int]:
    """Grievances whose lead unit is `unit` and that have a timer still open."""
    query = (
        select(SlaTimer.grievance_id)
        .join(Grievance, col(Grievance.id) == col(SlaTimer.grievance_id))
        .where(col(Grievance.lead_unit) == unit, col(SlaTimer.stopped_at).is_(None))
        .distinct()
    )
    return sorted(session.exec(query).all())


# ----------------------------------------------------------------------------- policies
def policy_versions(session: Session) -> list[PolicyVersion]:
    """Every stored policy version (a few rows: one per version ever used)."""
    query = select(PolicyVersion).order_by(col(PolicyVersion.name), col(PolicyVersion.version))
    return list(session.exec(query).all())


def policy_version(session: Session, name: str, version: int) -> PolicyVersion | None:
    query = select(PolicyVersion).where(
        col(PolicyVersion.name) == name, col(PolicyVersion.version) == version
    )
    return session.exec(query).first()


def policy_names_in_use(session: Session) -> list[str]:
    """The policy versions the grievances name ("2142@1"): one pass over the grievances,
    for the one-off backfill of a database upgraded to `policy_version`."""
    query = select(Grievance.policy).distinct().order_by(col(Grievance.policy))
    return list(session.exec(query).all())


def store_policy_version(
    session: Session,
    *,
    name: str,
    version: int,
    sha256: str,
    definition: str,
    source: str,
    at: datetime,
) -> str:
    """Store a policy version unless one of that (name, version) is stored already (also by
    a concurrent transaction); returns the hash of the one stored, for the caller to compare."""
    existing = policy_version(session, name, version)
    if existing is None:
        row = PolicyVersion(
            name=name,
            version=version,
            sha256=sha256,
            definition=definition,
            source=source[:200],
            stored_at=at,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return sha256
        except IntegrityError:  # stored meanwhile by another transaction: read that one
            existing = policy_version(session, name, version)
            if existing is None:
                raise
    return existing.sha256
