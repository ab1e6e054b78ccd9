"""Which calendar an SLA timer counts on: the bureau's (`BUREAU`) or a revision of its lead
unit's own ("ROAD@2"), for the targets the unit's own work stops (`on_unit_calendar`), and
`Calendars`, every calendar a timer may count on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from workflow.calendar import BusinessCalendar
from workflow.machine import TABLE, Scope
from workflow.policies import Target
from workflow.unit_time import UnitCalendar, UnitTime

BUREAU = ""  # the calendar id of the bureau's own calendar (a unit's: "ROAD@2")


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
