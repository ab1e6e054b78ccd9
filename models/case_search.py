"""Grievances found by one exact key (number, channel reference, phone, plate), each through
its index (migration 0018), and the open or recently closed grievances that share a driver's
phone or plate (the duplicate hint at intake).

None of these commit; values arrive normalised (`workflow.validation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from models.case_rows import visible_to
from models.tables import Grievance
from workflow.machine import OPEN_STATES
from workflow.vocab import State

FindKey = Literal["number", "ref", "phone", "plate"]
_COLUMNS = {
    "number": Grievance.number,
    "ref": Grievance.ref,
    "phone": Grievance.phone,
    "plate": Grievance.plate,
}
# what a duplicate may be merged into or looked up against: open, or closed and not yet
# finished (closed, revisited) within the window the caller gives
_RECENTLY_CLOSED = (State.CLOSED, State.REVISITED, State.REVIEWED)


def find_rows(
    session: Session,
    key: FindKey,
    value: str,
    *,
    visible_to_unit: str | None = None,
    limit: int = 100,
) -> Sequence[Grievance]:
    """Grievances whose `key` equals `value` exactly, oldest first; with `visible_to_unit`,
    only those the unit leads, co-handles or first handled."""
    query = select(Grievance).where(col(_COLUMNS[key]) == value)
    if visible_to_unit is not None:
        query = query.where(visible_to(visible_to_unit))
    query = query.order_by(col(Grievance.accepted_at), col(Grievance.id)).limit(limit)
    return session.exec(query).all()


def same_driver_rows(
    session: Session,
    *,
    phone: str,
    plate: str | None,
    closed_since: datetime,
    exclude: str,
    limit: int = 20,
) -> list[Grievance]:
    """Grievances other than `exclude` with the same phone or plate that are open, or were
    closed at or after `closed_since`; oldest first. One statement per key, each through its
    own index (with an OR of the two, SQLite walks the state index: every open grievance)."""
    current = or_(
        col(Grievance.state).in_(OPEN_STATES),
        and_(
            col(Grievance.state).in_(_RECENTLY_CLOSED),
            col(Grievance.closed_at) >= closed_since,
        ),
    )
    keys = [(Grievance.phone, phone)] + ([(Grievance.plate, plate)] if plate else [])
    found: dict[str, Grievance] = {}
    for column, value in keys:
        query = (
            select(Grievance)
            .where(col(column) == value, current, col(Grievance.number) != exclude)
            .order_by(col(Grievance.accepted_at), col(Grievance.id))
            .limit(limit)
        )
        for row in session.exec(query).all():
            found.setdefault(row.number, row)
    ordered = sorted(found.values(), key=lambda row: (row.accepted_at, row.id or 0))
    return ordered[:limit]


def same_driver_rows_many(
    session: Session,
    *,
    phones: Sequence[str],
    plates: Sequence[str],
    closed_since: datetime,
) -> list[Grievance]:
    """The grievances with one of `phones` or `plates` that are open, or were closed at or
    after `closed_since` (the earliest window of the callers'), oldest first: the candidates
    of many waiting grievances at once (the desk's worklist), one statement per key and
    chunk of 500 values, each through its index. The caller matches them to its grievances."""
    current = or_(
        col(Grievance.state).in_(OPEN_STATES),
        and_(
            col(Grievance.state).in_(_RECENTLY_CLOSED),
            col(Grievance.closed_at) >= closed_since,
        ),
    )
    found: dict[str, Grievance] = {}
    for column, values in ((Grievance.phone, phones), (Grievance.plate, plates)):
        wanted = sorted(set(values))
        for start in range(0, len(wanted), 500):
            query = select(Grievance).where(col(column).in_(wanted[start : start + 500]), current)
            for row in session.exec(query).all():
                found.setdefault(row.number, row)
    return sorted(found.values(), key=lambda row: (row.accepted_at, row.id or 0))
