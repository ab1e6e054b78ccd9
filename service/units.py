"""Handling units (承办单位): registration, notification targets, and each unit's own calendar
(working time), whose change moves the open timers of the grievances the unit leads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from models import case_rows, sla_timers, unit_rows
from models.tables import Unit, UnitCalendarRevision
from service.acting import Stamp, require_desk
from service.delivery import check_url
from service.engine import Engine
from service.timers import Moved, to_unit_calendar
from workflow.commands import INSTANT_YEARS
from workflow.errors import InvalidInput, NotFound
from workflow.sla_calendars import unit_calendar_id
from workflow.timeutil import iso
from workflow.unit_time import UnitTime
from workflow.validation import UnitName, is_unit_code

# the worklists, boards and digests name the grievance desk "desk": no unit may be called so
RESERVED = "desk"


def add_unit(
    engine: Engine,
    stamp: Stamp,
    *,
    code: str,
    name: str,
    notify: Iterable[str] = (),
    supervisor_notify: Iterable[str] = (),
) -> Unit:
    """Register a handling unit (承办单位) and its notification targets (Apprise URLs)."""
    require_desk(stamp.actor, "adds units")
    if not is_unit_code(code):
        raise InvalidInput(f"unit code {code!r}: use 1-32 letters, digits, '-' or '_'")
    if code.lower() == RESERVED:
        raise InvalidInput(
            f"unit code {code!r} is reserved for the grievance desk (受理台); choose another"
        )
    name = _validate_unit_name(name)
    handlers = [check_url(url) for url in notify]
    supervisors = [check_url(url) for url in supervisor_notify]
    with engine.db.transaction() as session:
        return unit_rows.add_unit(
            session,
            code=code,
            name=name,
            at=stamp.recorded_at,
            by=stamp.actor.name,
            notify=handlers,
            supervisor_notify=supervisors,
        )


def set_unit_targets(
    engine: Engine,
    stamp: Stamp,
    *,
    code: str,
    notify: Iterable[str] = (),
    supervisor_notify: Iterable[str] = (),
) -> Unit:
    """Replace where a unit's notifications go. Messages already queued keep their target."""
    require_desk(stamp.actor, "changes unit notification targets")
    if not is_unit_code(code):
        raise InvalidInput(f"unit code {code[:40]!r}: use 1-32 letters, digits, '-' or '_'")
    handlers = [check_url(url) for url in notify]
    supervisors = [check_url(url) for url in supervisor_notify]
    with engine.db.transaction() as session:
        return unit_rows.set_unit_targets(
            session, code=code, notify=handlers, supervisor_notify=supervisors
        )


def _validate_unit_name(name: str) -> str:
    try:
        return TypeAdapter(UnitName).validate_python(name)
    except ValidationError as error:
        raise InvalidInput(f"unit name: {error.errors()[0]['msg']}") from None


def list_units(engine: Engine) -> Sequence[Unit]:
    with engine.db.read() as session:
        return unit_rows.list_units(session)


@dataclass(frozen=True, slots=True)
class UnitCalendarChange:
    """What `set_unit_calendar` did: the revision written (None: unchanged) and the moves."""

    unit: str
    revision: int | None
    calendar: str  # the id the unit's timers now count on ("" the bureau's)
    moved: list[Moved]


def unit_calendar_of(row: UnitCalendarRevision | None) -> dict[str, Any] | None:
    """A stored revision as the CLI and the JSON show it (None: no calendar of its own)."""
    if row is None:
        return None
    return {
        "revision": row.revision,
        "id": unit_calendar_id(row.unit_code, row.revision),
        "hours": row.hours,
        "workdays": [{"date": d, "name": n} for d, n in sorted(row.workdays.items())],
        "rest_days": [{"date": d, "name": n} for d, n in sorted(row.rest_days.items())],
        "source": row.source,
        "set_at": iso(row.created_at),
        "set_by": row.created_by,
    }


def set_unit_calendar(
    engine: Engine, stamp: Stamp, *, code: str, time: UnitTime, source: str
) -> UnitCalendarChange:
    """Give a unit its own working time (an empty `time`: back to the bureau calendar).

    One transaction: the unit's next calendar revision, and every open timer of the
    grievances it leads that counts on the unit's calendar moved to the new revision, each
    move a 重算时限 in the grievance's audit log. Timers already stopped keep the revision
    they counted on. A calendar equal to the unit's current one writes nothing."""
    require_desk(stamp.actor, "changes unit calendars")
    if not is_unit_code(code):
        raise InvalidInput(f"unit code {code[:40]!r}: use 1-32 letters, digits, '-' or '_'")
    hours = time.hours_text
    workdays = {d.isoformat(): n for d, n in time.workdays.items()}
    rest_days = {d.isoformat(): n for d, n in time.rest_days.items()}
    first, last = INSTANT_YEARS
    for day in (*time.workdays, *time.rest_days):
        if not first <= day.year <= last:
            raise InvalidInput(f"unit calendar {day.isoformat()}: use a date in {first}-{last}")
    with engine.db.transaction() as session:
        if unit_rows.missing_units(session, {code}):
            raise NotFound(f"unit {code} does not exist (add it with `grievance unit add`)")
        latest = unit_rows.latest_unit_calendar(session, code)
        same = (hours, workdays, rest_days) == (
            (latest.hours, latest.workdays, latest.rest_days) if latest else (None, {}, {})
        )
        if same:
            return UnitCalendarChange(code, None, engine.calendars.of_unit(code), [])
        row = unit_rows.add_unit_calendar(
            session,
            code=code,
            hours=hours,
            workdays=workdays,
            rest_days=rest_days,
            source=source[:200],
            at=stamp.recorded_at,
            by=stamp.actor.name,
        )
        revisions = (*engine.unit_revisions, (code, row.revision, time))
        calendars = engine.calendars_with(revisions)
        reason = f"unit {code} calendar revision {row.revision} ({source})"
        moved: list[Moved] = []
        for grievance_id in sla_timers.grievance_ids_led_with_open_timers(session, code):
            grievance = case_rows.get_row_by_id(session, grievance_id)
            rows = sla_timers.timers_of(session, grievance_id)
            stored = tuple(sla_timers.timer_from_row(r) for r in rows)
            _, _, timers, switched = to_unit_calendar(
                calendars,
                session,
                grievance_id,
                grievance.version,
                case_rows.case_from_row(grievance),
                engine.policy(grievance.policy, session),
                stored,
                actor=stamp.actor,
                at=stamp.at,
                recorded_at=stamp.recorded_at,
                reason=reason,
            )
            if switched:
                sla_timers.save_timers(session, grievance_id, grievance.number, rows, timers)
                moved += switched
    engine.adopt_unit_revisions(revisions)  # the transaction is committed: the engine follows
    return UnitCalendarChange(code, row.revision, calendars.of_unit(code), moved)


def unit_calendars(engine: Engine) -> dict[str, UnitCalendarRevision]:
    """Each unit's current calendar revision (units without one are left out)."""
    with engine.db.read() as session:
        latest: dict[str, UnitCalendarRevision] = {}
        for row in unit_rows.unit_calendars(session):
            latest[row.unit_code] = row
        return latest
