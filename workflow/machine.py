"""The lifecycle as one transition table, checked at import, and `decide`, its only door.

`decide` answers one question: may this actor apply this command to this case now? It returns
the `Record` to store, or raises an error that names the grievance, state, event and the
events allowed now. Callers then `evolve` the case with the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from workflow.actor import Actor
from workflow.case import TERMINAL_STATES, Case, Record
from workflow.commands import (
    CO_UNITS_MAX,
    NO_FAULT_RESULTS,
    Amend,
    Attach,
    Close,
    Command,
    Merge,
    Reassign,
)
from workflow.errors import GuardFailed, IllegalTransition, InvalidInput, PermissionDenied
from workflow.vocab import Event, Role, Satisfaction, State

D, H, S, R = Role.DISPATCHER, Role.HANDLER, Role.SUPERVISOR, Role.REVIEWER
SYS = Role.SYSTEM
MAX_EXTENSIONS = 1  # "normally once"; a policy may allow more (see the SLA issue)
# Events that only record a fact (about the timers, a reviewed case marked typical, a file of
# evidence attached) and change nothing of the case: the one kind of row a terminal state may
# have (it stays where it is: nothing leaves a final state).
RECORD_ONLY = frozenset({Event.RECALCULATE, Event.SLA_STEP, Event.TYPICAL, Event.ATTACH})
# Events the engine records on its own schedule: they neither move the case's effective time
# forward nor make a person's view of the case stale.
SYSTEM_EVENTS = frozenset({Event.RECALCULATE, Event.SLA_STEP})
# Events after which a person's view of the case still holds (`--expect-version`, a form):
# the engine's own, and a file of evidence attached (it changes nothing a form decides on).
VIEW_KEEPING = SYSTEM_EVENTS | {Event.ATTACH}


class Scope(StrEnum):
    """Which unit-bound actors (handlers, unit supervisors) may act."""

    ANY = "any"  # the desk's own work: unit staff may not do it at all
    LEAD = "lead"  # the lead unit only
    LEAD_OR_CO = "lead_or_co"  # the lead unit and the co-handling units


@dataclass(frozen=True, slots=True)
class Transition:
    event: Event
    sources: frozenset[State]
    target: State | None  # None: stays in the state it came from
    roles: frozenset[Role]
    scope: Scope = Scope.ANY
    guards: tuple[str, ...] = ()
    # a unit's work (scope LEAD or LEAD_OR_CO) is done by that unit's staff; `bureau` lets a
    # bureau-level supervisor (one without a unit) do it too: the approvals
    bureau: bool = False

    def target_from(self, state: State) -> State:
        return self.target or state


def _t(
    event: Event,
    sources: Iterable[State],
    target: State | None,
    roles: Iterable[Role],
    scope: Scope = Scope.ANY,
    guards: tuple[str, ...] = (),
    bureau: bool = False,
) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(roles), scope, guards, bureau)


_st = State
OPEN_STATES = (_st.ACCEPTED, _st.ASSIGNED, _st.RETURNED, _st.HANDLING, _st.SUSPENDED)
WORKING = (_st.HANDLING, _st.SUSPENDED)
# evidence may come in at any stage, also after the close (a driver's late receipt) and for
# the review; not to a merged duplicate (its evidence goes to the grievance it joined)
ATTACHABLE = [s for s in _st if s not in (_st.NEW, _st.MERGED)]

# fmt: off
TABLE: tuple[Transition, ...] = (
    #  event                    from                          to             who        unit scope        guards
    _t(Event.ACCEPT,            [_st.NEW],                    _st.ACCEPTED,  [D]),
    _t(Event.ASSIGN,            [_st.ACCEPTED],               _st.ASSIGNED,  [D],       guards=("units_known",)),
    _t(Event.REASSIGN,          [_st.RETURNED, _st.ASSIGNED], _st.ASSIGNED,  [D],       guards=("units_known", "co_units_change")),
    _t(Event.SIGN,              [_st.ASSIGNED],               _st.HANDLING,  [H, S],    Scope.LEAD),
    _t(Event.RETURN,            [_st.ASSIGNED, _st.HANDLING], _st.RETURNED,  [H, S],    Scope.LEAD),
    _t(Event.FEEDBACK,          WORKING,                      None,          [H, S],    Scope.LEAD_OR_CO),
    _t(Event.REQUEST_EXTENSION, WORKING,                      None,          [H, S],    Scope.LEAD, ("no_pending_extension", "extension_quota")),
    _t(Event.APPROVE_EXTENSION, WORKING,                      None,          [S],       Scope.LEAD, ("extension_pending",), bureau=True),
    _t(Event.REJECT_EXTENSION,  WORKING,                      None,          [S],       Scope.LEAD, ("extension_pending",), bureau=True),
    _t(Event.SUSPEND,           [_st.HANDLING],               _st.SUSPENDED, [S],       Scope.LEAD, bureau=True),
    _t(Event.RESUME,            [_st.SUSPENDED],              _st.HANDLING,  [H, S],    Scope.LEAD),
    _t(Event.CLOSE,             [_st.HANDLING],               _st.CLOSED,    [H, S],    Scope.LEAD),
    _t(Event.REVISIT,           [_st.CLOSED],                 _st.REVISITED, [D]),
    _t(Event.REVISIT,           [_st.REVISITED],              None,          [D],       guards=("driver_was_unreachable",)),
    _t(Event.REDO,              [_st.REVISITED],              _st.HANDLING,  [D, S],    guards=("driver_dissatisfied",)),
    _t(Event.REVIEW,            [_st.REVISITED],              _st.REVIEWED,  [R]),
    _t(Event.MERGE,             OPEN_STATES,                  _st.MERGED,    [D],       guards=("merge_target_open",)),
    _t(Event.RECALCULATE,       [s for s in _st if s is not _st.NEW], None, [D, S, SYS]),
    _t(Event.SLA_STEP,          [s for s in _st if s is not _st.NEW], None, [SYS]),
    _t(Event.AMEND,             [*OPEN_STATES, _st.CLOSED, _st.REVISITED], None, [D, S], guards=("amend_changes_something",)),
    _t(Event.TYPICAL,           [_st.REVIEWED],               None,          [R]),
    _t(Event.ATTACH,            ATTACHABLE,                   None,          [D, H, S, R], Scope.LEAD_OR_CO, ("not_attached_yet",), bureau=True),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Facts:
    """What the use case looked up in storage for the guards (nothing here reads storage)."""

    unknown_units: frozenset[str] = frozenset()
    merge_target_state: State | None = None  # None: the target grievance does not exist
    max_extensions: int = MAX_EXTENSIONS
    policy: str = "2142@1"  # the policy version a new grievance is accepted under
    attached: frozenset[str] = frozenset()  # SHA-256 of the files already attached to the case


Guard = Callable[[Case, Command, Facts], str | None]


def _units_known(case: Case, command: Command, facts: Facts) -> str | None:
    if facts.unknown_units:
        units = ", ".join(sorted(facts.unknown_units))
        return f"unknown unit(s): {units} (add one with `grievance unit add`)"
    return None


def _no_pending_extension(case: Case, command: Command, facts: Facts) -> str | None:
    if case.pending_extension_days is not None:
        return f"an extension of {case.pending_extension_days} working day(s) is already pending"
    return None


def _extension_quota(case: Case, command: Command, facts: Facts) -> str | None:
    if case.extensions_granted >= facts.max_extensions:
        return f"extensions are limited to {facts.max_extensions} per case and one was granted"
    return None


def _extension_pending(case: Case, command: Command, facts: Facts) -> str | None:
    return None if case.pending_extension_days is not None else "no extension is pending"


def _driver_dissatisfied(case: Case, command: Command, facts: Facts) -> str | None:
    if case.satisfaction is not Satisfaction.DISSATISFIED:
        shown = case.satisfaction.value if case.satisfaction else "none"
        return f"redo needs a dissatisfied revisit (the revisit said {shown})"
    return None


def _driver_was_unreachable(case: Case, command: Command, facts: Facts) -> str | None:
    if case.satisfaction is not Satisfaction.UNREACHABLE:
        return "the driver was already reached; a revisit is repeated only after 'unreachable'"
    return None


def _merge_target_open(case: Case, command: Command, facts: Facts) -> str | None:
    if not isinstance(command, Merge):
        raise TypeError("merge_target_open guards MERGE only")
    if command.into == case.number:
        return "a grievance cannot be merged into itself"
    if facts.merge_target_state is None:
        return f"grievance {command.into} does not exist"
    if facts.merge_target_state not in OPEN_STATES:
        # closed or revisited too: the duplicate's driver would never hear back
        return (
            f"grievance {command.into} is {facts.merge_target_state.value}; merge into an open one"
        )
    return None


def co_units_after(case: Case, command: Reassign) -> list[str]:
    """The co-handling units after a reassignment: the current ones stay unless removed (or
    now leading), then the added ones."""
    removed = {*command.remove_co_units, command.unit}
    kept = [code for code in case.co_units if code not in removed]
    return kept + [code for code in command.add_co_units if code not in kept]


def reassign_payload(case: Case, command: Reassign) -> dict[str, Any]:
    """The audit record of 改派: the command, the co-handling units before and after (what
    `evolve` reads, as for an assignment)."""
    return {
        **command.payload(),
        "co_units_before": list(case.co_units),
        "co_units": co_units_after(case, command),
    }


def _co_units_change(case: Case, command: Command, facts: Facts) -> str | None:
    if not isinstance(command, Reassign):
        raise TypeError("co_units_change guards REASSIGN only")
    strangers = [code for code in command.remove_co_units if code not in case.co_units]
    if strangers:
        now = ", ".join(case.co_units) or "none"
        return f"not a co-handling unit of this grievance: {', '.join(strangers)} (now: {now})"
    if len(co_units_after(case, command)) > CO_UNITS_MAX:
        return f"a grievance has at most {CO_UNITS_MAX} co-handling units"
    return None


def _amend_changes_something(case: Case, command: Command, facts: Facts) -> str | None:
    if not isinstance(command, Amend):
        raise TypeError("amend_changes_something guards AMEND only")
    amount = None if command.amount is None else int(command.amount * 100)
    changes = [
        command.type not in (None, case.type),
        command.category not in (None, case.category),
        command.description not in (None, case.description),
        amount not in (None, case.amount_fen),
        command.respondent not in (None, case.respondent),
    ]
    return None if any(changes) else "the amendment changes nothing"


def _not_attached_yet(case: Case, command: Command, facts: Facts) -> str | None:
    """The same bytes twice on one grievance: refused (one event per piece of evidence); the
    same file on another grievance is that grievance's evidence too, and allowed."""
    if not isinstance(command, Attach):
        raise TypeError("not_attached_yet guards ATTACH only")
    if command.sha256 in facts.attached:
        return f"this file (SHA-256 {command.sha256[:12]}) is already attached to this grievance"
    return None


GUARDS: dict[str, Guard] = {
    "units_known": _units_known,
    "no_pending_extension": _no_pending_extension,
    "extension_quota": _extension_quota,
    "extension_pending": _extension_pending,
    "driver_dissatisfied": _driver_dissatisfied,
    "driver_was_unreachable": _driver_was_unreachable,
    "merge_target_open": _merge_target_open,
    "co_units_change": _co_units_change,
    "amend_changes_something": _amend_changes_something,
    "not_attached_yet": _not_attached_yet,
}
# The guards that inspect a command of one type, so validation can check the pairing.
_GUARD_COMMAND: dict[str, type[Command]] = {
    "merge_target_open": Merge,
    "co_units_change": Reassign,
    "amend_changes_something": Amend,
    "not_attached_yet": Attach,
}


class TableError(Exception):
    """The transition table is inconsistent (a programming error, found at import)."""


def validate_table(table: Iterable[Transition]) -> None:
    """One initial state, every state reachable, no exits from terminal states, known guards,
    and no two rows for the same (state, event) pair."""
    rows = list(table)
    initial = [s for s in State if s is State.NEW]
    if len(initial) != 1:
        raise TableError("exactly one initial state (NEW) is required")
    seen: set[tuple[State, Event]] = set()
    for row in rows:
        for source in row.sources:
            if source in TERMINAL_STATES and not (row.event in RECORD_ONLY and row.target is None):
                raise TableError(f"{row.event.value} leaves terminal state {source.value}")
            if (source, row.event) in seen:
                raise TableError(f"two rows for {row.event.value} in {source.value}")
            seen.add((source, row.event))
        if row.target is State.NEW:
            raise TableError(f"{row.event.value} goes back to the initial state")
        for guard in row.guards:
            if guard not in GUARDS:
                raise TableError(f"{row.event.value}: unknown guard {guard!r}")
            wanted = _GUARD_COMMAND.get(guard)
            if wanted is not None and wanted.event is not row.event:
                raise TableError(f"guard {guard} inspects {wanted.__name__}, not {row.event.value}")
        if not row.roles:
            raise TableError(f"{row.event.value}: nobody may do it")
    reachable, frontier = {State.NEW}, [State.NEW]
    while frontier:
        state = frontier.pop()
        for row in rows:
            if state in row.sources and row.target_from(state) not in reachable:
                reachable.add(row.target_from(state))
                frontier.append(row.target_from(state))
    unreachable = set(State) - reachable
    if unreachable:
        raise TableError(f"unreachable states: {sorted(s.value for s in unreachable)}")


validate_table(TABLE)
_INDEX: dict[tuple[State, Event], Transition] = {
    (source, row.event): row for row in TABLE for source in row.sources
}


def transition_for(state: State, event: Event) -> Transition | None:
    """The table row that allows `event` in `state`, if any (guards not checked)."""
    return _INDEX.get((state, event))


def allowed_events(state: State) -> list[Event]:
    """Events the table allows in `state`, sorted (before guards and permissions)."""
    return sorted({event for (source, event) in _INDEX if source is state})


def can_see(actor: Actor, case: Case) -> bool:
    """Unit staff see only the cases their unit has a stake in; desk roles see all."""
    return not actor.unit_bound or actor.unit in case.units()


def _authorize(actor: Actor, row: Transition, case: Case | None, number: str) -> None:
    if actor.role not in row.roles:
        who = ", ".join(sorted(r.value for r in row.roles))
        raise PermissionDenied(
            f"grievance {number}: a {actor.role.value} may not {row.event.value} (only {who})"
        )
    if case is None or (not actor.unit_bound and (row.scope is Scope.ANY or row.bureau)):
        return
    if not actor.unit_bound:  # a bureau-level supervisor, on a unit's own work
        units = "lead unit" if row.scope is Scope.LEAD else "lead or a co-handling unit"
        raise PermissionDenied(
            f"grievance {number}: {row.event.value} is the unit's work: only staff of the "
            f"{units} may do it (the lead unit is {case.lead_unit or 'not set'}); "
            "a bureau supervisor may not"
        )
    if row.scope is Scope.ANY:
        raise PermissionDenied(
            f"grievance {number}: {row.event.value} is the desk's work, not a unit's"
        )
    allowed = {case.lead_unit} | (set(case.co_units) if row.scope is Scope.LEAD_OR_CO else set())
    if actor.unit not in allowed:
        raise PermissionDenied(
            f"grievance {number}: unit {actor.unit} may not {row.event.value}; "
            f"the lead unit is {case.lead_unit or 'not set'}"
        )


def decide(
    number: str,
    case: Case | None,
    command: Command,
    *,
    actor: Actor,
    at: datetime,
    facts: Facts | None = None,
) -> Record:
    """Check that `actor` may apply `command` to `case` at `at`; return the record to store.

    Order of checks: visibility, then the table (state), then role and unit, then guards.
    """
    facts = facts or Facts()
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    if case is not None and not can_see(actor, case):
        raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
    if case is not None and at < case.last_event_at and command.event is not Event.SLA_STEP:
        raise InvalidInput(
            f"grievance {number}: effective time {at.isoformat()} is before its last event "
            f"({case.last_event_at.isoformat()}); events are recorded in order"
        )
    state = case.state if case is not None else State.NEW
    row = transition_for(state, command.event)
    if row is None:
        raise IllegalTransition(
            number, state.value, command.event.value, (e.value for e in allowed_events(state))
        )
    _authorize(actor, row, case, number)
    if (
        isinstance(command, Close)
        and command.result in NO_FAULT_RESULTS
        and actor.role is not Role.SUPERVISOR
    ):
        raise PermissionDenied(
            f"grievance {number}: a {command.result.value} conclusion (无责/不属实) is closed by "
            "the unit supervisor, who thereby approves the no-fault statement"
        )
    if case is not None:
        for name in row.guards:
            reason = GUARDS[name](case, command, facts)
            if reason is not None:
                raise GuardFailed(number, command.event.value, name, reason)
    payload = command.payload()
    if command.event is Event.ACCEPT:
        payload = {**payload, "policy": facts.policy}
    elif isinstance(command, Reassign) and case is not None:
        payload = reassign_payload(case, command)
    return Record(
        number=number,
        event=command.event,
        from_state=state,
        to_state=row.target_from(state),
        at=at,
        actor=actor,
        payload=payload,
    )
