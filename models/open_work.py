"""The work open now: overdue and due timers (the digests' lists), the SLA board's counts and
its running timers, the units leading open grievances.

The lists (`overdue_list`, `due_between`) read open timers by deadline through the
(stopped_at, due_at) index and stop at their limit; they are of the moment (every open timer),
not of a cohort.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from models.tables import Grievance, SlaTimer
from workflow.calendar import BusinessCalendar
from workflow.errors import InvalidInput
from workflow.machine import OPEN_STATES
from workflow.measures import Overdue
from workflow.policies import Clock
from workflow.policy_versions import Registry
from workflow.timers import Timer, TimerState

_g, _t = Grievance, SlaTimer


def _open_timers(unit: str | None) -> Any:
    query = (
        select(
            col(_g.number),
            col(_t.target),
            col(_t.cycle),
            col(_g.lead_unit),
            col(_g.category),
            col(_t.due_at),
            col(_g.policy),
        )
        .select_from(_t)
        .join(_g, col(_g.id) == col(_t.grievance_id))
        .where(col(_t.stopped_at).is_(None), col(_t.state) != TimerState.PAUSED)
    )
    if unit is not None:
        query = query.where(col(_g.lead_unit) == unit)
    return query


def _natural(policies: Registry, policy: str, target: str) -> bool:
    """Is the target's limit on the natural clock? (Unknown policies: business time.)"""
    try:
        return policies.get(policy).target(target).limit.clock is Clock.NATURAL
    except (InvalidInput, KeyError):
        return False


def overdue_list(
    session: Session,
    as_of: datetime,
    calendar: BusinessCalendar,
    policies: Registry,
    *,
    unit: str | None = None,
    limit: int = 500,
) -> list[Overdue]:
    """Open, not paused timers past their deadline at `as_of` (of the unit it names), most
    late first. Lateness is on the target's clock: business time, or natural time for a
    natural-clock limit (urgent grievances). The `limit` earliest deadlines are read."""
    query = (
        _open_timers(unit)
        .where(col(_t.due_at) < as_of)
        .order_by(col(_t.due_at), col(_t.id))
        .limit(limit)
    )
    result = []
    for number, target, cycle, lead, category, due_at, policy in session.connection().execute(
        query
    ):
        if _natural(policies, policy, target):
            late = as_of - due_at
        else:
            late = calendar.business_time_between(due_at, as_of)
        result.append(
            Overdue(number, target, cycle, lead, str(category), due_at, int(late.total_seconds()))
        )
    result.sort(key=lambda o: (-o.late_seconds, o.due_at, o.number, o.target, o.cycle))
    return result


def due_between(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    unit: str | None = None,
    limit: int = 500,
) -> list[Overdue]:
    """Open, not paused timers due in [start, end), soonest first (late_seconds 0): the
    daily reminder's "due today" and "due soon"."""
    query = (
        _open_timers(unit)
        .where(col(_t.due_at) >= start, col(_t.due_at) < end)
        .order_by(col(_t.due_at), col(_t.id))
        .limit(limit)
    )
    return [
        Overdue(number, target, cycle, lead, str(category), due_at, 0)
        for number, target, cycle, lead, category, due_at, _policy in session.connection().execute(
            query
        )
    ]


def sla_board(
    session: Session, as_of: datetime, today_end: datetime, soon_end: datetime
) -> list[tuple[str | None, int, int, int]]:
    """Per lead unit (None: not assigned yet): open, running timers overdue at `as_of`, due
    before `today_end`, and due before `soon_end`. One grouped query: what the SLA board
    showed before it listed every timer (`running_timers`); `bench.sla_board`'s reference."""
    t, g = SlaTimer, Grievance
    running = and_(col(t.stopped_at).is_(None), col(t.state) != TimerState.PAUSED)
    due = col(t.due_at)
    query = (
        select(
            col(g.lead_unit),
            func.sum(case((due < as_of, 1), else_=0)),
            func.sum(case((and_(due >= as_of, due < today_end), 1), else_=0)),
            func.sum(case((and_(due >= today_end, due < soon_end), 1), else_=0)),
        )
        .join(g, col(g.id) == col(t.grievance_id))
        .where(running, due < soon_end)
        .group_by(col(g.lead_unit))
        .order_by(col(g.lead_unit))
    )
    rows = session.connection().execute(query).all()
    return [(unit, int(a or 0), int(b or 0), int(c or 0)) for unit, a, b, c in rows]


_TIMER = SlaTimer.metadata.tables["sla_timer"]


def running_timers(session: Session) -> list[tuple[str, str | None, str, Timer]]:
    """Every running timer (open and not paused: running, or breached and still open) with
    its grievance's number, lead unit and policy, by deadline: one query through the
    (stopped_at, due_at) index, the grievances joined by primary key. Only the columns the
    board needs are read (the timers carry no pause, lateness or firing counts). What the SLA
    board shows; it grows with the open work, never with the grievances ever accepted."""
    return [
        (
            number,
            lead_unit,
            str(policy),
            Timer(
                target=target,
                cycle=cycle,
                state=state,
                started_at=started_at,
                due_at=due_at,
                provisional=bool(provisional),
                warn_at=warn_at,
                calendar=calendar,
            ),
        )
        for (
            number,
            lead_unit,
            policy,
            target,
            cycle,
            state,
            started_at,
            due_at,
            provisional,
            warn_at,
            calendar,
        ) in session.connection().execute(running_query())
    ]


def running_query() -> Any:
    """The statement of `running_timers` (its plan is checked by the tests)."""
    t = _TIMER.c
    return (
        select(
            t.number,
            col(_g.lead_unit),
            col(_g.policy),
            t.target,
            t.cycle,
            t.state,
            t.started_at,
            t.due_at,
            t.provisional,
            t.warn_at,
            t.calendar,
        )
        .join(_g, col(_g.id) == t.grievance_id)
        .where(t.stopped_at.is_(None), t.state.in_([TimerState.RUNNING, TimerState.BREACHED]))
        .order_by(t.due_at)
    )


def units_with_open_work(session: Session) -> list[str]:
    """Units leading at least one open grievance (`workflow.machine.OPEN_STATES`: assigned,
    returned, handling, suspended; a grievance returned to the desk keeps its lead unit and
    its running timers until it is reassigned), sorted."""
    query = (
        select(col(_g.lead_unit))
        .where(col(_g.state).in_(OPEN_STATES), col(_g.lead_unit).is_not(None))
        .distinct()
        .order_by(col(_g.lead_unit))
    )
    return [str(unit) for unit in session.connection().execute(query).scalars() if unit is not None]


__all__ = ["due_between", "overdue_list", "running_timers", "sla_board", "units_with_open_work"]
