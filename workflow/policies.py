"""Time-limit policies: what one is (clocks and limits, warnings, the escalation ladder, the
targets) and the built-in ones: 2142 (default), 2252, 2152 and urgent. Custom policies come
from TOML (`workflow.policy_toml`); the versions a deployment knows, and the canonical JSON
each is stored as, are in `workflow.policy_versions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from workflow.calendar import BusinessCalendar
from workflow.deadlines import Deadline
from workflow.errors import InvalidInput
from workflow.vocab import Event


class Clock(StrEnum):
    BUSINESS = "business"  # business hours on working days
    NATURAL = "natural"  # clock time: nights, weekends and holidays count
    WORKING_DAYS = "working_days"  # to close of business of the n-th working day after


class Audience(StrEnum):
    """Who hears about a warning or an escalation step."""

    DESK = "desk"  # the grievance desk (dispatchers)
    UNIT = "unit"  # the lead unit's handlers
    SUPERVISOR = "supervisor"  # the lead unit's supervisor
    LEADERSHIP = "leadership"  # bureau leadership (督办)


@dataclass(frozen=True, slots=True)
class Limit:
    """An amount of time on a clock: `2h` business, `4wd` working days, `30m` natural..."""

    clock: Clock
    span: timedelta = timedelta(0)  # business or natural time
    days: int = 0  # working days

    def __post_init__(self) -> None:
        if self.clock is Clock.WORKING_DAYS and self.days < 1:
            raise InvalidInput("a working-day limit needs at least 1 day")
        if self.clock is not Clock.WORKING_DAYS and self.span < timedelta(0):
            raise InvalidInput("a time limit cannot be negative")

    def deadline(
        self, calendar: BusinessCalendar, start: datetime, *, explain: bool = True
    ) -> Deadline:
        """The deadline from `start`; `explain=False` leaves out the reasons (same instant)."""
        if self.clock is Clock.WORKING_DAYS:
            return calendar.end_of_working_day(start, self.days, explain=explain)
        if self.clock is Clock.NATURAL:
            return calendar.add_natural_time(start, self.span, explain=explain)
        return calendar.add_business_time(start, self.span, explain=explain)

    def shift(
        self, calendar: BusinessCalendar, moment: datetime, *, explain: bool = True
    ) -> Deadline:
        """`moment` moved later by this amount (ladder steps after a breach)."""
        if self.clock is Clock.WORKING_DAYS:
            return calendar.add_working_days(moment, self.days, explain=explain)
        return self.deadline(calendar, moment, explain=explain)

    @property
    def text_zh(self) -> str:
        """1个工作日 / 2小时（工作时间） / 30分钟（自然时间）."""
        if self.clock is Clock.WORKING_DAYS:
            return f"{self.days}个工作日"
        minutes = int(self.span.total_seconds() // 60)
        hours, rest = divmod(minutes, 60)
        amount = (f"{hours}小时" if hours else "") + (f"{rest}分钟" if rest else "")
        kind = "工作时间" if self.clock is Clock.BUSINESS else "自然时间"
        return f"{amount or '0分钟'}（{kind}）"

    @property
    def text(self) -> str:
        if self.clock is Clock.WORKING_DAYS:
            return f"{self.days} working day{'s' if self.days != 1 else ''}"
        minutes = int(self.span.total_seconds() // 60)
        amount = f"{minutes // 60}h{minutes % 60:02d}m" if minutes % 60 else f"{minutes // 60}h"
        return f"{amount} {self.clock.value}"


@dataclass(frozen=True, slots=True)
class Warning:
    """When the yellow card comes: a share of the time, or an amount, before the deadline."""

    share: float | None = None  # e.g. 0.25: when a quarter of the time is left
    before: Limit | None = None  # e.g. 1 working day before

    def __post_init__(self) -> None:
        if (self.share is None) == (self.before is None):
            raise InvalidInput("a warning needs exactly one of: a share, or a time before")
        if self.share is not None and not 0 < self.share < 1:
            raise InvalidInput("a warning share must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One rung of the escalation ladder, counted from the breach."""

    name: str  # e.g. "red_card", "supervision"
    title_zh: str  # e.g. 红牌, 督办
    after: Limit | None  # None: at the breach itself
    notify: tuple[Audience, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One time limit of a policy and the events that start, stop, pause and extend it."""

    name: str  # assign, feedback, close, revisit (or a custom name)
    title_zh: str
    limit: Limit
    starts_on: frozenset[Event]  # each of these starts a new cycle of the timer
    stops_on: frozenset[Event]  # the timer is met (or met late)
    cancels_on: frozenset[Event] = frozenset({Event.MERGE})
    pauses: bool = False  # suspension (挂起) stops the clock
    extends: bool = False  # an approved extension moves the deadline by working days
    warning: Warning | None = None
    warn_notify: tuple[Audience, ...] = (Audience.UNIT,)
    ladder: tuple[LadderStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    title: str
    targets: tuple[Target, ...]
    max_extensions: int = 1
    source: str = "built-in"
    # Hold notifications to people until the next opening (not at 3 a.m. or on a holiday).
    notify_in_business_hours: bool = True

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)


# ----------------------------------------------------------------------------- built-ins
def _ladder(unit_audience: Audience) -> tuple[LadderStep, ...]:
    return (
        LadderStep("red_card", "红牌", None, (unit_audience, Audience.SUPERVISOR)),
        LadderStep(
            "supervision", "督办", Limit(Clock.WORKING_DAYS, days=1), (Audience.LEADERSHIP,)
        ),
    )


def _standard(name: str, title: str, feedback_days: int, close_days: int) -> Policy:
    """The "2-x-y-2" family: assign 2 business hours, then working-day limits."""
    accept_or_redo = frozenset({Event.ACCEPT, Event.REDO})
    return Policy(
        name=name,
        version=1,
        title=title,
        targets=(
            Target(
                "assign",
                "分办",
                Limit(Clock.BUSINESS, span=timedelta(hours=2)),
                starts_on=frozenset({Event.ACCEPT, Event.RETURN}),
                stops_on=frozenset({Event.ASSIGN, Event.REASSIGN}),
                warning=Warning(share=0.25),
                warn_notify=(Audience.DESK,),
                ladder=_ladder(Audience.DESK),
            ),
            Target(
                "feedback",
                "进展反馈",
                Limit(Clock.WORKING_DAYS, days=feedback_days),
                starts_on=accept_or_redo,
                stops_on=frozenset({Event.FEEDBACK, Event.CLOSE}),
                pauses=True,
                warning=Warning(share=0.25),
                ladder=_ladder(Audience.UNIT),
            ),
            Target(
                "close",
                "办结",
                Limit(Clock.WORKING_DAYS, days=close_days),
                starts_on=accept_or_redo,
                stops_on=frozenset({Event.CLOSE}),
                pauses=True,
                extends=True,
                warning=Warning(before=Limit(Clock.WORKING_DAYS, days=1)),
                ladder=_ladder(Audience.UNIT),
            ),
            Target(
                "revisit",
                "回访",
                Limit(Clock.WORKING_DAYS, days=2),
                starts_on=frozenset({Event.CLOSE}),
                stops_on=frozenset({Event.REVISIT}),
                warning=Warning(share=0.25),
                warn_notify=(Audience.DESK,),
                ladder=_ladder(Audience.DESK),
            ),
        ),
    )


def _urgent() -> Policy:
    """即接即转即办: received, transferred and handled at once, on the natural clock for the
    first two limits (urgent cases don't wait for office hours)."""
    base = _standard("urgent", "紧急诉求（即接即转即办）", 1, 1)
    natural = {
        "assign": Limit(Clock.NATURAL, span=timedelta(minutes=30)),
        "feedback": Limit(Clock.NATURAL, span=timedelta(hours=4)),
        "revisit": Limit(Clock.WORKING_DAYS, days=1),
    }
    targets = []
    for target in base.targets:
        limit = natural.get(target.name, target.limit)
        warning = Warning(share=0.25) if target.name == "close" else target.warning
        targets.append(_replace_target(target, limit=limit, warning=warning))
    return Policy(
        base.name,
        base.version,
        base.title,
        tuple(targets),
        max_extensions=0,
        notify_in_business_hours=False,  # urgent cases are everyone's business at once
    )


def _replace_target(target: Target, **changes: Any) -> Target:
    values = {name: getattr(target, name) for name in Target.__slots__}
    values.update(changes)
    return Target(**values)


BUILT_IN: tuple[Policy, ...] = (
    _standard("2142", "2142（绵阳）：2小时分办、1个工作日反馈、4个工作日办结、2个工作日回访", 1, 4),
    _standard(
        "2252", "2252（交通运输部）：2小时、2个工作日反馈、5个工作日办结、2个工作日回访", 2, 5
    ),
    _standard("2152", "2152（株洲）：2小时、1个工作日反馈、5个工作日办结、2个工作日回访", 1, 5),
    _urgent(),
)
DEFAULT_POLICY = "2142"
URGENT_POLICY = "urgent"
