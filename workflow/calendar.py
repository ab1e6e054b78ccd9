"""The business calendar: Chinese working days (the national days of `workflow.days`,
operator overrides on top), each with its business hours (`workflow.hours`), and deadline
arithmetic: business time, working days, natural time, each `Deadline` with its
explanation (`workflow.deadlines`).

Pure: reads no clock; every instant is an argument and every instant returned is aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflow.days import NationalDays, YearSource
from workflow.deadlines import Deadline, Step
from workflow.hours import DEFAULT_HOURS, BusinessHours, _hm
from workflow.notices import Notice, Overrides

__all__ = ["BusinessCalendar", "DayInfo"]

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)


@dataclass(frozen=True)
class DayInfo:
    """What the calendar says about one local date."""

    day: date
    working: bool
    reason: str  # "workday", "weekend", "holiday", "makeup_workday" (a unit's: "unit_workday",
    # "unit_rest_day")
    name: str | None  # e.g. "国庆节", "春节调休"
    provisional: bool  # from the law minimum: no notice for the year, no override decided it


class _Day:
    """Everything the calendar computes once per date (cached)."""

    __slots__ = (
        "info",
        "label",
        "periods",
        "length",
        "rest_step",
        "count_step",
        "close_step",
        "full_step",
    )

    def __init__(
        self,
        info: DayInfo,
        label: str,
        periods: tuple[tuple[datetime, datetime], ...],
        hours_text: str,
        close_text: str,
    ) -> None:
        self.info = info
        self.label = label
        self.periods = periods  # UTC (start, end) pairs; empty on rest days
        self.length = sum((end - start for start, end in periods), _ZERO)
        self.rest_step = Step(info.day, "skipped", label)
        self.count_step = Step(info.day, "counted", label)
        self.close_step = Step(
            info.day, "counted", f"{label}; deadline at close of business {close_text}"
        )
        self.full_step = Step(
            info.day, "counted", f"{label}: counted {hours_text} ({_duration(self.length)})"
        )


class BusinessCalendar:
    """Working days (notices, chinese_calendar, law minimum; overrides on top) and business
    hours."""

    def __init__(
        self,
        hours: BusinessHours = DEFAULT_HOURS,
        overrides: Overrides | None = None,
        notices: Mapping[int, Notice] | None = None,
    ) -> None:
        self.hours = hours
        self.overrides = overrides if overrides is not None else Overrides()
        self.national = NationalDays(notices)
        self.zone = ZoneInfo(hours.tz)
        self._cache: dict[date, _Day] = {}
        count = len(hours.periods)
        self._hours_text = ", ".join(f"{_hm(s)}-{_hm(e)}" for s, e in hours.periods)
        self._gaps = tuple(
            f"{'lunch break' if count == 2 else 'break'} "
            f"{_hm(hours.periods[i][1])}-{_hm(hours.periods[i + 1][0])}"
            for i in range(count - 1)
        )

    # --- days -------------------------------------------------------------------------------

    def day(self, d: date) -> DayInfo:
        return self._day(d).info

    def is_working_day(self, d: date) -> bool:
        return self._day(d).info.working

    def year_source(self, year: int) -> YearSource:
        """Where the national days of `year` come from (notice, library or law minimum)."""
        return self.national.year(year)

    @property
    def notices(self) -> Mapping[int, Notice]:
        return self.national.notices

    def _day(self, d: date) -> _Day:
        cached = self._cache.get(d)
        if cached is None:
            if isinstance(d, datetime) or not isinstance(d, date):
                raise ValueError(f"expected a date, got {d!r}")
            cached = self._cache[d] = self._build_day(d)
        return cached

    def _build_day(self, d: date) -> _Day:
        working, reason, name, provisional = self.national.base(d)
        source = " (law minimum, provisional)" if provisional else ""
        if d in self.overrides.holidays:
            working, reason, name, provisional = False, "holiday", self.overrides.holidays[d], False
            source = " (override)"
        elif d in self.overrides.workdays:
            reason = "workday" if working else "makeup_workday"
            working, name, provisional = True, self.overrides.workdays[d], False
            source = " (override)"
        info = DayInfo(d, working, reason, name or None, provisional)
        label = {
            "workday": "working day",
            "weekend": "weekend",
            "holiday": "holiday",
            "makeup_workday": "make-up workday",
        }[reason]
        if info.name:
            label += f" {info.name}"
        label += source
        periods: tuple[tuple[datetime, datetime], ...] = ()
        if working:
            periods = tuple(
                (self._instant(d, start), self._instant(d, end))
                for start, end in self.hours.periods
            )
        return _Day(info, label, periods, self._hours_text, _hm(self.hours.periods[-1][1]))

    def _instant(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.zone).astimezone(UTC)

    # --- instants ---------------------------------------------------------------------------

    def next_opening(self, instant: datetime) -> datetime:
        """`instant` if it is inside business hours on a working day, else the next opening."""
        moment = _utc(instant)
        d = moment.astimezone(self.zone).date()
        while True:
            for start, end in self._day(d).periods:
                if moment < end:
                    return start if moment < start else moment
            d += _ONE_DAY

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); zero if b <= a."""
        start, stop = _utc(a), _utc(b)
        if stop <= start:
            return _ZERO
        total = _ZERO
        d = start.astimezone(self.zone).date()
        last = stop.astimezone(self.zone).date()
        while d <= last:
            for s, e in self._day(d).periods:
                lo = s if s > start else start
                hi = e if e < stop else stop
                if hi > lo:
                    total += hi - lo
            d += _ONE_DAY
        return total

    # --- deadlines --------------------------------------------------------------------------

    def add_business_time(
        self, start: datetime, duration: timedelta, *, explain: bool = True
    ) -> Deadline:
        """Count `duration` of business time from `start` (from the next opening if closed).

        With `explain=False` the deadline comes without the steps and rule `explain()` shows
        (the same instant and `provisional`, at a fraction of the cost: the SLA engine
        computes warnings and ladder steps that nobody reads the reasons of)."""
        moment = _utc(start)
        if duration < _ZERO:
            raise ValueError(f"negative duration {duration}")
        remaining = duration
        local_start = moment.astimezone(self.zone)
        d = local_start.date()
        rule = (
            f"{_duration(duration)} of business hours from "
            f"{local_start.date().isoformat()} {_hm(local_start)}"
            if explain
            else ""
        )
        steps: list[Step] = []
        provisional = False
        first: datetime | None = moment
        while True:
            day = self._day(d)
            provisional = provisional or day.info.provisional
            if not day.info.working:
                steps.append(day.rest_step)
            elif first is None and remaining > day.length:
                steps.append(day.full_step)
                remaining -= day.length
            elif not explain:
                at, remaining = self._count_in_day_at(day, first, remaining)
                if at is not None:
                    return Deadline(at, provisional, (), self.hours.tz, rule)
            else:
                at, remaining, step = self._count_in_day(day, first, remaining)
                steps.append(step)
                if at is not None:
                    return Deadline(at, provisional, tuple(steps), self.hours.tz, rule)
            first = None
            d += _ONE_DAY

    @staticmethod
    def _count_in_day_at(
        day: _Day, start: datetime | None, remaining: timedelta
    ) -> tuple[datetime | None, timedelta]:
        """`_count_in_day` without its account: where the deadline falls, or what is left."""
        for s, e in day.periods:
            if start is not None and start >= e:
                continue
            begin = s if start is None or start < s else start
            available = e - begin
            if remaining <= available:
                return begin + remaining, _ZERO
            remaining -= available
        return None, remaining

    def _count_in_day(
        self, day: _Day, start: datetime | None, remaining: timedelta
    ) -> tuple[datetime | None, timedelta, Step]:
        """Count business time in one working day; `start` is set on the first day only."""
        periods = day.periods
        parts: list[str] = []
        if start is not None:
            parts.append(self._where(start, periods))
        at: datetime | None = None
        counted = _ZERO
        previous: int | None = None
        for index, (s, e) in enumerate(periods):
            if start is not None and start >= e:
                continue
            begin = s if start is None or start < s else start
            available = e - begin
            if remaining <= available:
                at = begin + remaining
            stop = at if at is not None else e
            if stop > begin:
                if previous is not None:
                    parts.append(f"{self._gaps[previous]} not counted")
                parts.append(f"counted {_hm(self._local(begin))}-{_hm(self._local(stop))}")
                counted += stop - begin
                previous = index
            if at is not None:
                remaining = _ZERO
                if stop == e:
                    parts.append(f"deadline at closing {_hm(self._local(at))}")
                else:
                    parts.append(f"deadline {_hm(self._local(at))}")
                break
            remaining -= available
        if counted == _ZERO:
            kind = "not_counted" if at is None else "partial"
        elif counted == day.length:
            kind = "counted"
        else:
            kind = "partial"
        if counted:
            parts.append(f"total {_duration(counted)}")
        return at, remaining, Step(day.info.day, kind, f"{day.label}: " + "; ".join(parts))

    def _where(self, start: datetime, periods: tuple[tuple[datetime, datetime], ...]) -> str:
        """Where the starting instant lies relative to the day's business hours."""
        when = _hm(self._local(start))
        if start < periods[0][0]:
            return f"started {when}, before opening {_hm(self._local(periods[0][0]))}"
        if start >= periods[-1][1]:
            return (
                f"started {when}, after closing {_hm(self._local(periods[-1][1]))}; "
                "counting starts at the next opening"
            )
        for index in range(len(periods) - 1):
            if periods[index][1] <= start < periods[index + 1][0]:
                return f"started {when}, in the {self._gaps[index]}"
        return f"started {when}"

    def end_of_working_day(self, start: datetime, n: int, *, explain: bool = True) -> Deadline:
        """Close of business of the n-th working day after the local date of `start`.

        Civil Code art. 201: the starting day is not counted; art. 203: the period ends at the
        end of business hours. A start before opening on a working day still doesn't count it.
        """
        reason = "starting day not counted (Civil Code art. 201)"
        return self._count_days(start, n, reason, "after", explain)

    def add_working_days(self, start: datetime, n: int, *, explain: bool = True) -> Deadline:
        """Move a deadline later by n working days: close of business of the n-th day after."""
        return self._count_days(
            start,
            n,
            "current deadline day; the extension counts from the next day",
            "of extension after",
            explain,
        )

    def _count_days(
        self, start: datetime, n: int, start_reason: str, what: str, explain: bool
    ) -> Deadline:
        moment = _utc(start)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a whole number of working days >= 1, got {n!r}")
        first = d = moment.astimezone(self.zone).date()
        day = self._day(d)
        provisional = day.info.provisional
        steps = [Step(d, "start_not_counted", f"{day.label}; {start_reason}")] if explain else []
        left = n
        while True:
            d += _ONE_DAY
            day = self._day(d)
            provisional = provisional or day.info.provisional
            if not day.info.working:
                steps.append(day.rest_step)
                continue
            left -= 1
            if left:
                steps.append(day.count_step)
                continue
            if not explain:
                return Deadline(day.periods[-1][1], provisional, (), self.hours.tz)
            steps.append(day.close_step)
            rule = (
                f"{n} working day{'s' if n > 1 else ''} {what} {first.isoformat()}, "
                "ending at close of business (Civil Code art. 201/203)"
            )
            return Deadline(day.periods[-1][1], provisional, tuple(steps), self.hours.tz, rule)

    def add_natural_time(
        self, start: datetime, duration: timedelta, *, explain: bool = True
    ) -> Deadline:
        """Plain clock time: nights, weekends and holidays all count."""
        moment = _utc(start)
        if duration < _ZERO:
            raise ValueError(f"negative duration {duration}")
        at = moment + duration
        if not explain:
            return Deadline(at, False, (), self.hours.tz)
        local_start, local_end = self._local(moment), self._local(at)
        step = Step(
            local_start.date(),
            "natural",
            f"{_duration(duration)} of clock time from {local_start:%Y-%m-%d %H:%M} to "
            f"{local_end:%Y-%m-%d %H:%M}; nights, weekends and holidays included",
        )
        return Deadline(at, False, (step,), self.hours.tz, f"{_duration(duration)} natural time")

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: every instant must carry its zone")
    return moment.astimezone(UTC)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h{minutes:02d}"
    return f"{text}:{secs:02d}" if secs else text
