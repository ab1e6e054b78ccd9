"""The watchdog: fire the SLA steps that are due (yellow card, red card, 督办...).

`sweep(engine, now)` takes the timers whose `next_fire_at <= now` through the indexed column,
in batches, soonest first. For each grievance it records every due step as an audit event
(时限告警) under the grievance's compare-and-set version, advances the timers with the same
`workflow.sla.advance` that replays the log, and writes the step's notifications to the
outbox. One batch is one transaction, and each grievance in it a savepoint: a sweep killed at
any point leaves whole steps or none, and the next sweep fires what is left, exactly once.

Concurrent sweeps: on SQLite writers queue (BEGIN IMMEDIATE); on PostgreSQL the due timers
are locked FOR UPDATE SKIP LOCKED, so several watchdogs share the work. Either way a step is
recorded once: the grievance version, the audit log's unique (grievance, seq) and the
outbox's unique dedupe key each refuse a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from flows import outbox
from flows.engine import Engine
from models import repo
from models.tables import Grievance, SlaTimer
from workflow.actor import Actor
from workflow.case import Case, evolve
from workflow.commands import SlaStep
from workflow.errors import Conflict
from workflow.machine import decide
from workflow.sla import Timer, advance, due_steps, lateness
from workflow.timeutil import to_utc
from workflow.vocab import Role

WATCHDOG = Actor("watchdog", Role.SYSTEM)
BATCH = 200


@dataclass(frozen=True, slots=True)
class Fired:
    """One step the watchdog recorded (what the Prefect events and the CLI report)."""

    number: str
    target: str
    cycle: int
    step: str
    title: str
    at: datetime
    due_at: datetime
    late: timedelta
    unit: str | None
    audiences: tuple[str, ...]
    notifications: int

    @property
    def breach(self) -> bool:
        return self.at >= self.due_at


@dataclass
class SweepResult:
    now: datetime
    fired: list[Fired] = field(default_factory=list)
    conflicts: int = 0  # grievances changed under us: their steps wait for the next sweep
    batches: int = 0


def sweep(
    engine: Engine,
    now: datetime,
    *,
    batch: int = BATCH,
    progress: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Fire every step due at `now`; return what was fired."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = to_utc(now)
    result = SweepResult(now)
    skip: set[int] = set()  # timers not finished in this sweep (conflicts): no endless loop
    lock = not engine.db.is_sqlite
    units: outbox.Units | None = None
    while True:
        fired: list[Fired] = []
        with engine.db.transaction() as session:
            due = repo.due_timers(session, now, batch, skip, lock=lock)
            if not due:
                break
            units = outbox.load_units(session) if units is None else units
            by_grievance: dict[int, list[SlaTimer]] = {}
            for row in due:
                by_grievance.setdefault(row.grievance_id, []).append(row)
            # one query each for the batch's grievances and all their timers
            grievances = repo.rows_by_id(session, by_grievance)
            timers = repo.timers_of_many(session, by_grievance)
            for grievance_id, rows in sorted(by_grievance.items()):  # one lock order: no deadlock
                try:
                    with session.begin_nested():
                        fired += _fire(
                            engine,
                            session,
                            grievances[grievance_id],
                            timers[grievance_id],
                            rows,
                            now,
                            units,
                        )
                except (Conflict, IntegrityError):
                    result.conflicts += 1
                    skip.update(r.id for r in rows if r.id is not None)
                    continue
                # a timer whose step could not fire (e.g. a policy without it) must not loop
                skip.update(
                    r.id
                    for r in rows
                    if r.id is not None and r.next_fire_at is not None and r.next_fire_at <= now
                )
        result.fired += fired  # only what the batch committed
        result.batches += 1
        if progress is not None:
            progress(result)
    return result


def _fire(
    engine: Engine,
    session: Session,
    row: Grievance,
    timer_rows: list[SlaTimer],
    due: list[SlaTimer],
    now: datetime,
    units: outbox.Units,
) -> list[Fired]:
    grievance_id = row.id or 0
    case: Case = repo.case_from_row(row)
    version = row.version
    policy = engine.policies.get(case.policy)
    calendar = engine.calendars  # each timer on its own calendar (bureau or a unit's)
    timers: tuple[Timer, ...] = tuple(repo.timer_from_row(t) for t in timer_rows)
    wanted = {(r.target, r.cycle) for r in due}
    fired: list[Fired] = []
    while True:  # the due steps of this grievance's due timers, in the order they came due
        candidates = [
            (steps[0], timer, target)
            for timer in timers
            if timer.key in wanted
            for target in (policy.target(timer.target),)
            for steps in (due_steps(timer, target, calendar, now),)
            if steps
        ]
        if not candidates:
            break
        step, timer, target = min(candidates, key=lambda c: (c[0].at, c[1].target, c[1].cycle))
        late = lateness(timer, target, calendar, step.at)
        command = SlaStep(
            target=timer.target,
            cycle=timer.cycle,
            step=step.index,
            name=step.name,
            title=step.title_zh,
            due=timer.due_at,
            late_seconds=int(late.total_seconds()),
            notify=[a.value for a in step.notify],
        )
        record = decide(case.number, case, command, actor=WATCHDOG, at=step.at)
        new = evolve(case, record)
        if new != case:
            raise RuntimeError(f"{case.number}: a fired step must not change the case")
        version = repo.record_system_event(session, grievance_id, version, record, now)
        timers = advance(timers, record, case, policy, calendar)
        case = new
        rows = outbox.queue_step(
            engine,
            session,
            case=case,
            grievance_id=grievance_id,
            policy=policy,
            target=target,
            timer=timer,
            step=step,
            late=late,
            now=now,
            units=units,
        )
        fired.append(
            Fired(
                number=case.number,
                target=timer.target,
                cycle=timer.cycle,
                step=step.name,
                title=step.title_zh,
                at=step.at,
                due_at=timer.due_at,
                late=late,
                unit=case.lead_unit,
                audiences=tuple(a.value for a in step.notify),
                notifications=len(rows),
            )
        )
    repo.save_timers(session, grievance_id, case.number, timer_rows, timers)
    return fired
