"""Use cases: one function per operation, each one database transaction.

Shape of every operation: load -> `machine.decide` -> `evolve` -> save (compare-and-set) plus
one audit event and the advanced SLA timers, all in one transaction. No Prefect here: the CLI,
the flows and the tests all call these functions. The caller reads the clock once and passes
it in a `Stamp`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import repo
from models.tables import Grievance, GrievanceEvent, Notification, Unit, UnitCalendarRevision
from service import delivery, document_jobs, outbox, watchdog
from service.delivery import check_url
from service.engine import Engine
from workflow.actor import Actor
from workflow.case import Case, Record, evolve
from workflow.commands import (
    INSTANT_YEARS,
    Accept,
    Assign,
    Command,
    Merge,
    Reassign,
    parse_command,
)
from workflow.errors import Conflict, Duplicate, InvalidInput, NotFound, PermissionDenied
from workflow.machine import SYSTEM_EVENTS, Facts, can_see, decide
from workflow.policies import Policy
from workflow.sla import (
    Calendars,
    Timer,
    advance,
    on_unit_calendar,
    rebuild,
    unit_calendar_id,
)
from workflow.timeutil import iso, local, to_utc
from workflow.unit_time import UnitTime
from workflow.validation import UnitName, has_binary, is_grievance_number, is_unit_code
from workflow.vocab import Event, Role, Satisfaction, State

VERSION_MAX = 2**31 - 1  # versions, offsets and ids a user may give (SQL integers)
# who records that a timer moved to the lead unit's calendar after an assignment or a redo
CALENDAR_KEEPER = Actor("calendar", Role.SYSTEM)


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who acts, the effective time they state, and the wall-clock time of recording."""

    actor: Actor
    at: datetime
    recorded_at: datetime

    def __post_init__(self) -> None:
        first, last = INSTANT_YEARS
        if not first - 1 <= self.at.year <= last + 1:  # before zone arithmetic can overflow
            raise InvalidInput(f"effective time: use a time in the years {first}-{last}")
        object.__setattr__(self, "at", to_utc(self.at))
        object.__setattr__(self, "recorded_at", to_utc(self.recorded_at))
        check_actor(self.actor)
        if not first <= local(self.at).year <= last:
            raise InvalidInput(
                f"effective time {iso(self.at)}: use a time in the years {first}-{last}"
            )


def check_actor(actor: Actor) -> None:
    """Who acts is recorded in the audit log: a name that is text, a unit that is a code."""
    if has_binary(actor.name):
        raise InvalidInput("actor name: contains control characters or binary data")
    if actor.unit is not None and not is_unit_code(actor.unit):
        raise InvalidInput(f"actor unit {actor.unit[:40]!r} is not a valid unit code")


def check_number(number: str) -> None:
    """A grievance number as the user typed it, before it is looked up."""
    if not is_grievance_number(number):
        raise InvalidInput(
            f"not a grievance number: {number[:40]!r} (letters, digits and '-', e.g. 20261123-0001)"
        )


def require_desk(actor: Actor, what: str) -> None:
    """The desk's own work: a dispatcher or a bureau supervisor (not unit staff)."""
    if actor.role not in (Role.DISPATCHER, Role.SUPERVISOR) or actor.unit_bound:
        raise PermissionDenied(f"only the desk (a dispatcher or bureau supervisor) {what}")


def require_bureau(actor: Actor, what: str) -> None:
    """Work that reads every unit's grievances: bureau roles only, never unit staff."""
    if actor.unit_bound:
        raise PermissionDenied(
            f"{what} covers every unit's grievances: not for unit staff "
            f"({actor.role.value} of unit {actor.unit})"
        )


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as one actor may see it: state, version, audit events, SLA timers."""

    case: Case
    version: int
    events: Sequence[GrievanceEvent]
    timers: Sequence[Timer] = ()
    explanations: dict[tuple[str, int], list[str]] = field(default_factory=dict)


def _facts(session: Session, command: Command, policy: Policy) -> Facts:
    """Look up what the guards of `command` need to know."""
    facts = Facts(max_extensions=policy.max_extensions)
    if isinstance(command, Assign | Reassign):
        units = {command.unit, *command.co_units}
        return replace(facts, unknown_units=repo.missing_units(session, units))
    if isinstance(command, Merge):
        return replace(facts, merge_target_state=repo.state_of(session, command.into))
    return facts


def _id(row: Grievance) -> int:
    if row.id is None:
        raise RuntimeError("grievance row without id")
    return row.id


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
    new_version = repo.update_case(session, row_id, version, new, record, recorded_at, case)
    timer_rows = repo.timer_rows_of(session, row_id)
    stored = [repo.timer_from_row(t) for t in timer_rows]
    timers = advance(stored, record, case, policy, engine.calendars)
    # a new lead unit (or a redo's new cycle) puts the unit's timers on its calendar
    _, _, timers, _ = _to_unit_calendar(
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
    repo.save_timers(session, row_id, case.number, timer_rows, timers, stored)
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
    recalculated deadline) don't make a person's view stale."""
    if expected == version:
        return False
    if expected > version:
        return True
    later = repo.events_since(session, row_id, expected)
    return any(event.event not in SYSTEM_EVENTS for event in later)


def execute(
    engine: Engine,
    number: str,
    command: Command,
    stamp: Stamp,
    *,
    expected_version: int | None = None,
) -> Case:
    """Apply one command to an existing grievance in one transaction; return the new case.

    `expected_version` is the version the actor looked at (a form, `show`): if the grievance
    has moved on since, the command is refused with Conflict instead of applied blindly.
    """
    if command.event is Event.ACCEPT:
        raise InvalidInput("use accept() to register a new grievance")
    check_number(number)
    if expected_version is not None and not 0 <= expected_version <= VERSION_MAX:
        raise InvalidInput(f"expected version must be between 0 and {VERSION_MAX}")
    try:
        with engine.db.transaction() as session:
            row_id, version, case = repo.load_case(session, number)
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
            facts = _facts(session, command, policy)
            record = decide(number, case, command, actor=stamp.actor, at=stamp.at, facts=facts)
            new = _commit(engine, session, row_id, version, case, record, policy, stamp.recorded_at)
    except IntegrityError:
        raise Conflict(
            f"grievance {number} was changed by someone else at the same time; retry"
        ) from None
    return new


def accept(engine: Engine, command: Accept, stamp: Stamp) -> Case:
    """受理: register a new grievance; its number is given here (20261123-0001).

    It gets the deployment's policy (or the urgent one) in its current version, for good:
    that version is stored in the same transaction if it is its first use (and refused,
    with nothing written, if the stored one of that number says something else).
    """
    try:
        with engine.db.transaction() as session:
            existing = repo.number_by_ref(session, command.channel, command.ref)
            if existing is not None:
                ref = f"{command.channel.value} reference {command.ref}"
                raise Duplicate(f"{ref} is already grievance {existing}")
            number = repo.next_number(session, local(stamp.at).date())
            policy = engine.policy_for_new(command.urgent)
            engine.use_policy(session, policy, stamp.recorded_at)
            facts = Facts(policy=policy.key)
            record = decide(number, None, command, actor=stamp.actor, at=stamp.at, facts=facts)
            case = evolve(None, record)
            grievance_id = repo.insert_case(session, case, record, stamp.recorded_at)
            timers = advance((), record, None, policy, engine.calendar)
            repo.save_timers(session, grievance_id, number, [], timers)
    except IntegrityError:
        raise Duplicate(
            f"{command.channel.value} reference {command.ref} was registered at the same time"
        ) from None
    engine.checked.add(policy.key)  # committed: stored (or found equal) for good
    return case


def _run(
    engine: Engine, number: str, event: Event, stamp: Stamp, version: int | None, **data: Any
) -> Case:
    fields = {key: value for key, value in data.items() if value is not None}
    return execute(engine, number, parse_command(event, fields), stamp, expected_version=version)


def assign(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    unit: str,
    co_units: Iterable[str] = (),
    expected_version: int | None = None,
) -> Case:
    """分办: route to a lead unit and optional co-handling units."""
    return _run(
        engine, number, Event.ASSIGN, stamp, expected_version, unit=unit, co_units=list(co_units)
    )


def sign(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """签收: the lead unit signs for it; the first unit to sign stays accountable (首办负责)."""
    return _run(engine, number, Event.SIGN, stamp, expected_version, note=note)


def return_to_desk(
    engine: Engine, number: str, stamp: Stamp, *, reason: str, expected_version: int | None = None
) -> Case:
    """退单: the unit hands it back to the desk with a reason (counted)."""
    return _run(engine, number, Event.RETURN, stamp, expected_version, reason=reason)


def reassign(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    unit: str,
    reason: str,
    co_units: Iterable[str] = (),
    expected_version: int | None = None,
) -> Case:
    """改派: the desk routes it to another (or the same) unit."""
    return _run(
        engine,
        number,
        Event.REASSIGN,
        stamp,
        expected_version,
        unit=unit,
        reason=reason,
        co_units=list(co_units),
    )


def feedback(
    engine: Engine, number: str, stamp: Stamp, *, note: str, expected_version: int | None = None
) -> Case:
    """进展反馈: progress feedback given to the driver."""
    return _run(engine, number, Event.FEEDBACK, stamp, expected_version, note=note)


def request_extension(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    days: int,
    reason: str,
    expected_version: int | None = None,
) -> Case:
    """申请延期: ask for more working days (approved by a supervisor)."""
    return _run(
        engine, number, Event.REQUEST_EXTENSION, stamp, expected_version, days=days, reason=reason
    )


def approve_extension(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """批准延期: a supervisor grants the pending extension."""
    return _run(engine, number, Event.APPROVE_EXTENSION, stamp, expected_version, note=note)


def reject_extension(
    engine: Engine, number: str, stamp: Stamp, *, reason: str, expected_version: int | None = None
) -> Case:
    """驳回延期: a supervisor refuses the pending extension."""
    return _run(engine, number, Event.REJECT_EXTENSION, stamp, expected_version, reason=reason)


def suspend(
    engine: Engine, number: str, stamp: Stamp, *, reason: str, expected_version: int | None = None
) -> Case:
    """挂起: stop the clock while waiting on the driver or a third party."""
    return _run(engine, number, Event.SUSPEND, stamp, expected_version, reason=reason)


def resume(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """恢复: handling restarts after a suspension."""
    return _run(engine, number, Event.RESUME, stamp, expected_version, note=note)


def close(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    result: str,
    note: str,
    recovered: Decimal | str | None = None,
    findings: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> Case:
    """办结: close with a result. A no_fault or unsubstantiated result needs its `findings`
    (verification, facts, basis, explanation, explained_at, evidence) and a supervisor."""
    return _run(
        engine,
        number,
        Event.CLOSE,
        stamp,
        expected_version,
        result=result,
        note=note,
        recovered=recovered,
        findings=findings,
    )


def revisit(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    satisfaction: str,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """回访: record the driver's answer after closing."""
    return _run(
        engine, number, Event.REVISIT, stamp, expected_version, satisfaction=satisfaction, note=note
    )


def redo(
    engine: Engine, number: str, stamp: Stamp, *, reason: str, expected_version: int | None = None
) -> Case:
    """重办: back to handling after a dissatisfied revisit; starts a new cycle."""
    return _run(engine, number, Event.REDO, stamp, expected_version, reason=reason)


def review(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    root_cause: str,
    actions: str,
    lessons: str | None = None,
    responsibility: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """复盘: review the case; this finishes it."""
    return _run(
        engine,
        number,
        Event.REVIEW,
        stamp,
        expected_version,
        root_cause=root_cause,
        actions=actions,
        lessons=lessons,
        responsibility=responsibility,
    )


def merge(
    engine: Engine, number: str, stamp: Stamp, *, into: str, expected_version: int | None = None
) -> Case:
    """并单: merge this duplicate into another open grievance."""
    return _run(engine, number, Event.MERGE, stamp, expected_version, into=into)


def amend(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    reason: str,
    type: str | None = None,
    category: str | None = None,
    description: str | None = None,
    amount: Decimal | str | None = None,
    respondent: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """更正: an audited correction of registration facts."""
    return _run(
        engine,
        number,
        Event.AMEND,
        stamp,
        expected_version,
        reason=reason,
        type=type,
        category=category,
        description=description,
        amount=amount,
        respondent=respondent,
    )


def show(engine: Engine, number: str, actor: Actor, *, explain: bool = False) -> CaseView:
    """One grievance with its audit events and SLA timers, if the actor may see it.

    With `explain`, every timer's deadline is explained (days skipped and why, the lunch
    break, pauses, extensions) by replaying the audit log.
    """
    check_number(number)
    with engine.db.read() as session:
        row = repo.get_row(session, number)
        case = repo.case_from_row(row)
        if not can_see(actor, case):
            raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
        events = repo.events_of(session, number)
        timers = [repo.timer_from_row(t) for t in repo.timers_of(session, _id(row))]
        policy = engine.policy(case.policy, session)
    order = {target.name: i for i, target in enumerate(policy.targets)}
    timers.sort(key=lambda t: (order.get(t.target, len(order)), t.cycle))
    notes: dict[tuple[str, int], list[str]] = {}
    if explain:
        rebuild((repo.record_from_event(e) for e in events), policy, engine.calendars, notes)
    return CaseView(case, row.version, events, timers, notes)


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
        rows = repo.list_rows(
            session, state=state, unit=unit, visible_to_unit=visible, limit=limit, offset=offset
        )
        cases = [repo.case_from_row(row) for row in rows]
    # the query's unit match is a LIKE, where '_' in a unit code matches any character:
    # what the actor may see is decided here, as everywhere, by `can_see`
    return [case for case in cases if can_see(actor, case)]


def _may_see(engine: Engine, number: str, actor: Actor) -> None:
    """PermissionDenied unless `actor` may see grievance `number` (NotFound if none)."""
    check_number(number)
    with engine.db.read() as session:
        case = repo.case_from_row(repo.get_row(session, number))
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
                repo.names_co_unit(unit),
            )
        )
    )
    if status is not None:
        query = query.where(col(Notification.status) == status)
    with engine.db.read() as session:
        rows = session.exec(query.order_by(col(Notification.id)).limit(limit)).all()
        return [delivery.listed(row) for row in rows]


def _desk_only(stamp: Stamp, what: str) -> None:
    require_desk(stamp.actor, what)


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
    _desk_only(stamp, "adds units")
    if not is_unit_code(code):
        raise InvalidInput(f"unit code {code!r}: use 1-32 letters, digits, '-' or '_'")
    name = _validate_unit_name(name)
    handlers = [check_url(url) for url in notify]
    supervisors = [check_url(url) for url in supervisor_notify]
    with engine.db.transaction() as session:
        return repo.add_unit(
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
    _desk_only(stamp, "changes unit notification targets")
    if not is_unit_code(code):
        raise InvalidInput(f"unit code {code[:40]!r}: use 1-32 letters, digits, '-' or '_'")
    handlers = [check_url(url) for url in notify]
    supervisors = [check_url(url) for url in supervisor_notify]
    with engine.db.transaction() as session:
        return repo.set_unit_targets(
            session, code=code, notify=handlers, supervisor_notify=supervisors
        )


def _validate_unit_name(name: str) -> str:
    try:
        return TypeAdapter(UnitName).validate_python(name)
    except ValidationError as error:
        raise InvalidInput(f"unit name: {error.errors()[0]['msg']}") from None


def list_units(engine: Engine) -> Sequence[Unit]:
    with engine.db.read() as session:
        return repo.list_units(session)


# ----------------------------------------------------------------------------- SLA upkeep
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
    records = [repo.record_from_event(e) for e in repo.events_of(session, row.number)]
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
        numbers = repo.all_numbers(session)
    for number in numbers:
        try:
            with engine.db.transaction() if fix else engine.db.read() as session:
                row = repo.get_row(session, number)
                rows = repo.timers_of(session, _id(row))
                stored = tuple(repo.timer_from_row(t) for t in rows)
                rebuilt = rebuilt_timers(engine, session, row)
                if set(stored) != set(rebuilt):
                    keys = sorted({t.key for t in set(stored) ^ set(rebuilt)})
                    problems.append(f"{number}: timers differ from the audit log: {keys}")
                    if fix:
                        repo.save_timers(session, _id(row), number, rows, rebuilt)
        except watchdog.ENVIRONMENT:
            raise
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the check
            problems.append(f"{number}: cannot be replayed: {watchdog.describe(error)}")
    return problems


def _record_moves(
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
        version = repo.update_case(session, grievance_id, version, new, record, recorded_at, case)
        case = new
    return version, case


def _to_unit_calendar(
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
    log = [repo.record_from_event(e) for e in repo.events_of(session, case.number)]
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
    version, case = _record_moves(
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


# ----------------------------------------------------------------------------- unit calendars
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
    _desk_only(stamp, "changes unit calendars")
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
        if repo.missing_units(session, {code}):
            raise NotFound(f"unit {code} does not exist (add it with `grievance unit add`)")
        latest = repo.latest_unit_calendar(session, code)
        same = (hours, workdays, rest_days) == (
            (latest.hours, latest.workdays, latest.rest_days) if latest else (None, {}, {})
        )
        if same:
            return UnitCalendarChange(code, None, engine.calendars.of_unit(code), [])
        row = repo.add_unit_calendar(
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
        for grievance_id in repo.grievance_ids_led_with_open_timers(session, code):
            grievance = repo.get_row_by_id(session, grievance_id)
            rows = repo.timers_of(session, grievance_id)
            stored = tuple(repo.timer_from_row(r) for r in rows)
            _, _, timers, switched = _to_unit_calendar(
                calendars,
                session,
                grievance_id,
                grievance.version,
                repo.case_from_row(grievance),
                engine.policy(grievance.policy, session),
                stored,
                actor=stamp.actor,
                at=stamp.at,
                recorded_at=stamp.recorded_at,
                reason=reason,
            )
            if switched:
                repo.save_timers(session, grievance_id, grievance.number, rows, timers)
                moved += switched
    engine.adopt_unit_revisions(revisions)  # the transaction is committed: the engine follows
    return UnitCalendarChange(code, row.revision, calendars.of_unit(code), moved)


def unit_calendars(engine: Engine) -> dict[str, UnitCalendarRevision]:
    """Each unit's current calendar revision (units without one are left out)."""
    with engine.db.read() as session:
        latest: dict[str, UnitCalendarRevision] = {}
        for row in repo.unit_calendars(session):
            latest[row.unit_code] = row
        return latest
