"""The counts of a period's cohort per group (unit, category, channel) and the measures made
of them: the SQL behind the measures and the digests' tables.

Every function aggregates in the database (GROUP BY, COUNT(*) FILTER (WHERE ...), a join
to `sla_timer`) and hands back a handful of rows per group, never one Python object per
grievance of the cohort; `workflow.measures` turns the counts into rates. Instants may be in
any zone: they are compared as instants (the column type stores UTC).

The definitions, where `workflow.measures` leaves room (see its table for the rest):

- **cohort**: grievances with `accepted_at` in [start, end) and a state other than `merged`
  (a merged duplicate is the same grievance counted once, under the grievance it joined).
- **closed** (closed at least once): `closed_at` is set, or the grievance is in a later cycle
  (`cycle > 1`: a redo clears `closed_at`, but it was closed before). Revisited and reviewed
  grievances always have `closed_at`, so no state test is needed.
- **resolved**, **no_fault** (result `no_fault` or `unsubstantiated`), **revisited**,
  **satisfied** read the grievance's current `result` and
  `satisfaction`, i.e. the current cycle's close and revisit (a redo clears both): a redone
  grievance still handling counts as closed but neither resolved nor revisited, and the
  dissatisfied answer that led to the redo is replaced by the next cycle's answer.
- **assign_done / assign_met**: the assign timer of cycle 1 only (the first assignment).
  Done when stopped as `met` or `breached` (a cancelled timer is not done), or still open and
  either `breached` or past its deadline at `as_of`; met when its state is `met`.
- **close_done / close_met / used_seconds**: close timers of every cycle stopped by a close
  (`met` or `breached` with `stopped_at` set; cancelled ones are not counted).
- **overdue**: timers of cohort grievances, any target and cycle, still open
  (`stopped_at` null), not paused, with `due_at` before `as_of` (a grievance with two late
  timers counts twice: the figure counts timers, like the overdue list).
- **amounts**: sums with NULL as 0.

Unit grouping uses `lead_unit` (the unit leading it now); a cohort grievance never assigned
has the key None. The `first_handler` grouping uses `first_handler_unit`, the unit that signed
first and stays accountable (首办负责); None for a grievance no unit signed yet.
- **first_handled / stayed / first_contact**: signed by a unit; still led by the unit that
  signed first; resolved at the first pass (current result `resolved` in cycle 1, and
  `return_count` and `reassign_count` both 0). Timer targets are the built-in policies' names (`assign`, `close`). The
counts are of the rows as stored now: `as_of` only decides what is past due, so a report
"as of" an earlier instant still sees later closes.

How: one statement per period. Its inner level folds each cohort grievance and its timers
into one row (a left join grouped by grievance in `accepted_at` index order: no sort); its
outer level sums those rows per group. Every count is additive, so `measures_by` and
`counts_by` count the cells of several groupings (unit x category...) once and sum them per
grouping in Python, over a few hundred cells: a bulletin needs one pass, not one per grouping.
SQLite has no hash aggregation, so each GROUP BY sorts its input: the grouping is done on one
row per grievance, never on the joined timer rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import Session, col

from models.cohort import (
    ASSIGN,
    CLOSE,
    SHANGHAI,
    Key,
    count_if,
    finished,
    grievance_conditions,
    in_cohort,
    instant,
    rows_by_key,
)
from models.tables import Grievance, SlaTimer
from workflow.errors import InvalidInput
from workflow.measures import Counts, Measures, Period
from workflow.timers import TimerState

GROUPINGS = ("unit", "category", "channel", "first_handler")

_g, _t = Grievance, SlaTimer
_DIMENSIONS: dict[str, Any] = {
    "unit": col(_g.lead_unit),
    "category": col(_g.category),
    "channel": col(_g.channel),
    "first_handler": col(_g.first_handler_unit),  # the unit that signed first (首办单位)
}
_COUNT_FIELDS = tuple(f.name for f in fields(Counts) if f.name != "key")


def _dimensions(by: str | None) -> tuple[str, ...]:
    if by is None:
        return ()
    if by not in _DIMENSIONS:
        raise InvalidInput(f"cannot group by {by!r}: use one of {', '.join(GROUPINGS)} or None")
    return (by,)


def _dimensions_of(bys: Sequence[str | None]) -> tuple[str, ...]:
    """The grid's dimensions that serve every grouping of `bys` (checked), in a fixed order."""
    wanted = {d for by in bys for d in _dimensions(by)}
    return tuple(d for d in GROUPINGS if d in wanted)


def _grievance_amounts() -> dict[str, ColumnElement[Any]]:
    """Per grievance, the amounts read from its own row (NULL counts as 0), by `Counts` field."""
    return {
        "amount_fen": func.coalesce(col(_g.amount_fen), 0),
        "recovered_fen": func.coalesce(col(_g.recovered_fen), 0),
    }


def _grievance_flags() -> list[ColumnElement[Any]]:
    """Per grievance, the facts read from its own row as values (labels are `Counts` fields)."""
    return [
        *(_flag(c).label(name) for name, c in grievance_conditions().items()),
        *(amount.label(name) for name, amount in _grievance_amounts().items()),
    ]


def _timer_sums(as_of: datetime) -> list[ColumnElement[Any]]:
    """Sums over the timer rows of a statement, per grievance in `_summed` (labels are
    `Counts` fields)."""
    is_open = col(_t.stopped_at).is_(None)
    is_finished = finished()
    first_assign = and_(col(_t.target) == ASSIGN, col(_t.cycle) == 1)
    assign_done = and_(
        first_assign,
        or_(
            is_finished,
            and_(is_open, or_(col(_t.state) == TimerState.BREACHED, col(_t.due_at) < as_of)),
        ),
    )
    close_done = and_(col(_t.target) == CLOSE, is_finished)
    return [
        count_if(assign_done).label("assign_done"),
        count_if(and_(first_assign, col(_t.state) == TimerState.MET)).label("assign_met"),
        count_if(close_done).label("close_done"),
        count_if(and_(close_done, col(_t.state) == TimerState.MET)).label("close_met"),
        func.sum(col(_t.used_seconds)).filter(close_done).label("used_seconds"),
        count_if(and_(is_open, col(_t.state) != TimerState.PAUSED, col(_t.due_at) < as_of)).label(
            "overdue"
        ),
    ]


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """CASE WHEN condition THEN 1 ELSE 0 END."""
    return case((condition, 1), else_=0)


def _grid(
    session: Session, start: datetime, end: datetime, as_of: datetime, dims: Sequence[str]
) -> dict[Key, dict[str, int]]:
    """Every count per combination of `dims`, in one statement of two levels."""
    return _grid_by(session, start, end, as_of, [_DIMENSIONS[d] for d in dims])


def _summed(
    start: datetime,
    end: datetime,
    as_of: datetime,
    keys: Sequence[ColumnElement[Any]],
) -> Any:
    """The statement of `_grid_by`: every count per combination of the `keys` expressions,
    in two levels.

    The inner level folds each cohort grievance and its timers into one row (a left join
    grouped by grievance, in the order of the `accepted_at` index, so it needs no sort); the
    outer level sums those rows per group. Joining first and grouping by unit directly would
    count a grievance's own facts once per timer, and sort four times as many rows.
    """
    labelled = [key.label(f"k{i}") for i, key in enumerate(keys)]
    per_grievance = (
        select(*labelled, *_grievance_flags(), *_timer_sums(as_of))
        .select_from(_g)
        .outerjoin(_t, col(_t.grievance_id) == col(_g.id))
        .where(in_cohort(start, end))
        .group_by(col(_g.accepted_at), col(_g.id))
        .subquery()
    )
    c = per_grievance.c
    group = [c[f"k{i}"] for i in range(len(keys))]
    summed = [func.sum(c[name]).label(name) for name in _COUNT_FIELDS if name != "accepted"]
    query = select(*group, func.count().label("accepted"), *summed)
    return query.group_by(*group) if group else query


def _grid_by(
    session: Session,
    start: datetime,
    end: datetime,
    as_of: datetime,
    keys: Sequence[ColumnElement[Any]],
) -> dict[Key, dict[str, int]]:
    """Every count per combination of the `keys` expressions, in one statement (`_summed`)."""
    return rows_by_key(
        session, _summed(start, end, as_of, keys), [str(i) for i in range(len(keys))]
    )


def _sort_key(key: str | None) -> tuple[bool, str]:
    return (key is None, key or "")


def _roll_up(
    grid: Mapping[Key, Mapping[str, int]], dims: Sequence[str], by: str | None
) -> list[Counts]:
    """Sum the grid's cells into the groups of `by` (every count is additive)."""
    index = None if by is None else list(dims).index(by)
    totals: dict[str | None, dict[str, int]] = {}
    if by is None:
        totals[None] = {}
    for key, values in grid.items():
        group = None if index is None else key[index]
        bucket = totals.setdefault(group, {})
        for name, value in values.items():
            bucket[name] = bucket.get(name, 0) + value
    return [
        Counts(group, **{name: totals[group].get(name, 0) for name in _COUNT_FIELDS})
        for group in sorted(totals, key=_sort_key)
    ]


def counts(
    session: Session, start: datetime, end: datetime, as_of: datetime, by: str | None = None
) -> list[Counts]:
    """The counts of the cohort accepted in [start, end), seen at `as_of`, per group of `by`
    (None, "unit", "category", "channel"), sorted by key with None last. With `by=None`,
    exactly one Counts (key None), all zeros for an empty cohort."""
    dims = _dimensions(by)
    return _roll_up(_grid(session, start, end, as_of, dims), dims, by)


def counts_by(
    session: Session,
    start: datetime,
    end: datetime,
    as_of: datetime,
    bys: Iterable[str | None],
) -> dict[str | None, list[Counts]]:
    """`counts` for several groupings from one pass over the cohort: the cells of every
    grouping asked for are counted in SQL once, then summed per grouping (a bulletin asks
    for units, categories and the total of the same month)."""
    wanted = list(dict.fromkeys(bys))
    dims = _dimensions_of(wanted)
    grid = _grid(session, start, end, as_of, dims)
    return {by: _roll_up(grid, dims, by) for by in wanted}


def _accepted(
    session: Session, start: datetime, end: datetime, dims: Sequence[str]
) -> dict[Key, int]:
    """The cohort's size per combination of `dims` (the previous period's volume)."""
    keys = [_DIMENSIONS[d].label(f"k{i}") for i, d in enumerate(dims)]
    query = select(*keys, func.count().label("accepted")).where(in_cohort(start, end))
    if keys:
        query = query.group_by(*(_DIMENSIONS[d] for d in dims))
    return {key: values["accepted"] for key, values in rows_by_key(session, query, dims).items()}


def measures_by(
    session: Session,
    period: Period,
    as_of: datetime,
    bys: Iterable[str | None],
    tz: ZoneInfo = SHANGHAI,
) -> dict[str | None, list[Measures]]:
    """`measures` for several groupings at once (one pass per period, see `counts_by`)."""
    wanted = list(dict.fromkeys(bys))
    dims = _dimensions_of(wanted)
    start, end = instant(period.start, tz), instant(period.end, tz)
    grid = _grid(session, start, end, as_of, dims)
    before = period.previous()
    previous = _accepted(session, instant(before.start, tz), instant(before.end, tz), dims)
    result: dict[str | None, list[Measures]] = {}
    for by in wanted:
        index = None if by is None else dims.index(by)
        earlier: dict[str | None, int] = {}
        for key, accepted in previous.items():
            group = None if index is None else key[index]
            earlier[group] = earlier.get(group, 0) + accepted
        result[by] = [
            Measures(c.key, c, previous_accepted=earlier.get(c.key, 0))
            for c in _roll_up(grid, dims, by)
        ]
    return result


def measures(
    session: Session,
    period: Period,
    as_of: datetime,
    by: str | None = None,
    tz: ZoneInfo = SHANGHAI,
) -> list[Measures]:
    """The measures of the period's cohort (the period's local dates in `tz`), per group,
    each with the previous period's cohort size of the same key (0 if it had none). Only
    the keys of this period are listed."""
    return measures_by(session, period, as_of, [by], tz)[by]


__all__ = ["GROUPINGS", "counts", "counts_by", "measures", "measures_by"]
