"""A computed deadline (`Deadline`) and why it falls where it does: its steps (one per day
looked at: counted, skipped, partly counted) and `explain()`, the lines a timer's notes carry
(`grievance show --explain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["Deadline", "Step"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Step:
    """One line of a deadline's explanation."""

    day: date
    kind: str  # "counted", "skipped", "partial", "start_not_counted", "not_counted", "natural"
    reason: str


_KIND_TEXT = {
    "counted": "counted",
    "skipped": "skipped",
    "partial": "partly counted",
    "start_not_counted": "not counted",
    "not_counted": "not counted",
    "natural": "natural time",
}


@dataclass(frozen=True)
class Deadline:
    """A computed deadline and why it falls where it does."""

    at: datetime  # aware, UTC
    provisional: bool  # some inspected day came from the law minimum
    steps: tuple[Step, ...]
    tz: str = "Asia/Shanghai"  # the calendar's zone, for explain()
    rule: str = ""  # what was computed, e.g. "4 working days after 2026-09-24"

    def explain(self) -> list[str]:
        local = self.at.astimezone(ZoneInfo(self.tz))
        head = f"deadline {local:%Y-%m-%d %H:%M} {self.tz} ({_WEEKDAYS[local.weekday()]})"
        if self.rule:
            head += f": {self.rule}"
        lines = [head]
        if self.provisional:
            lines.append(
                "provisional (暂定): some days are of a year without a State Council notice; "
                "its statutory holidays and their 补假 (law minimum) were used, make-up "
                "workdays cannot be foreseen"
            )
        day_count = any(step.kind == "start_not_counted" for step in self.steps)
        counted = 0
        for step in self.steps:
            kind = _KIND_TEXT.get(step.kind, step.kind)
            if day_count and step.kind == "counted":
                counted += 1
                kind = f"working day {counted}"
            lines.append(
                f"{step.day.isoformat()} {_WEEKDAYS[step.day.weekday()]} {kind}: {step.reason}"
            )
        return lines
