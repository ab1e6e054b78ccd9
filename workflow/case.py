"""The grievance as pure data (`Case`), the facts of one event (`Record`), and `evolve`.

`evolve` is the only way a case changes: live operations and audit-log replay both fold
records through it, so the stored row always equals the replay of its audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflow.actor import Actor
from workflow.values import replace
from workflow.vocab import (
    Category,
    Channel,
    CloseResult,
    Event,
    RequestType,
    Satisfaction,
    State,
)

TERMINAL_STATES = frozenset({State.REVIEWED, State.MERGED})


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    state: State
    channel: Channel
    ref: str
    type: RequestType
    category: Category
    name: str
    phone: str
    plate: str | None
    description: str
    amount_fen: int | None
    urgent: bool
    accepted_at: datetime
    last_event_at: datetime
    policy: str  # the time-limit policy version it was accepted under, e.g. "2142@1"
    respondent: str | None = None  # the company, platform or office complained about
    lead_unit: str | None = None
    co_units: tuple[str, ...] = ()
    first_handler_unit: str | None = None
    assigned_at: datetime | None = None
    signed_at: datetime | None = None
    return_count: int = 0
    reassign_count: int = 0
    feedback_count: int = 0
    last_feedback_at: datetime | None = None
    pending_extension_days: int | None = None
    extensions_granted: int = 0
    extension_days: int = 0
    suspension_count: int = 0
    result: CloseResult | None = None
    closed_at: datetime | None = None
    recovered_fen: int | None = None
    satisfaction: Satisfaction | None = None
    revisited_at: datetime | None = None
    cycle: int = 1
    reviewed_at: datetime | None = None
    merged_into: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def units(self) -> frozenset[str]:
        """Every unit with a stake in the case: lead, co-handling and first handler."""
        units = set(self.co_units)
        units.update(u for u in (self.lead_unit, self.first_handler_unit) if u)
        return frozenset(units)


@dataclass(frozen=True, slots=True)
class Record:
    """One thing that happened to a grievance, as written to the audit log."""

    number: str
    event: Event
    from_state: State
    to_state: State
    at: datetime
    actor: Actor
    payload: dict[str, Any]


def to_fen(yuan: str | None) -> int | None:
    """'3500.5' -> 350050. Amounts are stored in fen (integer cents)."""
    return None if yuan is None else int(Decimal(yuan) * 100)


def evolve(case: Case | None, record: Record) -> Case:
    """Apply one record to a case (None before acceptance) and return the new case."""
    p, at = record.payload, record.at
    if record.event is Event.ACCEPT:
        return Case(
            number=record.number,
            state=record.to_state,
            channel=Channel(p["channel"]),
            ref=p["ref"],
            type=RequestType(p["type"]),
            category=Category(p["category"]),
            name=p["name"],
            phone=p["phone"],
            plate=p.get("plate"),
            description=p["description"],
            amount_fen=to_fen(p.get("amount")),
            urgent=bool(p.get("urgent", False)),
            accepted_at=at,
            last_event_at=at,
            policy=p["policy"],
            respondent=p.get("respondent"),
        )
    if case is None:
        raise ValueError(f"{record.number}: {record.event.value} before accept")
    if record.event is Event.SLA_STEP:
        # The watchdog's record of a fired step: the case is unchanged, and its effective
        # time does not move (a person may still record what happened before the step).
        return replace(case, state=record.to_state)
    # what the event changes, gathered, then the case copied once
    changes: dict[str, Any] = {"state": record.to_state, "last_event_at": at}
    match record.event:
        case Event.ASSIGN:
            changes.update(lead_unit=p["unit"], co_units=tuple(p["co_units"]), assigned_at=at)
        case Event.REASSIGN:
            changes.update(
                lead_unit=p["unit"],
                co_units=tuple(p["co_units"]),
                assigned_at=at,
                reassign_count=case.reassign_count + 1,
            )
        case Event.SIGN:
            changes.update(
                signed_at=at, first_handler_unit=case.first_handler_unit or case.lead_unit
            )
        case Event.RETURN:
            changes.update(return_count=case.return_count + 1)
        case Event.FEEDBACK:
            changes.update(feedback_count=case.feedback_count + 1, last_feedback_at=at)
        case Event.REQUEST_EXTENSION:
            changes.update(pending_extension_days=int(p["days"]))
        case Event.APPROVE_EXTENSION:
            changes.update(
                extension_days=case.extension_days + (case.pending_extension_days or 0),
                extensions_granted=case.extensions_granted + 1,
                pending_extension_days=None,
            )
        case Event.REJECT_EXTENSION:
            changes.update(pending_extension_days=None)
        case Event.SUSPEND:
            changes.update(suspension_count=case.suspension_count + 1)
        case Event.RESUME:
            pass
        case Event.CLOSE:
            changes.update(
                result=CloseResult(p["result"]),
                closed_at=at,
                recovered_fen=to_fen(p.get("recovered")),
                pending_extension_days=None,  # a request still open at closing lapses
            )
        case Event.REVISIT:
            changes.update(satisfaction=Satisfaction(p["satisfaction"]), revisited_at=at)
        case Event.REDO:
            changes.update(
                cycle=case.cycle + 1,
                result=None,
                closed_at=None,
                recovered_fen=None,
                satisfaction=None,
                revisited_at=None,
            )
        case Event.RECALCULATE:
            pass  # timers only: the case itself does not change
        case Event.TYPICAL:
            pass  # 典型案例: recorded in the audit log only (the bulletin reads it there)
        case Event.ATTACH:
            pass  # 上传证据: the file's hash, type, size and name are in the audit log only
        case Event.REVIEW:
            changes.update(reviewed_at=at)
        case Event.MERGE:
            changes.update(merged_into=p["into"])
        case Event.AMEND:
            changes.update(
                type=RequestType(p["type"]) if p.get("type") else case.type,
                category=Category(p["category"]) if p.get("category") else case.category,
                description=p.get("description") or case.description,
                amount_fen=to_fen(p["amount"]) if p.get("amount") is not None else case.amount_fen,
                respondent=p.get("respondent") or case.respondent,
            )
        case _:
            raise ValueError(f"{record.number}: no evolution rule for {record.event.value}")
    return replace(case, **changes)
