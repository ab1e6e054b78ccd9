"""Repeat complainants and respondents: the phones and the respondents that come back in a
period's cohort, with the grievances' numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.cohort import in_cohort
from models.tables import Grievance
from workflow.measures import Repeat
from workflow.privacy import mask_phone

_g = Grievance


def _repeats(
    session: Session,
    column: Any,
    start: datetime,
    end: datetime,
    min_count: int,
    limit: int,
) -> list[tuple[str, int, tuple[str, ...]]]:
    """(value, count, numbers) of the values of `column` that come back in the cohort, most
    frequent first; the numbers in number order (acceptance day, then registration order).

    One grouped statement: the numbers come joined by commas (group_concat on SQLite,
    string_agg on PostgreSQL), which costs less than a second pass over the cohort."""
    query = (
        select(column, func.count(), func.aggregate_strings(col(_g.number), ","))
        .where(in_cohort(start, end), column.is_not(None))
        .group_by(column)
        .having(func.count() >= max(min_count, 1))
        .order_by(func.count().desc(), column)
        .limit(limit)
    )
    return [
        (str(value), int(n), tuple(sorted(str(joined).split(","))))
        for value, n, joined in session.connection().execute(query)
    ]


def repeat_complainants(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    min_count: int = 2,
    limit: int = 20,
) -> list[Repeat]:
    """Phones with at least `min_count` grievances in the cohort, most frequent first; `who`
    is the masked phone (138****5678), never the stored one."""
    found = _repeats(session, col(_g.phone), start, end, min_count, limit)
    return [Repeat(mask_phone(phone), n, numbers) for phone, n, numbers in found]


def repeat_respondents(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    min_count: int = 2,
    limit: int = 20,
) -> list[Repeat]:
    """Respondents (companies, platforms) named by at least `min_count` grievances in the
    cohort, most frequent first."""
    found = _repeats(session, col(_g.respondent), start, end, min_count, limit)
    return [Repeat(name, n, numbers) for name, n, numbers in found]


__all__ = ["repeat_complainants", "repeat_respondents"]
