"""The stored calendar: operator overrides (single days) and State Council notices (whole
years), and the facts about open timers that `calendar status` reports.

None of these commit: the caller's transaction is the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models.tables import CalendarDay, CalendarNotice, SlaTimer
from workflow.notices import Notice, Overrides


def calendar_overrides(session: Session) -> Overrides:
    rows = session.exec(select(CalendarDay)).all()
    return Overrides(
        holidays={r.day: r.name for r in rows if not r.working},
        workdays={r.day: r.name for r in rows if r.working},
    )


def store_calendar(
    session: Session, overrides: Overrides, *, source: str, at: datetime, by: str
) -> int:
    """Add or replace the stored override of every date in `overrides`; returns how many."""
    count = 0
    for working, days in ((False, overrides.holidays), (True, overrides.workdays)):
        for day, name in days.items():
            row = session.get(CalendarDay, day)
            if row is None:
                row = CalendarDay(
                    day=day, working=working, name=name, source=source, loaded_at=at, loaded_by=by
                )
                session.add(row)
            else:
                row.working, row.name, row.source = working, name, source
                row.loaded_at, row.loaded_by = at, by
            count += 1
    session.flush()
    return count


def drop_overrides_of_year(session: Session, year: int) -> list[date]:
    """Delete the override days of `year` (a notice for the year supersedes them)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    where = (col(CalendarDay.day) >= first, col(CalendarDay.day) <= last)
    days = sorted(session.exec(select(col(CalendarDay.day)).where(*where)).all())
    if days:
        session.execute(delete(CalendarDay).where(*where))
    return days


def calendar_notices(session: Session) -> dict[int, Notice]:
    rows = session.exec(select(CalendarNotice)).all()
    return {row.year: Notice.from_data(row.content) for row in rows}


@dataclass(frozen=True, slots=True)
class StoredNotice:
    year: int
    document: str
    published: date
    digest: str
    source: str
    loaded_at: datetime
    loaded_by: str


def notice_rows(session: Session) -> dict[int, StoredNotice]:
    rows = session.exec(select(CalendarNotice)).all()
    return {
        r.year: StoredNotice(
            r.year, r.document, r.published, r.digest, r.source, r.loaded_at, r.loaded_by
        )
        for r in rows
    }


def store_notice(session: Session, notice: Notice, *, source: str, at: datetime, by: str) -> None:
    """Add the notice of its year, or replace the one stored."""
    values: dict[str, Any] = {
        "document": notice.document,
        "published": notice.published,
        "digest": notice.digest,
        "content": notice.as_data(),
        "source": source,
        "loaded_at": at,
        "loaded_by": by[:50],
    }
    row = session.get(CalendarNotice, notice.year)
    if row is None:
        session.add(CalendarNotice(year=notice.year, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()


def earliest_open_due(session: Session) -> datetime | None:
    """The earliest deadline of a timer still open (running or paused)."""
    query = select(func.min(SlaTimer.due_at)).where(col(SlaTimer.stopped_at).is_(None))
    return session.exec(query).one()


def open_provisional_by_year(
    session: Session, years: range, zone: tzinfo
) -> tuple[dict[int, int], int]:
    """Open timers with a provisional deadline, counted under each year of `years` that their
    span (start to deadline, local dates in `zone`) touches (those years' days decided it),
    and their total."""
    counts = dict.fromkeys(years, 0)
    total = 0
    query = select(SlaTimer.started_at, SlaTimer.due_at).where(
        col(SlaTimer.stopped_at).is_(None), col(SlaTimer.provisional).is_(True)
    )
    for started, due in session.exec(query).all():
        total += 1
        for year in range(started.astimezone(zone).year, due.astimezone(zone).year + 1):
            if year in counts:
                counts[year] += 1
    return counts, total
