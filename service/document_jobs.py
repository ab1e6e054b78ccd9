"""Document jobs: which record issues a document (a review its 复盘报告, a 无责/不属实 close its
无责说明), the job row its transaction queues, and the list of jobs. `service.documents`
renders and stores them after the commit (`issue`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from models.prepared import Prepared, bound, params
from models.tables import DocumentJob
from service.engine import Engine
from workflow.case import Case, Record
from workflow.commands import NO_FAULT_RESULTS
from workflow.documents import NO_FAULT, REVIEW
from workflow.timeutil import iso, to_utc
from workflow.vocab import Event

PENDING, DONE, FAILED = "pending", "done", "failed"
JOB_STATUSES = (PENDING, DONE, FAILED)


def issued_kind(case: Case, record: Record) -> str | None:
    """The document a record issues: a review its 复盘报告, a close as 无责 or 不属实 its
    无责说明 (`case` is the case after the record); None for every other record."""
    if record.event is Event.REVIEW:
        return REVIEW
    if record.event is Event.CLOSE and case.result in NO_FAULT_RESULTS:
        return NO_FAULT
    return None


# built once: constructing `insert(...).values(...)` on every call cost more than the insert
_JOB = DocumentJob.metadata.tables["document_job"]
_JOB_COLUMNS = (
    "grievance_id",
    "number",
    "kind",
    "version",
    "language",
    "requested_by",
    "requested_at",
    "status",
    "attempts",
)
_INSERT_JOB = Prepared(insert(_JOB).values(bound(_JOB, _JOB_COLUMNS)))


def queue(
    engine: Engine,
    session: Session,
    row_id: int,
    version: int,
    case: Case,
    record: Record,
    recorded_at: datetime,
) -> bool:
    """In the caller's transaction: queue the documents `record` issues (a job row; see
    `issue`). `version` is the one the record created. True if a job was queued."""
    kind = issued_kind(case, record)
    if kind is None:
        return False
    job = {
        "grievance_id": row_id,
        "number": case.number,
        "kind": kind,
        "version": version,
        "language": engine.notify.language,
        "requested_by": record.actor.name,
        "requested_at": to_utc(recorded_at),
        "status": PENDING,
        "attempts": 0,
    }
    _INSERT_JOB.execute(session, params(job))
    return True


def jobs(engine: Engine, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Document jobs, newest first (all, or those with `status`)."""
    query = select(DocumentJob).order_by(col(DocumentJob.id).desc()).limit(limit)
    if status is not None:
        query = query.where(DocumentJob.status == status)
    with engine.db.read() as session:
        return [
            {
                "id": job.id,
                "number": job.number,
                "kind": job.kind,
                "version": job.version,
                "language": job.language,
                "status": job.status,
                "attempts": job.attempts,
                "requested_by": job.requested_by,
                "requested_at": iso(job.requested_at),
                "done_at": iso(job.done_at) if job.done_at else None,
                "last_error": job.last_error,
            }
            for job in session.exec(query).all()
        ]
