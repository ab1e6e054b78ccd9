"""UPDATE statements that write only the columns a write changed, each prepared once per table
and set of columns (the grievance and the timer writes use them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update

from models.prepared import Prepared, bound
from models.tables import Grievance

_GRIEVANCE = Grievance.metadata.tables["grievance"]

# An UPDATE per table and set of changed columns (an event changes a few, and always the same
# few: a sign sets state, last_event_at, signed_at and first_handler_unit), each prepared
# once. The sets are few; past the cap (never seen), the caller writes every column.
_UPDATES: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_UPDATES_CAP = 256


def update_of(table: Any, columns: tuple[str, ...]) -> Prepared | None:
    """UPDATE of `columns` and the row's version, where id = w_id (and, for a grievance,
    version = w_version: the compare-and-set)."""
    key = (table.name, columns)
    statement = _UPDATES.get(key)
    if statement is None and len(_UPDATES) < _UPDATES_CAP:
        where = [table.c.id == bindparam("w_id")]
        if table is _GRIEVANCE:
            where.append(table.c.version == bindparam("w_version"))
        extra = ("version", "updated_at") if table is _GRIEVANCE else ("version",)
        statement = _UPDATES[key] = Prepared(
            update(table).where(*where).values(bound(table, (*columns, *extra)))
        )
    return statement
