"""SLA timers: one per (target, cycle), advanced by the same records that evolve a case.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record, evolve
from workflow.deadlines import Deadline
from workflow.machine import TABLE, Scope
from workflow.policies import Audience, Clock, Limit, Policy, Target
from workflow.unit_time import UnitCalendar, UnitTime
from workflow.values import replace
from workflow.vocab import Event

ZERO = timedelta(0)
BUREAU = ""  # the calendar id of the bureau's own calendar (a unit's: "ROAD@2")


class TimerState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # suspended: the clock stands still
    MET = "met"  # stopped by its deadline
    BREACHED = "breached"  # the deadline passed while open; stays so when finally stopped
    CANCELLED = "cancelled"  # merged away, or replaced by a new cycle


@dataclass(frozen=True, slots=True)
class Timer:
    target: str
    cycle: int  # 1 for the first run of this target; a redo or a return starts the next
    state: TimerState
    started_at: datetime
    due_at: datetime
    provisional: bool  # the deadline depends on days outside the official calendar
    warn_at: datetime | None = None
    paused_since: datetime | None = None
    paused_total: timedelta = ZERO  # time on the target's clock spent suspended
    extended_days: int = 0
    stopped_at: datetime | None = None  # when it was met (or met late), or cancelled
    breached_at: datetime | None = None  # set once the deadline has passed while open
    late: timedelta = ZERO  # how late, on the target's clock: at the last fired step, or final
    used: timedelta = ZERO  # time on the target's clock from start to stop, pauses excluded
    fired: int = 0  # how many of `steps()` the watchdog has fired
    next_fire_at: datetime | None = None
    calendar: str = BUREAU  # the calendar it counts on: the bureau's, or a unit's ("ROAD@2")

    @property
    def open(self) -> bool:
        return self.stopped_at is None

    @property
    def key(self) -> tuple[str, int]:
        return (self.target, self.cycle)


@dataclass(frozen=True, slots=True)
class FireStep:
    """One moment the watchdog acts on a timer: the warning, the breach, or a ladder rung."""

    index: int
    name: str  # "warning", "breach", or the ladder step's name
    title_zh: str
    at: datetime
    notify: tuple[Audience, ...]


# The lead unit's own work: the events that only its staff (or a supervisor for it) record.
UNIT_EVENTS = frozenset(row.event for row in TABLE if row.scope is not Scope.ANY)


def on_unit_calendar(target: Target) -> bool:
    """Does the target count on the lead unit's calendar? When the unit's own work is what
    stops it: feedback and close do; the desk's assign and revisit stay on the bureau's."""
    return bool(target.stops_on) and target.stops_on <= UNIT_EVENTS


@dataclass(frozen=True)
class Calendars:
    """Every calendar a timer may count on: the bureau's and each unit calendar revision."""

    bureau: BusinessCalendar
    units: Mapping[str, BusinessCalendar] = field(default_factory=dict)  # id -> calendar
    current: Mapping[str, str] = field(default_factory=dict)  # unit code -> its current id

    @classmethod
    def build(
        cls, bureau: BusinessCalendar, revisions: Iterable[tuple[str, int, UnitTime]]
    ) -> Calendars:
        """From every revision of the units' calendars, oldest first: the latest revision of
        each unit is its calendar now (one with nothing of its own: the bureau's)."""
        units: dict[str, BusinessCalendar] = {}
        current: dict[str, str] = {}
        for unit, revision, time in revisions:
            calendar_id = unit_calendar_id(unit, revision)
            if time.empty:
                current[unit] = BUREAU
                continue
            units[calendar_id] = UnitCalendar(bureau, unit, time)
            current[unit] = calendar_id
        return cls(bureau, units, current)

    def of(self, calendar_id: str) -> BusinessCalendar:
        if calendar_id == BUREAU:
            return self.bureau
        try:
            return self.units[calendar_id]
        except KeyError:
            raise KeyError(f"unknown calendar {calendar_id!r}") from None

    def of_unit(self, unit: str | None) -> str:
        """The id of the calendar a unit's timers count on now (BUREAU: none of its own)."""
        return BUREAU if unit is None else self.current.get(unit, BUREAU)

    def describe(self, calendar_id: str) -> str:
        """One line for an explanation: which calendar, and what is its own."""
        calendar = self.of(calendar_id)
        hours = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in calendar.hours.periods)
        if not isinstance(calendar, UnitCalendar):
            return f"calendar: bureau ({hours})"
        own = calendar.time
        parts = [f"hours {hours}" + ("" if own.hours else " (the bureau's)")]
        if own.workdays:
            parts.append("workdays " + ", ".join(d.isoformat() for d in own.workdays))
        if own.rest_days:
            parts.append("rest days " + ", ".join(d.isoformat() for d in own.rest_days))
        return f"calendar: unit {calendar.unit} ({calendar_id}): " + "; ".join(parts)


def unit_calendar_id(unit: str, revision: int) -> str:
    """The id a timer stores for revision `revision` of unit `unit`'s calendar: "ROAD@2"."""
    return f"{unit}@{revision}"


# A plain BusinessCalendar stands for every calendar (the pure tests, `sla plan`).
CalendarLike = BusinessCalendar | Calendars


def _cal(calendar: CalendarLike, calendar_id: str) -> BusinessCalendar:
    return calendar if isinstance(calendar, BusinessCalendar) else calendar.of(calendar_id)


def steps(timer: Timer, target: Target, calendar: CalendarLike) -> list[FireStep]:
    """Every step of the timer in order: yellow card, breach (red card), later rungs."""
    calendar = _cal(calendar, timer.calendar)
    plan: list[tuple[str, str, datetime, tuple[Audience, ...]]] = []
    if timer.warn_at is not None:  # always first, so step indices never shift
        plan.append(("warning", "黄牌预警", min(timer.warn_at, timer.due_at), target.warn_notify))
    ladder = list(target.ladder)
    if not ladder or ladder[0].after is not None:
        plan.append(("breach", "超时", timer.due_at, target.warn_notify))
    for rung in ladder:
        at = (
            timer.due_at
            if rung.after is None
            else rung.after.shift(calendar, timer.due_at, explain=False).at
        )
        plan.append((rung.name, rung.title_zh, at, rung.notify))
    return [
        FireStep(i, name, title, at, notify) for i, (name, title, at, notify) in enumerate(plan)
    ]


def due_steps(
    timer: Timer, target: Target, calendar: CalendarLike, now: datetime
) -> list[FireStep]:
    """The steps of an open, running timer that are due at `now` and not fired yet."""
    if not timer.open or timer.state is TimerState.PAUSED:
        return []
    return [s for s in steps(timer, target, calendar)[timer.fired :] if s.at <= now]


def lateness(timer: Timer, target: Target, calendar: CalendarLike, at: datetime) -> timedelta:
    """How late the timer is at `at`, on its target's clock (zero before the deadline)."""
    if at <= timer.due_at:
        return ZERO
    return _elapsed(target.limit, _cal(calendar, timer.calendar), timer.due_at, at)


def _schedule(timer: Timer, target: Target, calendar: BusinessCalendar) -> Timer:
    """Set `next_fire_at`: the next unfired step of an open, running timer."""
    if not timer.open or timer.state is TimerState.PAUSED:
        return replace(timer, next_fire_at=None)
    pending = steps(timer, target, calendar)[timer.fired :]
    return replace(timer, next_fire_at=pending[0].at if pending else None)


def reschedule(timer: Timer, policy: Policy, calendar: CalendarLike) -> Timer:
    """Recompute `next_fire_at` (after the watchdog fired a step, or the calendar changed)."""
    return _schedule(timer, policy.target(timer.target), _cal(calendar, timer.calendar))


def _warn_at(
    target: Target, calendar: BusinessCalendar, start: datetime, due: datetime
) -> datetime | None:
    warning = target.warning
    if warning is None:
        return None
    natural = target.limit.clock is Clock.NATURAL
    total = due - start if natural else calendar.business_time_between(start, due)
    if warning.share is not None:
        before = total * warning.share
    elif warning.before is not None and warning.before.clock is Clock.WORKING_DAYS:
        day = sum((end - begin for begin, end in _periods(calendar)), ZERO)
        before = day * warning.before.days
    else:
        before = warning.before.span if warning.before is not None else ZERO
    if before >= total:
        return start
    if natural:
        return due - before
    return calendar.add_business_time(start, total - before, explain=False).at


def _periods(calendar: BusinessCalendar) -> list[tuple[timedelta, timedelta]]:
    return [
        (timedelta(hours=s.hour, minutes=s.minute), timedelta(hours=e.hour, minutes=e.minute))
        for s, e in calendar.hours.periods
    ]


def _elapsed(limit: Limit, calendar: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Time on the limit's clock from `a` to `b`, in whole seconds: durations are stored in
    seconds, so a replay of the audit log (times kept to the microsecond) gives what is stored."""
    span = b - a if limit.clock is Clock.NATURAL else calendar.business_time_between(a, b)
    return span - timedelta(microseconds=span.microseconds)


def _push(limit: Limit, calendar: BusinessCalendar, due: datetime, span: timedelta) -> Deadline:
    if limit.clock is Clock.NATURAL:
        return calendar.add_natural_time(due, span, explain=False)
    return calendar.add_business_time(due, span, explain=False)


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
