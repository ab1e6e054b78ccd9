"""The watchdog: fire the SLA steps that are due (yellow card, red card, 督办...).

`sweep(engine, now)` takes the timers whose `next_fire_at <= now` through the indexed column,
in batches, soonest first. For each grievance it records every due step as an audit event
(时限告警) under the grievance's compare-and-set version, advances the timers with the same
`workflow.sla.advance` that replays the log, and writes the step's notifications to the
outbox. One batch is one transaction, and each grievance in it a savepoint: a sweep killed at
any point leaves whole steps or none, and the next sweep fires what is left, exactly once.

One bad case never stops the sweep: a grievance whose processing raises (a policy version
this process cannot resolve, a row or timer that does not convert, a step its policy lacks)
is rolled back to its savepoint, its due timers are tried one at a time (the ones that work
fire), and what still fails is reported once per grievance version to the bureau's
supervisors through the outbox (`outbox.queue_broken`) and in `SweepResult.broken`. The
other grievances of the batch commit; the broken one is tried again by every sweep, so its
steps fire as soon as it is fixed.

Concurrent sweeps: on SQLite writers queue (BEGIN IMMEDIATE); on PostgreSQL the due timers
are locked FOR UPDATE SKIP LOCKED, so several watchdogs share the work. Either way a step is
recorded once: the grievance version, the audit log's unique (grievance, seq) and the
outbox's unique dedupe key each refuse a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

from models import case_rows, sla_timers
from models.tables import Grievance, SlaTimer
from service import outbox
from service.engine import Engine
from workflow.actor import Actor
from workflow.case import Case, evolve
from workflow.commands import SlaStep
from workflow.errors import Conflict, GrievanceError
from workflow.machine import decide
from workflow.privacy import mask_text
from workflow.sla import advance
from workflow.timers import Timer, due_steps, lateness
from workflow.timeutil import to_utc
from workflow.vocab import Role

WATCHDOG = Actor("watchdog", Role.SYSTEM)
BATCH = 200
# Failures of the machine or the database itself, not of one case: the sweep stops on them
# (the batch rolls back whole and the next sweep does it again), as before.
ENVIRONMENT = (OSError, MemoryError, OperationalError, InterfaceError)


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


@dataclass(frozen=True, slots=True)
class Broken:
    """A grievance whose due steps could not be processed (the sweep went on without it)."""

    number: str
    grievance_id: int
    targets: tuple[str, ...]  # the due timers that failed ("close#1")
    error: str  # one line, personal data masked
    reported: bool  # the supervisors' message was queued by this sweep (else: already was)


@dataclass
class SweepResult:
    now: datetime
    fired: list[Fired] = field(default_factory=list)
    conflicts: int = 0  # grievances changed under us: their steps wait for the next sweep
    batches: int = 0
    broken: list[Broken] = field(default_factory=list)


def describe(error: BaseException) -> str:
    """An error as one masked line: a user error's own message, else its type and message."""
    text = str(error) if isinstance(error, GrievanceError) else f"{type(error).__name__}: {error}"
    return mask_text(" ".join(text.split()))[:300]


def sweep(
    engine: Engine,
    now: datetime,
    *,
    batch: int = BATCH,
    progress: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Fire every step due at `now`; return what was fired (and what could not be)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = to_utc(now)
    result = SweepResult(now)
    skip: set[int] = set()  # timers not finished in this sweep (conflicts): no endless loop
    lock = not engine.db.is_sqlite
    units: outbox.Units | None = None
    while True:
        fired: list[Fired] = []
        broken: list[Broken] = []
        with engine.db.transaction() as session:
            due = sla_timers.due_timer_ids(session, now, batch, skip, lock=lock)
            if not due:
                break
            units = outbox.load_units(session) if units is None else units
            by_grievance: dict[int, set[int]] = {}
            for timer_id, grievance_id in due:
                by_grievance.setdefault(grievance_id, set()).add(timer_id)
            loaded = _load_batch(session, by_grievance)
            work = _Work(engine, session, now, units, loaded, result, skip)
            for grievance_id, ids in sorted(by_grievance.items()):  # one lock order: no deadlock
                fired += work.grievance(grievance_id, ids, broken)
        result.fired += fired  # only what the batch committed
        result.broken += broken
        result.batches += 1
        if progress is not None:
            progress(result)
    return result


_Loaded = tuple[dict[int, Grievance], dict[int, list[SlaTimer]]]


def _load_batch(session: Session, ids: dict[int, set[int]]) -> _Loaded | None:
    """One query each for the batch's grievances and all their timers; None if a row among
    them does not load (each grievance is then loaded on its own, in its savepoint)."""
    try:
        with session.begin_nested():
            return case_rows.rows_by_id(session, ids), sla_timers.timers_of_many(session, ids)
    except ENVIRONMENT:
        raise
    except Exception:  # noqa: BLE001 - a corrupted row: found and reported per grievance
        return None


@dataclass
class _Work:
    """One batch's grievances, each in a savepoint of the batch's transaction."""

    engine: Engine
    session: Session
    now: datetime
    units: outbox.Units
    loaded: _Loaded | None
    result: SweepResult
    skip: set[int]

    def _rows(self, grievance_id: int, fresh: bool) -> tuple[Grievance, list[SlaTimer]]:
        if self.loaded is not None and not fresh:
            rows, timers = self.loaded
            if grievance_id in rows:
                return rows[grievance_id], timers.get(grievance_id, [])
        return case_rows.get_row_by_id(self.session, grievance_id), sla_timers.timers_of(
            self.session, grievance_id
        )

    def _forget(self, grievance_id: int) -> None:
        """After a rolled-back savepoint: the grievance's objects are read again from the
        database (a failed attempt may have given them values it did not keep)."""
        if self.loaded is None:
            return
        rows, timers = self.loaded
        for item in (rows.get(grievance_id), *timers.get(grievance_id, [])):
            if item is not None:
                self.session.expire(item)

    def _attempt(self, grievance_id: int, ids: set[int], fresh: bool) -> list[Fired]:
        """The due steps of `ids` in one savepoint (raises what went wrong, rolled back)."""
        with self.session.begin_nested():
            row, timer_rows = self._rows(grievance_id, fresh)
            due = [t for t in timer_rows if t.id in ids]
            fired = _fire(self.engine, self.session, row, timer_rows, due, self.now, self.units)
        # a timer whose step could not fire (e.g. a policy without it) must not loop
        self.skip.update(
            t.id
            for t in due
            if t.id is not None and t.next_fire_at is not None and t.next_fire_at <= self.now
        )
        return fired

    def grievance(self, grievance_id: int, ids: set[int], broken: list[Broken]) -> list[Fired]:
        try:
            return self._attempt(grievance_id, ids, fresh=False)
        except (Conflict, IntegrityError):
            self.result.conflicts += 1
            self.skip.update(ids)
            return []
        except ENVIRONMENT:
            raise
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the sweep
            failure: BaseException = error
        self.skip.update(ids)
        self._forget(grievance_id)
        fired: list[Fired] = []
        failed = sorted(ids)
        if len(ids) > 1:  # each due timer alone: the ones that work fire
            failed = []
            for timer_id in sorted(ids):
                try:
                    fired += self._attempt(grievance_id, {timer_id}, fresh=True)
                except (Conflict, IntegrityError):
                    self.result.conflicts += 1
                except ENVIRONMENT:
                    raise
                except Exception as error:  # noqa: BLE001 - as above, one timer at a time
                    failure = error
                    failed.append(timer_id)
                    self._forget(grievance_id)
        if failed:
            broken.append(self._report(grievance_id, failed, failure))
        return fired

    def _report(self, grievance_id: int, failed: list[int], error: BaseException) -> Broken:
        """Tell the bureau's supervisors, once per grievance version (a savepoint of its own:
        if even this fails, the sweep still goes on and says so in the result)."""
        text = describe(error)
        number, reported = f"id {grievance_id}", False
        try:
            with self.session.begin_nested():
                label = case_rows.case_label(self.session, grievance_id)
                targets = sla_timers.timer_names(self.session, failed)
                if label is not None:
                    number, version, unit = label
                    rows = outbox.queue_broken(
                        self.engine,
                        self.session,
                        number=number,
                        grievance_id=grievance_id,
                        version=version,
                        unit=unit,
                        targets=targets,
                        error=text,
                        now=self.now,
                        units=self.units,
                    )
                    self.session.flush()
                    reported = bool(rows)
        except ENVIRONMENT:
            raise
        except Exception as failure:  # noqa: BLE001 - the report is best effort; the sweep goes on
            targets = []
            text = f"{text} (and its report failed: {describe(failure)})"
        return Broken(number, grievance_id, tuple(targets), text, reported)


def _fire(
    engine: Engine,
    session: Session,
    row: Grievance,
    timer_rows: list[SlaTimer],
    due: list[SlaTimer],
    now: datetime,
    units: outbox.Units,
) -> list[Fired]:
    """Fire the steps due at `now` of the `due` timers of one grievance."""
    grievance_id = row.id or 0
    case: Case = case_rows.case_from_row(row)
    version = row.version
    policy = engine.policy(case.policy, session)
    calendar = engine.calendars  # each timer on its own calendar (bureau or a unit's)
    timers: tuple[Timer, ...] = tuple(sla_timers.timer_from_row(t) for t in timer_rows)
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
        version = case_rows.record_system_event(session, grievance_id, version, record, now)
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
    sla_timers.save_timers(session, grievance_id, case.number, timer_rows, timers)
    return fired
