"""What an actor may read: one grievance with its audit events and SLA timers (deadlines
explained on request), the list of grievances, the outbox messages; unit staff see only
what concerns their unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from models import audit_log, case_rows, sla_timers
from models.tables import Grievance, GrievanceEvent, Notification
from service import delivery, outbox, security
from service.acting import VERSION_MAX, check_number, grievance_id
from service.engine import Engine
from workflow.actor import Actor
from workflow.case import Case
from workflow.errors import InvalidInput, PermissionDenied
from workflow.machine import can_see
from workflow.sla import rebuild
from workflow.timers import Timer
from workflow.validation import is_unit_code
from workflow.vocab import State


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as one actor may see it: state, version, audit events, SLA timers, and who saw
    its personal data or files."""

    case: Case
    version: int
    events: Sequence[GrievanceEvent]
    timers: Sequence[Timer] = ()
    explanations: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    # who saw the driver's number in full or read an evidence file (the security log)
    disclosures: Sequence[security.Logged] = ()


def show(engine: Engine, number: str, actor: Actor, *, explain: bool = False) -> CaseView:
    """One grievance with its audit events and SLA timers, if the actor may see it.

    With `explain`, every timer's deadline is explained (days skipped and why, the lunch
    break, pauses, extensions) by replaying the audit log.
    """
    check_number(number)
    with engine.db.read() as session:
        row = case_rows.get_row(session, number)
        case = case_rows.case_from_row(row)
        if not can_see(actor, case):
            raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
        events = audit_log.events_of(session, number)
        timers = [
            sla_timers.timer_from_row(t) for t in sla_timers.timers_of(session, grievance_id(row))
        ]
        policy = engine.policy(case.policy, session)
        disclosures = security.about_grievance(session, number)
    order = {target.name: i for i, target in enumerate(policy.targets)}
    timers.sort(key=lambda t: (order.get(t.target, len(order)), t.cycle))
    notes: dict[tuple[str, int], list[str]] = {}
    if explain:
        rebuild((audit_log.record_from_event(e) for e in events), policy, engine.calendars, notes)
    return CaseView(case, row.version, events, timers, notes, disclosures)


def list_cases(
    engine: Engine,
    actor: Actor,
    *,
    state: State | None = None,
    unit: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Case]:
    """Grievances in acceptance order; unit staff see only their unit's."""
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000")
    if not 0 <= offset <= VERSION_MAX:
        raise InvalidInput(f"offset must be between 0 and {VERSION_MAX}")
    if unit is not None and not is_unit_code(unit):
        raise InvalidInput(f"unit {unit[:40]!r} is not a valid unit code")
    visible = actor.unit if actor.unit_bound else None
    with engine.db.read() as session:
        rows = case_rows.list_rows(
            session, state=state, unit=unit, visible_to_unit=visible, limit=limit, offset=offset
        )
        cases = [case_rows.case_from_row(row) for row in rows]
    # the query's unit match is a LIKE, where '_' in a unit code matches any character:
    # what the actor may see is decided here, as everywhere, by `can_see`
    return [case for case in cases if can_see(actor, case)]


def lead_unit(engine: Engine, number: str) -> str | None:
    """The lead unit of grievance `number`: None when it has none, or no such grievance. No
    permission check: the gate tags the desk's action runs with it, never unit staff's."""
    with engine.db.read() as session:
        return session.exec(select(Grievance.lead_unit).where(Grievance.number == number)).first()


def _may_see(engine: Engine, number: str, actor: Actor) -> None:
    """PermissionDenied unless `actor` may see grievance `number` (NotFound if none)."""
    check_number(number)
    with engine.db.read() as session:
        case = case_rows.case_from_row(case_rows.get_row(session, number))
    if not can_see(actor, case):
        raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")


def list_notifications(
    engine: Engine,
    actor: Actor,
    *,
    status: str | None = None,
    number: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The outbox as `service.delivery.listing` shows it; unit staff see only the messages
    about grievances their unit may see, or addressed to their unit (daily reminders)."""
    if not 1 <= limit <= 100_000:
        raise InvalidInput("--limit must be between 1 and 100000")
    if number is not None and actor.unit_bound:
        _may_see(engine, number, actor)
    elif number is not None:
        check_number(number)
    if number is not None or not actor.unit_bound:
        return delivery.listing(engine, status=status, number=number, limit=limit)
    if status is not None and status not in outbox.STATUSES:
        raise InvalidInput(f"unknown status {status!r}: use {', '.join(outbox.STATUSES)}")
    unit = actor.unit or ""
    query = (
        select(Notification)
        .outerjoin(Grievance, col(Notification.grievance_id) == col(Grievance.id))
        .where(
            or_(
                col(Notification.unit) == unit,
                col(Grievance.lead_unit) == unit,
                col(Grievance.first_handler_unit) == unit,
                case_rows.names_co_unit(unit),
            )
        )
    )
    if status is not None:
        query = query.where(col(Notification.status) == status)
    with engine.db.read() as session:
        rows = session.exec(query.order_by(col(Notification.id)).limit(limit)).all()
        return [delivery.listed(row) for row in rows]
