"""Business hours: the opening periods of a working day in the bureau's zone (configuration,
`GRIEVANCE_BUSINESS_HOURS`), checked when built, and their `08:30-12:00,14:00-17:30` syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflow.errors import InvalidInput

__all__ = ["DEFAULT_HOURS", "BusinessHours", "parse_hours"]


@dataclass(frozen=True)
class BusinessHours:
    """Opening periods of a working day, local times in `tz` (configuration, not code)."""

    periods: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(14, 0), time(17, 30)),
    )
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not self.periods:
            raise InvalidInput("business hours need at least one period, e.g. 08:30-12:00")
        previous_end: time | None = None
        for period in self.periods:
            if len(period) != 2 or not all(
                isinstance(t, time) and t.tzinfo is None for t in period
            ):
                raise InvalidInput(
                    f"business period {period!r}: give a (start, end) pair of local times"
                )
            start, end = period
            if start >= end:
                raise InvalidInput(
                    f"business period {_hm(start)}-{_hm(end)}: the start must be before the end"
                )
            if previous_end is not None and start <= previous_end:
                raise InvalidInput(
                    f"business period {_hm(start)}-{_hm(end)} starts before the previous one "
                    f"ends ({_hm(previous_end)}): periods must be sorted and separated by a break"
                )
            previous_end = end
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone {self.tz!r} (e.g. Asia/Shanghai)") from None


DEFAULT_HOURS = BusinessHours()


def parse_hours(text: str, tz: str = "Asia/Shanghai") -> BusinessHours:
    """'08:30-12:00,14:00-17:30' -> BusinessHours (the syntax of GRIEVANCE_BUSINESS_HOURS)."""
    periods = []
    for part in str(text).split(","):
        try:
            start, end = (time.fromisoformat(p.strip()) for p in part.split("-"))
        except ValueError:
            raise InvalidInput(
                f"business hours {text!r}: use HH:MM-HH:MM[,HH:MM-HH:MM...]"
            ) from None
        periods.append((start, end))
    return BusinessHours(periods=tuple(periods), tz=tz)


def _hm(t: time | datetime) -> str:
    if t.second or t.microsecond:
        return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{t.hour:02d}:{t.minute:02d}"
