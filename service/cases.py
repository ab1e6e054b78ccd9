"""The lifecycle use cases: `accept` and one function per action on a grievance (assign, sign,
return, reassign, feedback, extensions, suspend and resume, close, revisit, redo, review,
merge, amend), each one database transaction.

Shape of every action: load -> `machine.decide` -> `evolve` -> save (compare-and-set) plus
one audit event and the advanced SLA timers, all in one transaction. No Prefect here: the CLI,
the flows and the tests all call these functions. The caller reads the clock once and passes
it in a `Stamp` (`service.acting`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import audit_log, case_rows, sla_timers, unit_rows
from service import callbacks, document_jobs, outbox
from service.acting import VERSION_MAX, Stamp, check_number
from service.engine import Engine
from service.timers import to_unit_calendar
from workflow.actor import Actor
from workflow.case import Case, Record, evolve
from workflow.commands import Accept, Assign, Attach, Command, Merge, Reassign, parse_command
from workflow.errors import Conflict, Duplicate, InvalidInput, PermissionDenied
from workflow.machine import VIEW_KEEPING, Facts, can_see, decide
from workflow.policies import Policy
from workflow.sla import advance
from workflow.timeutil import local
from workflow.vocab import Event, Role, Satisfaction

# who records that a timer moved to the lead unit's calendar after an assignment or a redo
CALENDAR_KEEPER = Actor("calendar", Role.SYSTEM)

P = ParamSpec("P")
# an action's use case: engine, grievance number and stamp, then the action's own fields
Action = Callable[Concatenate[Engine, str, Stamp, P], Case]


def _facts(session: Session, row_id: int, command: Command, policy: Policy) -> Facts:
    """Look up what the guards of `command` need to know."""
    facts = Facts(max_extensions=policy.max_extensions)
    if isinstance(command, Attach):
        hashes = frozenset(
            str(e.payload["sha256"]) for e in audit_log.attach_events(session, row_id)
        )
        return replace(facts, attached=hashes)
    if isinstance(command, Assign):
        units = {command.unit, *command.co_units}
        return replace(facts, unknown_units=unit_rows.missing_units(session, units))
    if isinstance(command, Reassign):
        units = {command.unit, *command.add_co_units}
        return replace(facts, unknown_units=unit_rows.missing_units(session, units))
    if isinstance(command, Merge):
        return replace(facts, merge_target_state=case_rows.state_of(session, command.into))
    return facts


def _commit(
    engine: Engine,
    session: Session,
    row_id: int,
    version: int,
    case: Case,
    record: Record,
    policy: Policy,
    recorded_at: datetime,
) -> Case:
    """Write one decided record: the new case (compare-and-set), its event, its timers, and
    the notifications it causes (a dissatisfied revisit tells the unit's supervisor)."""
    new = evolve(case, record)
    new_version = case_rows.update_case(session, row_id, version, new, record, recorded_at, case)
    timer_rows = sla_timers.timer_rows_of(session, row_id)
    stored = [sla_timers.timer_from_row(t) for t in timer_rows]
    timers = advance(stored, record, case, policy, engine.calendars)
    # a new lead unit (or a redo's new cycle) puts the unit's timers on its calendar
    _, _, timers, _ = to_unit_calendar(
        engine.calendars,
        session,
        row_id,
        new_version,
        new,
        policy,
        timers,
        actor=CALENDAR_KEEPER,
        at=record.at,
        recorded_at=recorded_at,
        reason=f"{record.event.value} ({record.event.zh}): lead unit {new.lead_unit}'s calendar",
    )
    sla_timers.save_timers(session, row_id, case.number, timer_rows, timers, stored)
    # partners that pushed this grievance hear of the event (an outbox row, this transaction)
    callbacks.queue_event(
        engine,
        session,
        grievance_id=row_id,
        case=new,
        event=record.event,
        seq=new_version,
        at=record.at,
        recorded_at=recorded_at,
    )
    if record.event is Event.REVISIT and new.satisfaction is Satisfaction.DISSATISFIED:
        outbox.queue_dissatisfied(
            engine,
            session,
            case=new,
            grievance_id=row_id,
            policy=policy,
            note=record.payload.get("note"),
            now=recorded_at,
        )
    # a review issues its 复盘报告, a 无责/不属实 close its 无责说明: queued in this same
    # transaction, rendered after the commit (`documents.issue`)
    document_jobs.queue(engine, session, row_id, new_version, new, record, recorded_at)
    return new


def _stale(session: Session, row_id: int, version: int, expected: int) -> bool:
    """Has a person acted since `expected`? The engine's own records (a fired SLA step, a
    recalculated deadline) and evidence attached don't make a person's view stale."""
    if expected == version:
        return False
    if expected > version:
        return True
    later = audit_log.events_since(session, row_id, expected)
    return any(event.event not in VIEW_KEEPING for event in later)


def execute(
    engine: Engine,
    number: str,
    command: Command,
    stamp: Stamp,
    *,
    expected_version: int | None = None,
    before_commit: Callable[[Record], None] | None = None,
) -> Case:
    """Apply one command to an existing grievance in one transaction; return the new case.

    `expected_version` is the version the actor looked at (a form, `show`): if the grievance
    has moved on since, the command is refused with Conflict instead of applied blindly.
    `before_commit(record)` runs once the command is decided (every check passed), before
    the transaction commits; what it raises rolls the transaction back.
    """
    if command.event is Event.ACCEPT:
        raise InvalidInput("use accept() to register a new grievance")
    check_number(number)
    if expected_version is not None and not 0 <= expected_version <= VERSION_MAX:
        raise InvalidInput(f"expected version must be between 0 and {VERSION_MAX}")
    try:
        with engine.db.transaction() as session:
            row_id, version, case = case_rows.load_case(session, number)
            if not can_see(stamp.actor, case):
                raise PermissionDenied(
                    f"grievance {number} does not concern unit {stamp.actor.unit}"
                )
            if expected_version is not None and _stale(session, row_id, version, expected_version):
                raise Conflict(
                    f"grievance {number} is at version {version}, not {expected_version}: "
                    "someone else acted on it; look at it again and retry"
                )
            policy = engine.policy(case.policy, session)
            facts = _facts(session, row_id, command, policy)
            record = decide(number, case, command, actor=stamp.actor, at=stamp.at, facts=facts)
            if before_commit is not None:
                before_commit(record)  # decided: e.g. an attachment's file written now
            new = _commit(
                engine,
                session,
                row_id,
                version,
                case,
                record,
                policy,
                stamp.recorded_at,
            )
    except IntegrityError:
        raise Conflict(
            f"grievance {number} was changed by someone else at the same time; retry"
        ) from None
    return new


def accept(
    engine: Engine,
    command: Accept,
    stamp: Stamp,
    *,
    also: Callable[[Session, int, Case], None] | None = None,
) -> Case:
    """受理: register a new grievance; its number is given here (20261123-0001).

    It gets the deployment's policy (or the urgent one) in its current version, for good:
    that version is stored in the same transaction if it is its first use (and refused,
    with nothing written, if the stored one of that number says something else).
    `also(session, grievance id, case)` writes more in the same transaction (the partner
    API's record of who pushed it).
    """
    try:
        with engine.db.transaction() as session:
            existing = case_rows.number_by_ref(session, command.channel, command.ref)
            if existing is not None:
                ref = f"{command.channel.value} reference {command.ref}"
                raise Duplicate(f"{ref} is already grievance {existing}")
            number = case_rows.next_number(session, local(stamp.at).date())
            policy = engine.policy_for_new(command.urgent)
            engine.use_policy(session, policy, stamp.recorded_at)
            facts = Facts(policy=policy.key)
            record = decide(number, None, command, actor=stamp.actor, at=stamp.at, facts=facts)
            case = evolve(None, record)
            grievance_id = case_rows.insert_case(session, case, record, stamp.recorded_at)
            timers = advance((), record, None, policy, engine.calendar)
            sla_timers.save_timers(session, grievance_id, number, [], timers)
            if also is not None:
                also(session, grievance_id, case)
                session.flush()  # the callbacks' query below reads what `also` added
                callbacks.queue_event(
                    engine,
                    session,
                    grievance_id=grievance_id,
                    case=case,
                    event=record.event,
                    seq=1,
                    at=record.at,
                    recorded_at=stamp.recorded_at,
                )
    except IntegrityError:
        raise Duplicate(
            f"{command.channel.value} reference {command.ref} was registered at the same time"
        ) from None
    engine.checked.add(policy.key)  # committed: stored (or found equal) for good
    return case


def _run(
    engine: Engine,
    number: str,
    event: Event,
    stamp: Stamp,
    version: int | None,
    **data: Any,
) -> Case:
    fields = {key: value for key, value in data.items() if value is not None}
    return execute(engine, number, parse_command(event, fields), stamp, expected_version=version)


def _action(event: Event) -> Callable[[Callable[P, dict[str, Any] | None]], Action[P]]:
    """The use case of an action on an existing grievance, declared by its fields.

    The declaration's keyword parameters are the command's fields, checked as in any call
    (those left None are dropped); a declaration that returns the fields reshapes them. The
    use case is called as `name(engine, number, stamp, *, fields..., expected_version=None)`
    and runs `execute`: one transaction.
    """

    def declare(fields: Callable[P, dict[str, Any] | None]) -> Action[P]:
        def action(
            engine: Engine, number: str, stamp: Stamp, *args: P.args, **kwargs: P.kwargs
        ) -> Case:
            shaped = fields(*args, **kwargs)  # a field unknown, missing or by position: TypeError
            version = cast("int | None", kwargs.pop("expected_version", None))
            return _run(
                engine, number, event, stamp, version, **(kwargs if shaped is None else shaped)
            )

        action.__name__ = action.__qualname__ = fields.__name__
        action.__doc__ = fields.__doc__
        # Concatenate types engine, number and stamp as positional-only; they may still be
        # given by name, as before
        return cast("Action[P]", action)

    return declare


@_action(Event.ASSIGN)
def assign(
    *, unit: str, co_units: Iterable[str] = (), expected_version: int | None = None
) -> dict[str, Any]:
    """分办: route to a lead unit and optional co-handling units."""
    return {"unit": unit, "co_units": list(co_units)}


@_action(Event.SIGN)
def sign(*, note: str | None = None, expected_version: int | None = None) -> None:
    """签收: the lead unit signs for it; the first unit to sign stays accountable (首办负责)."""


@_action(Event.RETURN)
def return_to_desk(*, reason: str, expected_version: int | None = None) -> None:
    """退单: the unit hands it back to the desk with a reason (counted)."""


@_action(Event.REASSIGN)
def reassign(
    *,
    unit: str,
    reason: str,
    add_co_units: Iterable[str] = (),
    remove_co_units: Iterable[str] = (),
    expected_version: int | None = None,
) -> dict[str, Any]:
    """改派: the desk routes it to another (or the same) unit; the co-handling units stay
    unless removed, others may be added."""
    return {
        "unit": unit,
        "reason": reason,
        "add_co_units": list(add_co_units),
        "remove_co_units": list(remove_co_units),
    }


@_action(Event.FEEDBACK)
def feedback(*, note: str, expected_version: int | None = None) -> None:
    """进展反馈: progress feedback given to the driver."""


@_action(Event.REQUEST_EXTENSION)
def request_extension(*, days: int, reason: str, expected_version: int | None = None) -> None:
    """申请延期: ask for more working days (approved by a supervisor)."""


@_action(Event.APPROVE_EXTENSION)
def approve_extension(*, note: str | None = None, expected_version: int | None = None) -> None:
    """批准延期: a supervisor grants the pending extension."""


@_action(Event.REJECT_EXTENSION)
def reject_extension(*, reason: str, expected_version: int | None = None) -> None:
    """驳回延期: a supervisor refuses the pending extension."""


@_action(Event.SUSPEND)
def suspend(*, reason: str, expected_version: int | None = None) -> None:
    """挂起: stop the clock while waiting on the driver or a third party."""


@_action(Event.RESUME)
def resume(*, note: str | None = None, expected_version: int | None = None) -> None:
    """恢复: handling restarts after a suspension."""


@_action(Event.CLOSE)
def close(
    *,
    result: str,
    note: str,
    recovered: Decimal | str | None = None,
    findings: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> None:
    """办结: close with a result. A no_fault or unsubstantiated result needs its `findings`
    (verification, facts, basis, explanation, explained_at, evidence) and a supervisor."""


@_action(Event.REVISIT)
def revisit(
    *, satisfaction: str, note: str | None = None, expected_version: int | None = None
) -> None:
    """回访: record the driver's answer after closing."""


@_action(Event.REDO)
def redo(*, reason: str, expected_version: int | None = None) -> None:
    """重办: back to handling after a dissatisfied revisit; starts a new cycle."""


@_action(Event.REVIEW)
def review(
    *,
    root_cause: str,
    actions: str,
    lessons: str | None = None,
    responsibility: str | None = None,
    expected_version: int | None = None,
) -> None:
    """复盘: review the case; this finishes it."""


@_action(Event.MERGE)
def merge(*, into: str, reason: str, expected_version: int | None = None) -> None:
    """并单: merge this duplicate into another open grievance, saying why (并单理由)."""


@_action(Event.TYPICAL)
def mark_typical(*, summary: str, expected_version: int | None = None) -> None:
    """典型案例: a reviewer marks a reviewed grievance as typical, with its summary."""


@_action(Event.AMEND)
def amend(
    *,
    reason: str,
    type: str | None = None,
    category: str | None = None,
    description: str | None = None,
    amount: Decimal | str | None = None,
    respondent: str | None = None,
    expected_version: int | None = None,
) -> None:
    """更正: an audited correction of registration facts."""
