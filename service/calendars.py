"""Calendar use cases: loading a State Council notice or an override file, and the status of
each year's calendar (where its days come from, how many open deadlines are provisional).

Loading is one transaction: the stored calendar changes, every open deadline it can move is
recomputed on the new calendar, and each move is written to its grievance's audit log (重算时限)
with the old and the new deadline and why, so a replay of the log still gives the stored
timers. Nothing is written when the file is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlmodel import Session

from models import calendars, case_rows, sla_timers
from service import watchdog
from service.acting import Stamp, require_desk
from service.engine import Engine
from service.timers import Moved, rebuilt_timers, record_moves
from workflow.errors import Conflict
from workflow.notices import Notice, Overrides
from workflow.sla_calendars import Calendars
from workflow.timeutil import local


@dataclass(frozen=True, slots=True)
class Loaded:
    """What loading one calendar file did."""

    notice: Notice | None  # the notice loaded, or None for an override file
    holidays: int
    workdays: int
    unchanged: bool = False  # the same notice was loaded before: nothing to do
    replaced: str | None = None  # the document of the notice this one replaced
    dropped_overrides: tuple[date, ...] = ()  # override days of the notice's year, superseded
    moved: list[Moved] = field(default_factory=list)
    now_official: int = 0  # open timers whose deadline is no longer provisional
    # grievances that could not be recomputed (number, masked reason): their stored timers
    # are left as they were, `sla check` lists them, the rest of the load stands
    failed: tuple[tuple[str, str], ...] = ()


def load(
    engine: Engine,
    data: Overrides | Notice,
    stamp: Stamp,
    *,
    source: str,
    replace: bool = False,
) -> Loaded:
    """Store a notice (the whole year) or overrides (single days), then recompute the open
    deadlines they can move, all in one transaction.

    A notice already loaded with the same content changes nothing; with other content it is
    refused (Conflict) unless `replace`.
    """
    require_desk(stamp.actor, "loads calendars")
    source = source[:200]
    who = stamp.actor.name
    with engine.db.transaction() as session:
        if isinstance(data, Notice):
            stored = calendars.notice_rows(session).get(data.year)
            if stored is not None and stored.digest == data.digest:
                return Loaded(data, len(data.holidays), len(data.workdays), unchanged=True)
            if stored is not None and not replace:
                raise Conflict(
                    f"the notice for {data.year} is already loaded ({stored.document}, from "
                    f"{stored.source}) with other days or details; give --replace to replace it"
                )
            calendars.store_notice(session, data, source=source, at=stamp.recorded_at, by=who)
            dropped = tuple(calendars.drop_overrides_of_year(session, data.year))
            first: date | None = date(data.year, 1, 1)
            reason = f"State Council notice {data.document} for {data.year} loaded from {source}"
        else:
            calendars.store_calendar(session, data, source=source, at=stamp.recorded_at, by=who)
            dropped = ()
            first = min([*data.holidays, *data.workdays], default=None)
            reason = f"calendar loaded from {source}"
        calendar = engine.calendar_in(session)
        on_new = Calendars.build(calendar, engine.unit_revisions)  # unit calendars over it
        moved: list[Moved] = []
        official = 0
        failed: list[tuple[str, str]] = []
        if first is not None:
            since = datetime.combine(first, time.min, tzinfo=calendar.zone)
            for grievance_id in sla_timers.grievance_ids_due_from(session, since):
                try:
                    with session.begin_nested():  # one bad case must not block the notice
                        changes, cleared = _recalculate(
                            engine, session, grievance_id, stamp, reason, on_new
                        )
                except watchdog.ENVIRONMENT:
                    raise
                except Exception as error:  # noqa: BLE001 - reported, the load goes on
                    failed.append((_number_of(session, grievance_id), watchdog.describe(error)))
                    continue
                moved += changes
                official += cleared
    engine.calendar = calendar
    return Loaded(
        data if isinstance(data, Notice) else None,
        len(data.holidays),
        len(data.workdays),
        replaced=stored.document if isinstance(data, Notice) and stored is not None else None,
        dropped_overrides=dropped,
        moved=moved,
        now_official=official,
        failed=tuple(failed),
    )


def _number_of(session: Session, grievance_id: int) -> str:
    try:
        return case_rows.get_row_by_id(session, grievance_id).number
    except Exception:  # noqa: BLE001 - the row itself may be what is broken
        return f"grievance id {grievance_id}"


def _recalculate(
    engine: Engine,
    session: Session,
    grievance_id: int,
    stamp: Stamp,
    reason: str,
    calendars: Calendars,
) -> tuple[list[Moved], int]:
    """Replay one grievance's timers on `calendars`, record each moved deadline, store them.
    Returns the moves and how many open timers stopped being provisional."""
    row = case_rows.get_row_by_id(session, grievance_id)
    rows = sla_timers.timers_of(session, grievance_id)
    stored = {t.key: t for t in (sla_timers.timer_from_row(r) for r in rows)}
    rebuilt = rebuilt_timers(engine, session, row, calendars)
    moved = [
        Moved(row.number, t.target, t.cycle, stored[t.key].due_at, t.due_at, t.provisional)
        for t in rebuilt
        if t.key in stored and stored[t.key].due_at != t.due_at
    ]
    cleared = sum(
        1
        for t in rebuilt
        if t.key in stored and stored[t.key].provisional and not t.provisional and t.open
    )
    record_moves(
        session,
        grievance_id,
        row.version,
        case_rows.case_from_row(row),
        moved,
        actor=stamp.actor,
        at=stamp.at,
        recorded_at=stamp.recorded_at,
        reason=reason,
    )
    sla_timers.save_timers(session, grievance_id, row.number, rows, rebuilt)
    return moved, cleared


# ----------------------------------------------------------------------------- status
@dataclass(frozen=True, slots=True)
class YearStatus:
    """One year of the calendar as `calendar status` shows it."""

    year: int
    source: str  # "library", "notice" or "law_minimum"
    document: str | None  # the notice's 文号
    official: bool
    provisional_timers: int  # open timers whose provisional deadline depends on this year
    overrides: int  # override days stored for this year


@dataclass(frozen=True, slots=True)
class CalendarStatus:
    years: list[YearStatus]
    earliest_open_due: datetime | None
    provisional_timers: int  # open timers with a provisional deadline, each counted once

    @property
    def provisional_years(self) -> list[int]:
        return [y.year for y in self.years if not y.official and y.provisional_timers]


def status(engine: Engine, at: datetime) -> CalendarStatus:
    """Each year from the one of the earliest open deadline (or `at`'s, if earlier) to the
    year after `at`'s: where its days come from, and the open timers that depend on it."""
    with engine.db.read() as session:
        calendar = engine.calendar_in(session)
        earliest = calendars.earliest_open_due(session)
        this_year = local(at).year
        first = min(this_year, local(earliest).year) if earliest is not None else this_year
        years = range(first, this_year + 2)
        counts, total = calendars.open_provisional_by_year(session, years, calendar.zone)
    result = []
    for year in years:
        source = calendar.year_source(year)
        result.append(
            YearStatus(
                year,
                source.source,
                source.document,
                source.official,
                counts[year] if not source.official else 0,
                len(calendar.overrides.days_in(year)),
            )
        )
    return CalendarStatus(result, earliest, total)
