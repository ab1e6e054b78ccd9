"""The audit chain's rows: seals (the bureau-wide log of the grievances' heads), anchors and
verification runs, and the batched reads `audit verify` walks (grievances by id, their events,
timers and documents). None of these commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from models.audit_tables import AuditAnchor, AuditCheck, AuditSeal

__all__ = ["AuditAnchor", "AuditCheck", "AuditSeal"]
from models.prepared import Row
from models.tables import Document, Grievance, GrievanceEvent
from workflow.audit_chain import Head


def lock_events(session: Session) -> None:
    """Wait for every transaction that appended an event to end, and hold new ones and other
    sealers off until this one ends (PostgreSQL: SHARE ROW EXCLUSIVE conflicts with inserts
    and with itself; SQLite's write transactions are serial already): a seal then covers no
    id below which an event could still commit, and two watchdogs never fork the log."""
    if session.get_bind().dialect.name == "postgresql":
        statement = text("LOCK TABLE grievance_event IN SHARE ROW EXCLUSIVE MODE")
        session.exec(statement)  # type: ignore[call-overload]


def last_seal(session: Session) -> AuditSeal | None:
    return session.exec(select(AuditSeal).order_by(col(AuditSeal.id).desc()).limit(1)).first()


def seal_by_hash(session: Session, digest: str) -> AuditSeal | None:
    return session.exec(select(AuditSeal).where(AuditSeal.hash == digest)).first()


def seal_by_id(session: Session, seal_id: int) -> AuditSeal | None:
    return session.get(AuditSeal, seal_id)


def seal_at(session: Session, at: datetime) -> AuditSeal | None:
    """The last seal made at or before `at` (the head of that moment)."""
    query = select(AuditSeal).where(col(AuditSeal.sealed_at) <= at)
    return session.exec(query.order_by(col(AuditSeal.id).desc()).limit(1)).first()


def seals_after(session: Session, seal_id: int, limit: int) -> list[AuditSeal]:
    query = select(AuditSeal).where(col(AuditSeal.id) > seal_id).order_by(col(AuditSeal.id))
    return list(session.exec(query.limit(limit)).all())


def event_heads_after(
    session: Session, after_id: int, *, through_id: int | None = None, limit: int | None = None
) -> list[tuple[int, str, int, str]]:
    """(id, number, seq, hash) of the events with id > `after_id` (<= `through_id`)."""
    query = select(
        GrievanceEvent.id, GrievanceEvent.number, GrievanceEvent.seq, GrievanceEvent.hash
    ).where(col(GrievanceEvent.id) > after_id)
    if through_id is not None:
        query = query.where(col(GrievanceEvent.id) <= through_id)
    query = query.order_by(col(GrievanceEvent.id))
    if limit is not None:
        query = query.limit(limit)
    return [(int(i or 0), n, int(s), h) for i, n, s, h in session.exec(query).all()]


def add_seal(
    session: Session,
    *,
    prev_hash: str,
    digest: str,
    after_id: int,
    through_id: int,
    events: int,
    heads: Sequence[Head],
    at: datetime,
    note: str | None = None,
) -> AuditSeal:
    seal = AuditSeal(
        prev_hash=prev_hash,
        hash=digest,
        after_event_id=after_id,
        through_event_id=through_id,
        events=events,
        heads=[h.as_list() for h in heads],
        sealed_at=at,
        note=note,
    )
    session.add(seal)
    session.flush()
    return seal


def add_anchor(session: Session, seal: AuditSeal, *, at: datetime, by: str, purpose: str) -> int:
    if seal.id is None:
        raise ValueError("an unsaved seal cannot be anchored")
    anchor = AuditAnchor(
        seal_id=seal.id, hash=seal.hash, anchored_at=at, anchored_by=by, purpose=purpose
    )
    session.add(anchor)
    session.flush()
    return int(anchor.id or 0)


def anchors(session: Session) -> list[AuditAnchor]:
    return list(session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id))).all())


def seal_hashes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    query = select(AuditSeal.id, AuditSeal.hash).where(col(AuditSeal.id).in_(wanted))
    return {int(i or 0): h for i, h in session.exec(query).all()}


def add_check(
    session: Session,
    *,
    at: datetime,
    through_id: int,
    seal_id: int | None,
    checked: int,
    findings: int,
    incremental: bool,
) -> None:
    session.add(
        AuditCheck(
            checked_at=at,
            through_event_id=through_id,
            seal_id=seal_id,
            checked=checked,
            findings=findings,
            incremental=incremental,
        )
    )


def last_clean_check(session: Session) -> AuditCheck | None:
    query = select(AuditCheck).where(AuditCheck.findings == 0)
    return session.exec(query.order_by(col(AuditCheck.id).desc()).limit(1)).first()


def last_full_check(session: Session) -> AuditCheck | None:
    query = select(AuditCheck).where(col(AuditCheck.incremental).is_(False))
    return session.exec(query.order_by(col(AuditCheck.id).desc()).limit(1)).first()


# ----------------------------------------------------------------------- what verify walks
# Read as plain rows (Core, the columns' own types: zones, enums, JSON), not ORM objects:
# verify reads every row of three tables, and building ORM objects cost more than the reading.
_GRIEVANCE = Grievance.metadata.tables["grievance"]
_EVENT = Grievance.metadata.tables["grievance_event"]
_TIMER = Grievance.metadata.tables["sla_timer"]


def _rows(session: Session, query: Any) -> list[Row]:
    return list(session.connection().execute(query))


def grievances_after(session: Session, after_id: int, limit: int) -> list[Row]:
    """Grievance rows (every column) after id `after_id`, by id."""
    query = _GRIEVANCE.select().where(_GRIEVANCE.c.id > after_id).order_by(_GRIEVANCE.c.id)
    return _rows(session, query.limit(limit))


def grievance_ids_with_events_after(
    session: Session, event_id: int, after_grievance: int, limit: int
) -> list[int]:
    """The grievances with an event after `event_id` (the incremental verify's), by id."""
    query = (
        select(GrievanceEvent.grievance_id)
        .where(
            col(GrievanceEvent.id) > event_id, col(GrievanceEvent.grievance_id) > after_grievance
        )
        .distinct()
        .order_by(col(GrievanceEvent.grievance_id))
        .limit(limit)
    )
    return [int(i) for i in session.exec(query).all()]


def grievances_by_id(session: Session, ids: Sequence[int]) -> list[Row]:
    query = _GRIEVANCE.select().where(_GRIEVANCE.c.id.in_(list(ids)))
    return _rows(session, query.order_by(_GRIEVANCE.c.id))


def grievance_by_number(session: Session, number: str) -> Row | None:
    found = _rows(session, _GRIEVANCE.select().where(_GRIEVANCE.c.number == number))
    return found[0] if found else None


def events_of_many(session: Session, ids: Sequence[int]) -> dict[int, list[Row]]:
    """The event rows of several grievances, each list in seq order."""
    result: dict[int, list[Row]] = {i: [] for i in ids}
    query = (
        _EVENT.select()
        .where(_EVENT.c.grievance_id.in_(list(ids)))
        .order_by(_EVENT.c.grievance_id, _EVENT.c.seq)
    )
    for event in _rows(session, query):
        result.setdefault(event.grievance_id, []).append(event)
    return result


def timers_of_many(session: Session, ids: Sequence[int]) -> dict[int, list[Row]]:
    """The timer rows of several grievances (what `sla_timers.timer_from_row` reads)."""
    result: dict[int, list[Row]] = {i: [] for i in ids}
    query = _TIMER.select().where(_TIMER.c.grievance_id.in_(list(ids)))
    for timer in _rows(session, query):
        result.setdefault(timer.grievance_id, []).append(timer)
    return result


def documents_of_many(session: Session, ids: Sequence[int]) -> dict[int, list[Document]]:
    result: dict[int, list[Document]] = {i: [] for i in ids}
    query = (
        select(Document)
        .where(col(Document.grievance_id).in_(list(ids)))
        .order_by(col(Document.grievance_id), col(Document.id))
    )
    for document in session.exec(query).all():
        result.setdefault(document.grievance_id, []).append(document)
    return result


def numbers_with_events(session: Session, numbers: Iterable[str]) -> set[str]:
    """Which of these numbers still have a grievance row."""
    wanted = list(numbers)
    query = select(Grievance.number).where(col(Grievance.number).in_(wanted))
    return set(session.exec(query).all())


def orphan_event_numbers(session: Session, limit: int = 100) -> list[str]:
    """Numbers of events whose grievance row is gone (SQLite without foreign keys)."""
    query = (
        select(GrievanceEvent.number)
        .where(~col(GrievanceEvent.grievance_id).in_(select(Grievance.id)))
        .distinct()
        .limit(limit)
    )
    return list(session.exec(query).all())
