"""Rebuild a case from its audit log and check each step against the transition table."""

from __future__ import annotations

from collections.abc import Iterable

from workflow.case import Case, Record, evolve
from workflow.machine import transition_for
from workflow.vocab import State


class ReplayError(Exception):
    """The audit log does not replay: a record the table does not allow, or out of order."""


def replay(records: Iterable[Record]) -> Case | None:
    """Fold the records through `evolve`, checking that each move is a row of the table."""
    case: Case | None = None
    for record in records:
        state = case.state if case is not None else State.NEW
        if record.from_state is not state:
            raise ReplayError(
                f"{record.number}: {record.event.value} recorded from {record.from_state.value}"
                f" but the case was {state.value}"
            )
        row = transition_for(state, record.event)
        if row is None or row.target_from(state) is not record.to_state:
            raise ReplayError(
                f"{record.number}: {record.event.value} from {state.value} to "
                f"{record.to_state.value} is not in the transition table"
            )
        case = evolve(case, record)
    return case
