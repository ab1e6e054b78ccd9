"""典型案例: the grievances marked typical in a period (the latest marking of each), with what
the bulletin says of them: category, lead unit, result, the reviewer's summary and the
review's lessons (举一反三). Read from the audit log, where the marking is an event; the
partial index `ix_grievance_event_typical` (migration 0018) finds the markings without a
scan of the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from models.tables import Grievance, GrievanceEvent
from workflow.vocab import Event

_IS_TYPICAL = text(f"grievance_event.event = '{Event.TYPICAL.value}'")


@dataclass(frozen=True, slots=True)
class MarkedTypical:
    number: str
    category: str
    lead_unit: str | None
    result: str | None
    summary: str
    lessons: str | None  # the review's 举一反三, if it gave any
    marked_at: datetime


def marked_between(
    session: Session, start: datetime, end: datetime, limit: int = 50
) -> list[MarkedTypical]:
    """The grievances marked typical in [start, end), each with its latest summary of the
    period, in the order they were (last) marked; at most `limit`."""
    events = session.exec(
        select(GrievanceEvent.grievance_id, GrievanceEvent.at, GrievanceEvent.payload)
        .where(
            _IS_TYPICAL,  # as the partial index says it, literally: then the index serves
            col(GrievanceEvent.at) >= start,
            col(GrievanceEvent.at) < end,
        )
        .order_by(col(GrievanceEvent.at), col(GrievanceEvent.id))
    ).all()
    latest: dict[int, tuple[datetime, str]] = {}
    for grievance_id, at, payload in events:
        latest.pop(grievance_id, None)  # re-inserted: ordered by the latest marking
        latest[grievance_id] = (at, str(payload.get("summary", "")))
    ids = list(latest)[-limit:]
    if not ids:
        return []
    rows = session.exec(select(Grievance).where(col(Grievance.id).in_(ids))).all()
    facts = {row.id: row for row in rows}
    reviews = session.exec(
        select(GrievanceEvent.grievance_id, GrievanceEvent.payload)
        .where(col(GrievanceEvent.grievance_id).in_(ids), col(GrievanceEvent.event) == Event.REVIEW)
        .order_by(col(GrievanceEvent.seq))
    ).all()
    lessons = {grievance_id: payload.get("lessons") for grievance_id, payload in reviews}
    found = []
    for grievance_id in ids:
        row = facts[grievance_id]
        at, summary = latest[grievance_id]
        found.append(
            MarkedTypical(
                number=row.number,
                category=row.category.value,
                lead_unit=row.lead_unit,
                result=row.result.value if row.result is not None else None,
                summary=summary,
                lessons=lessons.get(grievance_id),
                marked_at=at,
            )
        )
    return found
