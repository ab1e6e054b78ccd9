"""A unit's own working time (business hours, extra workdays and rest days) and the unit
calendar that layers it over the national one: shift or weekend teams count their deadlines
on it. Pure, like the calendar it builds on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from workflow.calendar import BusinessCalendar, DayInfo, _Day
from workflow.errors import InvalidInput
from workflow.hours import BusinessHours, _hm, parse_hours
from workflow.notices import _parse_entries

__all__ = ["UnitCalendar", "UnitTime"]

_UNIT_KEYS = {"hours", "workdays", "rest_days"}
_NAME_MAX = 50


@dataclass(frozen=True)
class UnitTime:
    """A unit's own working time on top of the national calendar (e.g. an enforcement team
    that works Saturdays, the hotline desk's longer hours): its business hours (None: the
    bureau's) and the dates it works or rests whatever the national calendar says."""

    hours: BusinessHours | None = None
    workdays: Mapping[date, str] = field(default_factory=dict)
    rest_days: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for mapping in (self.workdays, self.rest_days):
            for key, name in mapping.items():
                if isinstance(key, datetime) or not isinstance(key, date):
                    raise ValueError(f"unit calendar keys must be dates, got {key!r}")
                if len(name) > _NAME_MAX or any(ord(c) < 32 for c in name):
                    raise InvalidInput(
                        f"unit calendar {key.isoformat()}: a name is at most {_NAME_MAX} "
                        "characters of text"
                    )
        both = sorted(set(self.workdays) & set(self.rest_days))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise InvalidInput(f"unit calendar lists {listed} both as workday and as rest day")
        object.__setattr__(self, "workdays", MappingProxyType(dict(sorted(self.workdays.items()))))
        object.__setattr__(
            self, "rest_days", MappingProxyType(dict(sorted(self.rest_days.items())))
        )

    @property
    def empty(self) -> bool:
        """Nothing of its own: the unit counts on the bureau calendar."""
        return self.hours is None and not self.workdays and not self.rest_days

    @property
    def hours_text(self) -> str | None:
        if self.hours is None:
            return None
        return ",".join(f"{_hm(s)}-{_hm(e)}" for s, e in self.hours.periods)

    @classmethod
    def from_toml(cls, text: str, tz: str = "Asia/Shanghai") -> UnitTime:
        """`hours = "08:00-12:00,13:00-20:00"` and `[[workdays]]` / `[[rest_days]]` tables,
        each with `date` and optional `name` (as in a calendar override file)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"unit calendar file is not valid TOML: {exc}") from None
        unknown = sorted(set(data) - _UNIT_KEYS)
        if unknown:
            raise InvalidInput(
                f"unit calendar file: unknown key(s) {', '.join(unknown)} "
                "(expected hours, [[workdays]] and [[rest_days]])"
            )
        hours = data.get("hours")
        if hours is not None and not isinstance(hours, str):
            raise InvalidInput('unit calendar file: write hours as text, e.g. "08:00-12:00"')
        return cls(
            hours=None if hours is None else parse_hours(hours, tz),
            workdays=_parse_entries(data, "workdays"),
            rest_days=_parse_entries(data, "rest_days"),
        )


class UnitCalendar(BusinessCalendar):
    """A unit's calendar: each day as the national calendar has it (library, overrides,
    fallback), then the unit's own workdays and rest days, counted in the unit's hours."""

    def __init__(self, national: BusinessCalendar, unit: str, time: UnitTime) -> None:
        hours = time.hours or national.hours
        if hours.tz != national.hours.tz:
            raise InvalidInput(
                f"unit {unit}: business hours in {hours.tz}, the calendar in {national.hours.tz}"
            )
        super().__init__(hours, national.overrides, national.notices)
        self.bureau = national
        self.unit = unit
        self.time = time

    def _build_day(self, d: date) -> _Day:
        base = self.bureau._day(d)
        info, label = base.info, base.label
        if d in self.time.rest_days:
            name = self.time.rest_days[d]
            info = DayInfo(d, False, "unit_rest_day", name or None, False)
            label = f"rest day of unit {self.unit}" + (f" {name}" if name else "")
        elif d in self.time.workdays:
            name = self.time.workdays[d]
            info = DayInfo(d, True, "unit_workday", name or None, False)
            label = f"workday of unit {self.unit}" + (f" {name}" if name else "")
            if not base.info.working:
                label += f" (nationally {base.label})"
        periods: tuple[tuple[datetime, datetime], ...] = ()
        if info.working:
            periods = tuple(
                (self._instant(d, start), self._instant(d, end))
                for start, end in self.hours.periods
            )
        return _Day(info, label, periods, self._hours_text, _hm(self.hours.periods[-1][1]))
