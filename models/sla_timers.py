"""SLA timer rows <-> timers: read (per grievance, several at once, due at an instant), saved
(only what changed is written; none of these commits), and the few counts over them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models import prepared
from models.partial_updates import update_of
from models.prepared import Prepared, bound, params
from models.tables import Grievance, SlaTimer
from workflow.timers import Timer

_TIMER = Grievance.metadata.tables["sla_timer"]
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
            written = changed if update_of(_TIMER, tuple(changed)) is not None else values
            updates.append((row, {**written, "version": row.version + 1}))
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, values in updates:
        columns = tuple(name for name in values if name != "version")
        by_columns.setdefault(columns, []).append({"w_id": row.id, **params(values)})
    for columns, many in by_columns.items():
        statement = update_of(_TIMER, columns)
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


def grievance_ids_led_with_open_timers(session: Session, unit: str) -> list[int]:
    """Grievances whose lead unit is `unit` and that have a timer still open."""
    query = (
        select(SlaTimer.grievance_id)
        .join(Grievance, col(Grievance.id) == col(SlaTimer.grievance_id))
        .where(col(Grievance.lead_unit) == unit, col(SlaTimer.stopped_at).is_(None))
        .distinct()
    )
    return sorted(session.exec(query).all())
