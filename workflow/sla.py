"""SLA timers through the lifecycle: advanced by the same records that evolve a case,
rebuilt from an audit log, with notes on why; and planning (the deadlines a grievance
accepted at a given time would get). The timer and its steps are `workflow.timers`; which
calendar a timer counts on, `workflow.sla_calendars`.

`advance` is the only way a timer changes in response to the lifecycle; `rebuild` folds a
whole audit log through it, so stored timers can always be checked against their history.
Pure: the calendar and policy are arguments, every instant comes from a record.

Which calendar: a timer the lead unit's own work stops (feedback, close) counts on the
unit's calendar once the engine has moved it there, which it records in the audit log as a
重算时限 naming the calendar ("ROAD@2": revision 2 of unit ROAD's); every other timer, and
every timer until then, counts on the bureau calendar. `rebuild` reads those records first,
so a replay puts each timer on the calendar the log gives it, from its start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record, evolve
from workflow.deadlines import Deadline
from workflow.policies import Policy, Target
from workflow.sla_calendars import BUREAU, CalendarLike, Calendars, _cal
from workflow.timers import (
    ZERO,
    Timer,
    TimerState,
    _elapsed,
    _push,
    _schedule,
    _warn_at,
    lateness,
)
from workflow.values import replace
from workflow.vocab import Event

Notes = dict[tuple[str, int], list[str]]


def _when(calendar: BusinessCalendar, at: datetime) -> str:
    return at.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M")


def _start(
    target: Target,
    cycle: int,
    at: datetime,
    calendars: CalendarLike,
    notes: Notes | None,
    calendar_id: str = BUREAU,
) -> Timer:
    calendar = _cal(calendars, calendar_id)
    deadline = target.limit.deadline(calendar, at, explain=notes is not None)
    if notes is not None:
        which = [calendars.describe(calendar_id)] if isinstance(calendars, Calendars) else []
        notes[(target.name, cycle)] = [
            f"{target.name} ({target.title_zh}) cycle {cycle}: {target.limit.text}",
            *which,
            *deadline.explain(),
        ]
    timer = Timer(
        target=target.name,
        cycle=cycle,
        state=TimerState.RUNNING,
        started_at=at,
        due_at=deadline.at,
        provisional=deadline.provisional,
        calendar=calendar_id,
    )
    return _schedule(
        replace(timer, warn_at=_warn_at(target, calendar, at, deadline.at)), target, calendar
    )


def _note(notes: Notes | None, timer: Timer, text: str) -> None:
    if notes is not None:
        notes.setdefault(timer.key, []).append(text)


def _resume(
    timer: Timer, target: Target, at: datetime, calendar: BusinessCalendar, notes: Notes | None
) -> Timer:
    if timer.paused_since is None:
        return timer
    paused = _elapsed(target.limit, calendar, timer.paused_since, at)
    moved = _push(target.limit, calendar, timer.due_at, paused)
    _note(
        notes,
        timer,
        f"suspended {_when(calendar, timer.paused_since)} to {_when(calendar, at)}: "
        f"{paused} added; deadline moves to {_when(calendar, moved.at)}",
    )
    return replace(
        timer,
        state=TimerState.BREACHED if timer.breached_at is not None else TimerState.RUNNING,
        paused_since=None,
        paused_total=timer.paused_total + paused,
        due_at=moved.at,
        provisional=timer.provisional or moved.provisional,
        warn_at=None
        if timer.warn_at is None
        else _push(target.limit, calendar, timer.warn_at, paused).at,
    )


def advance(
    timers: Iterable[Timer],
    record: Record,
    before: Case | None,
    policy: Policy,
    calendars: CalendarLike,
    notes: Notes | None = None,
    *,
    start_on: Mapping[tuple[str, int], str] | None = None,
) -> tuple[Timer, ...]:
    """The timers after `record` happened to a case that looked like `before`.

    Each timer counts on its own calendar (`Timer.calendar`, looked up in `calendars`); a new
    one starts on the bureau calendar unless `start_on` names another for its key."""
    at, event = record.at, record.event
    result: list[Timer] = []
    for timer in timers:
        if not timer.open:
            result.append(timer)
            continue
        untouched = timer
        target = policy.target(timer.target)
        calendar = _cal(calendars, timer.calendar)
        if event is Event.RECALCULATE and notes is not None:
            p = record.payload
            if (p["target"], p["cycle"]) == timer.key and p.get("calendar") is not None:
                _note(
                    notes,
                    timer,
                    f"put on calendar {p['calendar'] or 'bureau'} at {_when(calendar, at)} "
                    f"({p['reason']}); counted on it from its start",
                )
        if event in target.cancels_on or event in target.starts_on:
            why = "merged" if event is Event.MERGE else f"replaced by a new cycle ({event.value})"
            _note(notes, timer, f"cancelled at {_when(calendar, at)}: {why}")
            timer = replace(timer, state=TimerState.CANCELLED, stopped_at=at, paused_since=None)
        elif event is Event.SLA_STEP:
            if (record.payload["target"], record.payload["cycle"]) == timer.key:
                timer = _fired(timer, record, calendar, notes)
        elif event in target.stops_on:
            timer = _resume(timer, target, at, calendar, notes)
            late = at > timer.due_at
            # Effective time decides: a stop recorded as of before the deadline is on time,
            # even if the watchdog already fired the breach (that record stays in the log).
            timer = replace(
                timer,
                stopped_at=at,
                state=TimerState.BREACHED if late else TimerState.MET,
                breached_at=timer.due_at if late else None,
                late=lateness(timer, target, calendar, at),
                used=max(
                    _elapsed(target.limit, calendar, timer.started_at, at) - timer.paused_total,
                    ZERO,
                ),
            )
            _note(
                notes,
                timer,
                f"{'met late' if late else 'met'} at {_when(calendar, at)} by {event.value}",
            )
        elif event is Event.SUSPEND and target.pauses:
            timer = replace(timer, state=TimerState.PAUSED, paused_since=at)
        elif event is Event.RESUME and target.pauses:
            timer = _resume(timer, target, at, calendar, notes)
        elif event is Event.APPROVE_EXTENSION and target.extends and before is not None:
            days = before.pending_extension_days or 0
            moved = calendar.add_working_days(timer.due_at, days, explain=False)
            _note(
                notes,
                timer,
                f"extension of {days} working day(s) approved at "
                f"{_when(calendar, at)}; deadline moves to {_when(calendar, moved.at)}",
            )
            timer = replace(
                timer,
                due_at=moved.at,
                extended_days=timer.extended_days + days,
                provisional=timer.provisional or moved.provisional,
                breached_at=None if moved.at > at else timer.breached_at,
                late=ZERO if moved.at > at else timer.late,
                state=TimerState.PAUSED
                if timer.state is TimerState.PAUSED
                else TimerState.RUNNING
                if moved.at > at
                else timer.state,
            )
        # a timer the record left alone keeps its next step (scheduled when it last changed,
        # on the calendar of the time; a calendar change recalculates every timer it moves)
        result.append(timer if timer is untouched else _schedule(timer, target, calendar))
    for target in policy.targets:
        if event in target.starts_on:
            cycle = 1 + max((t.cycle for t in result if t.target == target.name), default=0)
            on = BUREAU if start_on is None else start_on.get((target.name, cycle), BUREAU)
            result.append(_start(target, cycle, at, calendars, notes, on))
    return tuple(result)


def _fired(timer: Timer, record: Record, calendar: BusinessCalendar, notes: Notes | None) -> Timer:
    """The timer after the watchdog fired step `record.payload["step"]` of it."""
    p = record.payload
    _note(notes, timer, f"{p['title']} ({p['name']}) fired at {_when(calendar, record.at)}")
    timer = replace(timer, fired=max(timer.fired, int(p["step"]) + 1))
    if record.at < timer.due_at:
        return timer
    return replace(
        timer,
        state=TimerState.BREACHED if timer.state is TimerState.RUNNING else timer.state,
        breached_at=timer.breached_at or timer.due_at,
        late=max(timer.late, timedelta(seconds=int(p["late_seconds"]))),
    )


def timer_calendars(records: Iterable[Record]) -> dict[tuple[str, int], str]:
    """The calendar the log puts each timer on: the last 重算时限 naming one for it."""
    found: dict[tuple[str, int], str] = {}
    for record in records:
        if record.event is Event.RECALCULATE and record.payload.get("calendar") is not None:
            p = record.payload
            found[(str(p["target"]), int(p["cycle"]))] = str(p["calendar"])
    return found


def rebuild(
    records: Iterable[Record],
    policy: Policy,
    calendar: CalendarLike,
    notes: Notes | None = None,
) -> tuple[Timer, ...]:
    """Timers from the audit log alone (and the policy and calendars): each timer counts on
    the calendar the log puts it on (`timer_calendars`) from its start."""
    log = list(records)
    start_on = timer_calendars(log)
    timers: tuple[Timer, ...] = ()
    case: Case | None = None
    for record in log:
        timers = advance(timers, record, case, policy, calendar, notes, start_on=start_on)
        case = evolve(case, record)
    return timers


@dataclass(frozen=True, slots=True)
class Plan:
    policy: Policy
    deadlines: dict[str, Deadline]

    @property
    def provisional(self) -> bool:
        return any(d.provisional for d in self.deadlines.values())


def plan(
    policy: Policy,
    calendar: BusinessCalendar,
    accepted_at: datetime,
    closed_at: datetime | None = None,
) -> Plan:
    """The deadlines a grievance accepted (and perhaps closed) at these instants would get."""
    deadlines: dict[str, Deadline] = {}
    for target in policy.targets:
        if Event.ACCEPT in target.starts_on:
            deadlines[target.name] = target.limit.deadline(calendar, accepted_at)
        elif Event.CLOSE in target.starts_on and closed_at is not None:
            deadlines[target.name] = target.limit.deadline(calendar, closed_at)
    return Plan(policy, deadlines)
