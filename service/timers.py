"""SLA timer upkeep: the timers replayed from a grievance's audit log and checked against the
stored ones, and deadlines moved to another calendar, each move a 重算时限 in the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models import audit_log, case_rows, sla_timers
from models.tables import Grievance
from service import watchdog
from service.acting import grievance_id
from service.engine import Engine
from workflow.actor import Actor
from workflow.case import Case, Record, evolve
from workflow.commands import parse_command
from workflow.machine import decide
from workflow.policies import Policy
from workflow.sla import rebuild
from workflow.sla_calendars import Calendars, on_unit_calendar
from workflow.timers import Timer
from workflow.vocab import Event


@dataclass(frozen=True, slots=True)
class Moved:
    """A deadline that a calendar change moved."""

    number: str
    target: str
    cycle: int
    old_due: datetime
    new_due: datetime
    provisional: bool
    calendar: str | None = None  # the calendar it moved to, if it moved to another one


def rebuilt_timers(
    engine: Engine, session: Session, row: Grievance, calendars: Calendars | None = None
) -> tuple[Timer, ...]:
    """The grievance's timers replayed from its audit log (the watchdog's steps included), on
    `calendars` (default: the engine's: the bureau's and every unit calendar revision)."""
    policy = engine.policy(row.policy, session)
    records = [audit_log.record_from_event(e) for e in audit_log.events_of(session, row.number)]
    return rebuild(records, policy, calendars or engine.calendars)


def check_timers(engine: Engine, *, fix: bool = False) -> list[str]:
    """Compare every grievance's stored timers with the replay of its audit log.

    Returns one line per difference; with `fix`, stores the replayed timers. A grievance
    that cannot be replayed at all (a policy version nobody knows, a row or an event that
    does not read: what the watchdog reports as broken) is one line too, its transaction
    rolled back, and the check goes on with the rest.
    """
    problems: list[str] = []
    with engine.db.read() as session:
        numbers = case_rows.all_numbers(session)
    for number in numbers:
        try:
            with engine.db.transaction() if fix else engine.db.read() as session:
                row = case_rows.get_row(session, number)
                rows = sla_timers.timers_of(session, grievance_id(row))
                stored = tuple(sla_timers.timer_from_row(t) for t in rows)
                rebuilt = rebuilt_timers(engine, session, row)
                if set(stored) != set(rebuilt):
                    keys = sorted({t.key for t in set(stored) ^ set(rebuilt)})
                    problems.append(f"{number}: timers differ from the audit log: {keys}")
                    if fix:
                        sla_timers.save_timers(session, grievance_id(row), number, rows, rebuilt)
        except watchdog.ENVIRONMENT:
            raise
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the check
            problems.append(f"{number}: cannot be replayed: {watchdog.describe(error)}")
    return problems


def record_moves(
    session: Session,
    grievance_id: int,
    version: int,
    case: Case,
    moved: Sequence[Moved],
    *,
    actor: Actor,
    at: datetime,
    recorded_at: datetime,
    reason: str,
) -> tuple[int, Case]:
    """One 重算时限 per moved timer in the grievance's audit log; the new version and case."""
    for change in moved:
        data: dict[str, Any] = {
            "target": change.target,
            "cycle": change.cycle,
            "old_due": change.old_due,
            "new_due": change.new_due,
            "reason": reason[:500],
        }
        if change.calendar is not None:
            data["calendar"] = change.calendar
        command = parse_command(Event.RECALCULATE, data)
        record = decide(case.number, case, command, actor=actor, at=max(at, case.last_event_at))
        new = evolve(case, record)
        version = case_rows.update_case(
            session, grievance_id, version, new, record, recorded_at, case
        )
        case = new
    return version, case


def to_unit_calendar(
    calendars: Calendars,
    session: Session,
    grievance_id: int,
    version: int,
    case: Case,
    policy: Policy,
    timers: tuple[Timer, ...],
    *,
    actor: Actor,
    at: datetime,
    recorded_at: datetime,
    reason: str,
) -> tuple[int, Case, tuple[Timer, ...], list[Moved]]:
    """Put the open timers the lead unit's work stops on the unit's calendar now, if they
    are on another: each move is a 重算时限 naming the calendar (the replay reads it), and
    the timers are replayed from the log so they count on it from their start."""
    wanted = calendars.of_unit(case.lead_unit)
    switch = [
        t
        for t in timers
        if t.open and t.calendar != wanted and on_unit_calendar(policy.target(t.target))
    ]
    if not switch:
        return version, case, timers, []
    log = [audit_log.record_from_event(e) for e in audit_log.events_of(session, case.number)]
    # the replay reads only the calendar of these records: their new deadlines come after
    pending: list[Record] = []
    ahead = case
    for t in switch:
        command = parse_command(
            Event.RECALCULATE,
            {
                "target": t.target,
                "cycle": t.cycle,
                "old_due": t.due_at,
                "new_due": t.due_at,
                "reason": reason[:500],
                "calendar": wanted,
            },
        )
        record = decide(ahead.number, ahead, command, actor=actor, at=max(at, ahead.last_event_at))
        pending.append(record)
        ahead = evolve(ahead, record)
    rebuilt = rebuild([*log, *pending], policy, calendars)
    after = {t.key: t for t in rebuilt}
    moved = [
        Moved(
            case.number,
            t.target,
            t.cycle,
            t.due_at,
            after[t.key].due_at,
            after[t.key].provisional,
            calendar=wanted,
        )
        for t in switch
    ]
    version, case = record_moves(
        session,
        grievance_id,
        version,
        case,
        moved,
        actor=actor,
        at=at,
        recorded_at=recorded_at,
        reason=reason,
    )
    return version, case, rebuilt, moved
