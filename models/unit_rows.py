"""Units (code, name, notification targets) and the revisions of their calendars; none of these
commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from models.prepared import Prepared
from models.tables import Grievance, Unit, UnitCalendarRevision
from workflow.errors import Duplicate, NotFound

_UNIT = Grievance.metadata.tables["unit"]
_UNIT_EXISTS = Prepared(select(_UNIT.c.id).where(_UNIT.c.code == bindparam("code")))


def missing_units(session: Session, codes: Iterable[str]) -> frozenset[str]:
    # one indexed lookup per code (an assignment names one to a few units): a prepared
    # statement each, cheaper than one IN (...) that is compiled again for every count
    return frozenset(c for c in set(codes) if _UNIT_EXISTS.first(session, {"code": c}) is None)


def add_unit(
    session: Session,
    *,
    code: str,
    name: str,
    at: datetime,
    by: str,
    notify: Sequence[str] = (),
    supervisor_notify: Sequence[str] = (),
) -> Unit:
    if session.exec(select(Unit.id).where(Unit.code == code)).first() is not None:
        raise Duplicate(f"unit {code} already exists")
    unit = Unit(
        code=code,
        name=name,
        created_at=at,
        created_by=by,
        notify=list(notify),
        supervisor_notify=list(supervisor_notify),
    )
    session.add(unit)
    session.flush()
    return unit


def set_unit_targets(
    session: Session, *, code: str, notify: Sequence[str], supervisor_notify: Sequence[str]
) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"unit {code} does not exist")
    unit.notify, unit.supervisor_notify = list(notify), list(supervisor_notify)
    session.add(unit)
    session.flush()
    return unit


def list_units(session: Session) -> Sequence[Unit]:
    return session.exec(select(Unit).order_by(col(Unit.code))).all()


# ----------------------------------------------------------------------------- unit calendars
def unit_calendars(session: Session) -> Sequence[UnitCalendarRevision]:
    """Every revision of every unit's calendar, oldest first per unit."""
    query = select(UnitCalendarRevision).order_by(
        col(UnitCalendarRevision.unit_code), col(UnitCalendarRevision.revision)
    )
    return session.exec(query).all()


def latest_unit_calendar(session: Session, code: str) -> UnitCalendarRevision | None:
    query = (
        select(UnitCalendarRevision)
        .where(col(UnitCalendarRevision.unit_code) == code)
        .order_by(col(UnitCalendarRevision.revision).desc())
    )
    return session.exec(query).first()


def add_unit_calendar(
    session: Session,
    *,
    code: str,
    hours: str | None,
    workdays: dict[str, str],
    rest_days: dict[str, str],
    source: str,
    at: datetime,
    by: str,
) -> UnitCalendarRevision:
    """Append the next revision of a unit's calendar (earlier ones stay: timers name them)."""
    latest = latest_unit_calendar(session, code)
    row = UnitCalendarRevision(
        unit_code=code,
        revision=1 if latest is None else latest.revision + 1,
        hours=hours,
        workdays=workdays,
        rest_days=rest_days,
        source=source,
        created_at=at,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row
