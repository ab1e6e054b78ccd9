"""Parsing and zone handling of instants. Reads no clock: `now` always comes from the edge."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pendulum

from workflow.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A calendar date must lead: "09:30" alone would silently mean "today" (a clock read).
_DATE_FIRST = re.compile(r"^\d{4}-?\d{2}-?\d{2}(?:$|[T ])")
_HINT = "use ISO 8601 with a date, e.g. 2026-11-23T09:30 or 2026-11-23T09:30+08:00"


def parse_instant(text: str, *, default_tz: ZoneInfo = SHANGHAI) -> datetime:
    """ISO 8601 text to an aware UTC datetime; a time without offset is read in `default_tz`."""
    raw = text.strip()
    if not raw:
        raise InvalidInput("time is empty: give an ISO 8601 time such as 2026-11-23T09:30")
    if len(raw) > 64 or not _DATE_FIRST.match(raw):
        raise InvalidInput(f"not a time: {text[:64]!r} ({_HINT})")
    try:
        parsed = pendulum.parse(raw, tz=default_tz.key, strict=True)
        if not isinstance(parsed, datetime):
            raise InvalidInput(f"not a date and time: {text!r} ({_HINT})")
        return to_utc(parsed)  # year 1 or 9999 can overflow here, in the zone conversion
    except (ValueError, OverflowError):  # pendulum's ParserError is a ValueError
        raise InvalidInput(f"not a time: {text[:64]!r} ({_HINT})") from None


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in the engine carries its zone")
    return datetime.fromtimestamp(moment.timestamp(), tz=UTC)


def local(moment: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    """The same instant in the bureau's zone, for display and calendar arithmetic."""
    return moment.astimezone(tz)


def iso(moment: datetime | None, tz: ZoneInfo = SHANGHAI) -> str | None:
    """ISO 8601 with the UTC offset, in the bureau's zone (2026-11-23T09:30:00+08:00)."""
    return None if moment is None else local(moment, tz).isoformat()
