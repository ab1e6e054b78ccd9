"""The notification outbox: who hears about a step, what the message says, one row each.

Rows are written in the same transaction as the audit record that caused them (a fired SLA
step, a dissatisfied revisit), so a crash either keeps both or neither. `dedupe_key` is
unique: the same step can never queue the same message to the same recipient twice.
Delivery is a separate step (`service.delivery`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from models.prepared import Prepared
from models.tables import Notification, Unit
from service.engine import Engine
from templates import render_message
from workflow.case import Case
from workflow.policies import Audience, Policy, Target
from workflow.timers import FireStep, Timer
from workflow.vocab import Vocab

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)

TARGET_EN = {
    "assign": "Assignment",
    "feedback": "Progress feedback",
    "close": "Closure",
    "revisit": "Follow-up visit",
}
STEP_EN = {
    "warning": "Yellow card",
    "breach": "Overdue",
    "red_card": "Red card",
    "supervision": "Supervision",
}


@dataclass(frozen=True, slots=True)
class Recipient:
    audience: Audience
    unit: str | None
    label: str  # shown in lists and used in the dedupe key: never the URL (it holds secrets)
    url: str | None  # None: nobody is configured to hear this (the row is dead-lettered)


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class UnitTargets:
    """What the outbox needs of a unit: its name and who hears about its grievances."""

    code: str
    name: str
    notify: tuple[str, ...]
    supervisor_notify: tuple[str, ...]


Units = Mapping[str, UnitTargets]
_UNIT = Unit.metadata.tables["unit"]
_UNITS = Prepared(
    select(_UNIT.c.code, _UNIT.c.name, _UNIT.c.notify, _UNIT.c.supervisor_notify).order_by(
        _UNIT.c.code
    )
)


def load_units(session: Session) -> dict[str, UnitTargets]:
    """Every unit by code (a small table: read once per sweep, not once per message)."""
    return {
        row.code: UnitTargets(
            row.code, row.name, tuple(row.notify or ()), tuple(row.supervisor_notify or ())
        )
        for row in _UNITS.rows(session, {})
    }


def recipients(
    engine: Engine, units: Units, audience: Audience, unit_code: str | None
) -> list[Recipient]:
    """The configured targets for `audience` about a case led by `unit_code`.

    A unit's handlers hear yellow and red cards; an unassigned case goes to the desk instead.
    A unit without its own supervisor targets falls back to the bureau's supervisors.
    """
    config = engine.notify
    unit = units.get(unit_code) if unit_code else None
    urls: Sequence[str]
    scope: str | None = unit_code
    if audience is Audience.UNIT and unit is None:
        audience, scope, urls = Audience.DESK, None, config.desk
    elif audience is Audience.UNIT:
        urls = unit.notify if unit is not None else ()
    elif audience is Audience.SUPERVISOR and unit is not None and unit.supervisor_notify:
        urls = unit.supervisor_notify
    elif audience is Audience.SUPERVISOR:
        scope, urls = None, config.supervisor
    elif audience is Audience.LEADERSHIP:
        scope, urls = None, config.leadership
    else:
        scope, urls = None, config.desk
    base = f"{audience.value}/{scope}" if scope else audience.value
    if not urls:
        return [Recipient(audience, scope, base, None)]
    return [Recipient(audience, scope, f"{base}#{_digest(url)}", url) for url in urls]


def _label(value: Vocab, lang: str) -> str:
    return value.zh if lang == "zh" else value.value.replace("_", " ")


def _unit_text(units: Units, code: str | None) -> str | None:
    if code is None:
        return None
    unit = units.get(code)
    return f"{code} {unit.name}" if unit is not None else code


def hold_until(engine: Engine, policy: Policy, now: datetime) -> datetime:
    """When a message decided at `now` may go out: at once, or at the next business opening."""
    return engine.calendar.next_opening(now) if policy.notify_in_business_hours else now


def queue(
    engine: Engine,
    session: Session,
    *,
    case: Case,
    grievance_id: int,
    key: str,
    kind: str,
    step: str,
    target: str | None,
    cycle: int,
    audiences: Sequence[Audience],
    template: str,
    context: dict[str, Any],
    now: datetime,
    not_before: datetime,
    units: Units,
) -> list[Notification]:
    """One outbox row per recipient of each audience (deduplicated by recipient)."""
    title, body = render_message(template, engine.notify.language, **context)
    return _enqueue(
        engine,
        session,
        title=title,
        body=body,
        number=case.number,
        grievance_id=grievance_id,
        lead_unit=case.lead_unit,
        key=key,
        kind=kind,
        step=step,
        target=target,
        cycle=cycle,
        audiences=audiences,
        now=now,
        not_before=not_before,
        units=units,
    )


def _enqueue(
    engine: Engine,
    session: Session,
    *,
    title: str,
    body: str,
    number: str | None,
    grievance_id: int | None,
    lead_unit: str | None,
    key: str,
    kind: str,
    step: str,
    target: str | None,
    cycle: int,
    audiences: Sequence[Audience],
    now: datetime,
    not_before: datetime,
    units: Units,
    rerun: bool = False,
) -> list[Notification]:
    """The rows themselves. With `rerun` (a job that may run twice, like the daily reminder),
    keys already queued are skipped; a fired step needs no such look-up (its record is
    compare-and-set, so it is queued once)."""
    lang = engine.notify.language
    rows: list[Notification] = []
    seen: set[str] = set()
    if rerun:
        queued = select(Notification.dedupe_key).where(
            col(Notification.dedupe_key).startswith(f"{key}/", autoescape=True)
        )
        seen.update(k.removeprefix(f"{key}/") for k in session.exec(queued).all())
    for audience in audiences:
        for recipient in recipients(engine, units, audience, lead_unit):
            if recipient.label in seen:
                continue
            seen.add(recipient.label)
            dead = recipient.url is None
            row = Notification(
                dedupe_key=f"{key}/{recipient.label}"[:200],
                grievance_id=grievance_id,
                number=number,
                kind=kind,
                target=target,
                cycle=cycle,
                step=step,
                audience=recipient.audience.value,
                unit=recipient.unit,
                recipient=recipient.label,
                url=recipient.url,
                language=lang,
                title=title,
                body=body,
                created_at=now,
                not_before=not_before,
                status=DEAD if dead else PENDING,
                give_up_after=engine.notify.max_attempts,
                next_attempt_at=None if dead else not_before,
                last_error=f"no notification target is configured for {recipient.label} "
                "(grievance unit notify, or GRIEVANCE_NOTIFY_* settings)"
                if dead
                else None,
            )
            session.add(row)
            rows.append(row)
    return rows


def queue_step(
    engine: Engine,
    session: Session,
    *,
    case: Case,
    grievance_id: int,
    policy: Policy,
    target: Target,
    timer: Timer,
    step: FireStep,
    late: timedelta,
    now: datetime,
    units: Units | None = None,
) -> list[Notification]:
    """The messages of one fired SLA step (yellow card, red card, 督办...)."""
    lang = engine.notify.language
    units = load_units(session) if units is None else units
    context = {
        "number": case.number,
        "step": step.name,
        "step_title": step.title_zh if lang == "zh" else STEP_EN.get(step.name, step.name),
        "target_title": target.title_zh
        if lang == "zh"
        else TARGET_EN.get(target.name, target.name),
        "overdue": step.at >= timer.due_at,
        "due": timer.due_at,
        "late": late,
        "limit": target.limit.text_zh if lang == "zh" else target.limit.text,
        "category": _label(case.category, lang),
        "state": _label(case.state, lang),
        "unit": _unit_text(units, case.lead_unit),
        "description": case.description,
    }
    return queue(
        engine,
        session,
        case=case,
        grievance_id=grievance_id,
        key=f"{case.number}/{timer.target}/{timer.cycle}/{step.name}",
        kind="sla_step",
        step=step.name,
        target=timer.target,
        cycle=timer.cycle,
        audiences=step.notify,
        template="notify/sla_step.md",
        context=context,
        now=now,
        not_before=hold_until(engine, policy, now),
        units=units,
    )


def queue_dissatisfied(
    engine: Engine,
    session: Session,
    *,
    case: Case,
    grievance_id: int,
    policy: Policy,
    note: str | None,
    now: datetime,
) -> list[Notification]:
    """A dissatisfied revisit: the lead unit's supervisor hears of it (may lead to a redo)."""
    lang = engine.notify.language
    units = load_units(session)
    context = {
        "number": case.number,
        "category": _label(case.category, lang),
        "unit": _unit_text(units, case.lead_unit),
        "result": _label(case.result, lang) if case.result else "—",
        "note": note,
        "revisited_at": case.revisited_at,
        "cycle": case.cycle,
    }
    return queue(
        engine,
        session,
        case=case,
        grievance_id=grievance_id,
        key=f"{case.number}/revisit/{case.cycle}/dissatisfied",
        kind="revisit_dissatisfied",
        step="dissatisfied",
        target=None,
        cycle=case.cycle,
        audiences=(Audience.SUPERVISOR,),
        template="notify/revisit_dissatisfied.md",
        context=context,
        now=now,
        not_before=hold_until(engine, policy, now),
        units=units,
    )


def queue_broken(
    engine: Engine,
    session: Session,
    *,
    number: str,
    grievance_id: int,
    version: int,
    unit: str | None,
    targets: Sequence[str],
    error: str,
    now: datetime,
    units: Units,
) -> list[Notification]:
    """时限监控异常: a grievance the watchdog cannot process, for the bureau's supervisors.

    Once per grievance version (the dedupe key; a sweep that finds it queued again skips
    it), so a case that stays broken is not reported on every tick. `error` is masked in the
    message like any free text. Held until the next business opening, as most messages are.
    """
    lang = engine.notify.language
    title, body = render_message(
        "notify/sla_broken.md",
        lang,
        number=number,
        unit=_unit_text(units, unit),
        targets=list(targets),
        error=error,
        at=now,
    )
    return _enqueue(
        engine,
        session,
        title=title,
        body=body,
        number=number,
        grievance_id=grievance_id,
        lead_unit=None,  # the bureau's supervisors: not the unit's, whose case it may be
        key=f"{number}/sla/v{version}/broken",
        kind="sla_broken",
        step="broken",
        target=None,
        cycle=0,
        audiences=(Audience.SUPERVISOR,),
        now=now,
        not_before=engine.calendar.next_opening(now),
        units=units,
        rerun=True,
    )


def queue_reminder(
    engine: Engine,
    session: Session,
    *,
    unit: str,
    day: str,
    title: str,
    body: str,
    now: datetime,
) -> list[Notification]:
    """日提醒: a unit's daily reminder to the unit's own targets, once per day and recipient.

    Sent on working days only (the caller decides); held until the opening if made earlier.
    """
    return _enqueue(
        engine,
        session,
        title=title,
        body=body,
        number=None,
        grievance_id=None,
        lead_unit=unit,
        key=f"daily/{day}/{unit}",
        kind="daily_reminder",
        step="daily",
        target=None,
        cycle=0,
        audiences=(Audience.UNIT,),
        now=now,
        not_before=engine.calendar.next_opening(now),
        units=load_units(session),
        rerun=True,
    )


def queue_audit(
    engine: Engine,
    session: Session,
    *,
    kind: str,
    key: str,
    audience: Audience,
    context: Mapping[str, Any],
    now: datetime,
) -> list[Notification]:
    """The audit chain's messages to the bureau (no single grievance): `audit_findings` (what
    a verification found, for the supervisors) and `audit_anchor` (a head hash to keep, for
    the leadership), rendered from `notify/<kind>.md`, once per `key`, sent at once."""
    title, body = render_message(f"notify/{kind}.md", engine.notify.language, at=now, **context)
    return _enqueue(
        engine,
        session,
        title=title,
        body=body,
        number=None,
        grievance_id=None,
        lead_unit=None,
        key=f"audit/{key}",
        kind=kind,
        step=kind.removeprefix("audit_"),
        target=None,
        cycle=0,
        audiences=(audience,),
        now=now,
        not_before=now,
        units=load_units(session),
        rerun=True,
    )
