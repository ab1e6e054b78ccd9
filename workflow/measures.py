"""The measures analysts and leadership read, defined once (the README states them in words).

No official formulas exist (DOMAIN.md); these are the project's. The population of a period
is the **cohort of grievances accepted in it** (merged duplicates excluded), seen as of the
report's instant `as_of`. `models.group_counts` counts with SQL aggregation (GROUP BY, never
one row per grievance in Python) and hands the counts here; this module turns counts into
rates.

| measure | numerator | denominator |
|---|---|---|
| 响应率 response rate | first assignment met its limit (assign timer, cycle 1, `met`) | cohort grievances whose first assign timer has stopped or breached |
| 按时办结率 on-time closure | close timers met | close timers stopped by a close (met or breached) |
| 解决率 resolution rate | closed with result `resolved` | closed (result set, any cycle's last close), less the no-fault closes |
| 满意率 satisfaction rate | revisit answers satisfied + basically satisfied | revisits with an answer (unreachable excluded) |
| 回访率 revisit rate | revisited with an answer | closed |
| 退单率 return rate | grievances returned at least once | grievances ever assigned |
| 重办率 redo rate | grievances redone at least once (cycle > 1) | closed at least once |
| 首办留存 stayed with the first handler | signed grievances still led by the unit that signed first | grievances signed |
| 首办解决率 first-contact resolution | resolved at the first pass: `resolved`, cycle 1, never returned nor reassigned | closed, less the no-fault closes |
| 平均办理时长 average handling time | sum of business time the close timers used (pauses excluded) | close timers stopped by a close |
| 超期 overdue | open timers past their deadline at `as_of` | — |
| 环比 volume change | cohort size − previous period's | previous period's cohort size (none if 0) |
| 涉及金额 / 挽回金额 amounts | sum of amounts in dispute / recovered (fen) | — |

A rate with a zero denominator is `None` ("—" in documents), never 0 % or 100 %.

**No-fault closes** (`no_fault`: the current close's result is 无责 `no_fault` or 不属实
`unsubstantiated`, each backed by a 无责说明 no-fault statement) leave the resolution rate's
denominator: there was nothing the unit could resolve, and the statement, approved by the
unit's supervisor, is the record of that finding. They stay in every other measure: they were
responded to, closed on time or late, revisited and redone like any other grievance (the
decision and its sources: docs/measures.md, "No-fault closes in the rates").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Ministry floor targets ("988"): response ≥ 90 %, resolution ≥ 80 %, satisfaction ≥ 80 %.
TARGETS = {"response_rate": 0.90, "resolution_rate": 0.80, "satisfaction_rate": 0.80}


@dataclass(frozen=True, slots=True)
class Counts:
    """What SQL counts for one group (a unit, a category, a channel, or everything)."""

    key: str | None  # the group's value; None for the total
    accepted: int = 0  # cohort size
    assign_done: int = 0  # first assign timer stopped or breached
    assign_met: int = 0
    close_done: int = 0  # close timers stopped by a close
    close_met: int = 0
    closed: int = 0  # grievances with a result now or at some point (closed at least once)
    resolved: int = 0
    no_fault: int = 0  # closed as no_fault or unsubstantiated (the current close's result)
    revisited: int = 0  # an answer other than unreachable
    satisfied: int = 0  # satisfied + basically satisfied
    assigned: int = 0  # ever assigned
    returned: int = 0  # returned at least once
    redone: int = 0  # cycle > 1
    first_handled: int = 0  # signed by a unit: it has a first handler (首办单位)
    stayed: int = 0  # still led by its first handler
    first_contact: int = 0  # resolved at the first pass: cycle 1, never returned or reassigned
    used_seconds: int = 0  # business seconds used by the close timers stopped by a close
    overdue: int = 0  # open timers past due at as_of
    amount_fen: int = 0
    recovered_fen: int = 0


def rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else numerator / denominator


@dataclass(frozen=True, slots=True)
class Measures:
    """The measures of one group in one period."""

    key: str | None
    counts: Counts
    previous_accepted: int | None = None  # the previous period's cohort size, if compared

    @property
    def volume(self) -> int:
        return self.counts.accepted

    @property
    def response_rate(self) -> float | None:
        return rate(self.counts.assign_met, self.counts.assign_done)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.counts.close_met, self.counts.close_done)

    @property
    def resolution_rate(self) -> float | None:
        """Resolved out of the closes a unit could resolve: no-fault closes are left out."""
        return rate(self.counts.resolved, self.counts.closed - self.counts.no_fault)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.counts.satisfied, self.counts.revisited)

    @property
    def revisit_rate(self) -> float | None:
        return rate(self.counts.revisited, self.counts.closed)

    @property
    def return_rate(self) -> float | None:
        return rate(self.counts.returned, self.counts.assigned)

    @property
    def redo_rate(self) -> float | None:
        return rate(self.counts.redone, self.counts.closed)

    @property
    def stayed_rate(self) -> float | None:
        """首办负责: of the grievances signed, the share still led by the unit that signed first."""
        return rate(self.counts.stayed, self.counts.first_handled)

    @property
    def first_contact_rate(self) -> float | None:
        """首办解决率: resolved at the first pass (first cycle, the first unit, no return or
        reassignment) out of the closes a unit could resolve (no-fault closes left out)."""
        return rate(self.counts.first_contact, self.counts.closed - self.counts.no_fault)

    @property
    def average_handling_hours(self) -> float | None:
        if self.counts.close_done <= 0:
            return None
        return self.counts.used_seconds / self.counts.close_done / 3600

    @property
    def overdue(self) -> int:
        return self.counts.overdue

    @property
    def volume_change(self) -> float | None:
        """Month on month (环比): +0.25 is 25 % more; None when the previous period had none."""
        return change(self.counts.accepted, self.previous_accepted)


def change(volume: int, previous: int | None) -> float | None:
    """环比 of `volume` against the previous period's (None if not compared, or it had none)."""
    if previous is None:
        return None
    return rate(volume - previous, previous)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """What a bulletin's trend shows of one period: its volume with the 环比, the on-time
    closure rate and the satisfaction rate, defined as in `Measures`; it holds only the counts
    those need (`models.trend_counts.trend` counts nothing else)."""

    accepted: int = 0
    close_done: int = 0
    close_met: int = 0
    revisited: int = 0
    satisfied: int = 0
    previous_accepted: int | None = None

    @classmethod
    def of(cls, measures: Measures) -> TrendPoint:
        c = measures.counts
        return cls(
            accepted=c.accepted,
            close_done=c.close_done,
            close_met=c.close_met,
            revisited=c.revisited,
            satisfied=c.satisfied,
            previous_accepted=measures.previous_accepted,
        )

    @property
    def volume(self) -> int:
        return self.accepted

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.close_met, self.close_done)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.revisited)

    @property
    def volume_change(self) -> float | None:
        return change(self.accepted, self.previous_accepted)


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period [start, end) in the bureau's zone, with a label (2026年11月...)."""

    kind: str  # day | week | month
    start: date
    end: date  # exclusive
    label: str

    def previous(self) -> Period:
        """The period before, of the same kind and length."""
        if self.kind == "month":
            year, month = self.start.year, self.start.month - 1
            if month == 0:
                year, month = year - 1, 12
            return month_of(date(year, month, 1))
        length = self.end - self.start
        return Period(
            self.kind, self.start - length, self.start, _label(self.kind, self.start - length)
        )


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Period("month", start, end, _label("month", start))


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday) holding `day`."""
    start = date.fromordinal(day.toordinal() - day.weekday())
    return Period("week", start, date.fromordinal(start.toordinal() + 7), _label("week", start))


def day_of(day: date) -> Period:
    return Period("day", day, date.fromordinal(day.toordinal() + 1), _label("day", day))


def _label(kind: str, start: date) -> str:
    if kind == "month":
        return f"{start.year}年{start.month}月"
    if kind == "week":
        iso = start.isocalendar()
        return f"{iso.year}年第{iso.week}周（{start.month}月{start.day}日起）"
    return f"{start.year}年{start.month}月{start.day}日"


@dataclass(frozen=True, slots=True)
class Handoffs:
    """退单 and 改派 of one unit in a period's cohort (`models.handoffs`)."""

    unit: str
    returns: int = 0  # returns while the unit led the grievance
    reassigned_away: int = 0  # reassignments that moved a grievance from the unit to another


@dataclass(frozen=True, slots=True)
class FirstHandler:
    """首办负责 figures of one unit: the grievances it signed first (its `Measures` grouped by
    first handler) and its returns and reassignments away."""

    unit: str
    measures: Measures
    handoffs: Handoffs

    @property
    def first_handled(self) -> int:
        return self.measures.counts.first_handled

    @property
    def stayed(self) -> int:
        return self.measures.counts.stayed

    @property
    def stayed_rate(self) -> float | None:
        return self.measures.stayed_rate

    @property
    def first_contact_rate(self) -> float | None:
        return self.measures.first_contact_rate

    @property
    def returns(self) -> int:
        return self.handoffs.returns

    @property
    def reassigned_away(self) -> int:
        return self.handoffs.reassigned_away


def first_handlers(
    by_first_handler: list[Measures], handoffs: list[Handoffs]
) -> list[FirstHandler]:
    """One row per unit that signed a grievance first or returned or lost one, by unit code
    (grievances no unit signed yet have no first handler and are not listed)."""
    measures = {m.key: m for m in by_first_handler if m.key is not None}
    moves = {h.unit: h for h in handoffs}
    return [
        FirstHandler(
            unit,
            measures.get(unit) or Measures(unit, Counts(unit)),
            moves.get(unit) or Handoffs(unit),
        )
        for unit in sorted(set(measures) | set(moves))
    ]


@dataclass(frozen=True, slots=True)
class Overdue:
    """One open timer past its deadline (the overdue list of a digest)."""

    number: str
    target: str
    cycle: int
    unit: str | None
    category: str
    due_at: datetime
    late_seconds: int  # business time late at as_of, on the target's clock


@dataclass(frozen=True, slots=True)
class Repeat:
    """A complainant (masked phone) or respondent that comes back (会商研判)."""

    who: str  # masked phone, or the respondent's name
    count: int
    numbers: tuple[str, ...] = field(default_factory=tuple)
