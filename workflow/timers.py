"""SLA timers as data, one per (target, cycle), and the steps the watchdog fires on one: the
warning (黄牌), the breach (红牌) and the ladder's later rungs; how late a timer is, when its
next step falls (`next_fire_at`), and time on a target's clock (business or natural).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from workflow.calendar import BusinessCalendar
from workflow.deadlines import Deadline
from workflow.policies import Audience, Clock, Limit, Policy, Target
from workflow.sla_calendars import BUREAU, CalendarLike, _cal
from workflow.values import replace

ZERO = timedelta(0)


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
