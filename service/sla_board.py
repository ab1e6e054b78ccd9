"""The SLA board (时限看板) as the watchdog publishes it: every running timer read with one
indexed query (`models.open_work.running_timers`), each made a row at the instant
(`workflow.sla_board`: card, business time left or overdue, step reached), split per unit
and for the desk, rendered as Markdown in the configured language. No Prefect here: the
flow adds the case runs' addresses and publishes (`flows.sla_watchdog`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import templates
from models import open_work
from service import outbox
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.policies import Policy
from workflow.sla_board import (
    ROWS,
    Board,
    BoardRow,
    Running,
    boards,
    markdown,
    row_of,
)

Links = Callable[[Sequence[str]], Mapping[str, str]]  # grievance numbers -> case-run address


@dataclass(frozen=True, slots=True)
class Boards:
    """The boards of one instant: the desk's and each unit's, with the unit names."""

    at: datetime
    boards: Mapping[str, Board]  # by party: a unit's code, or DESK
    names: Mapping[str, str]  # unit names by code (masked when rendered)
    unreadable: tuple[str, ...]  # grievances whose policy or calendar did not resolve

    def numbers(self) -> list[str]:
        """The grievance numbers any board shows (the ones that need a link)."""
        return sorted({row.number for board in self.boards.values() for row in board.rows})


def build(engine: Engine, at: datetime, *, limit: int = ROWS) -> Boards:
    """The boards at `at`: one read transaction, one query for the timers, one for the units.
    A timer whose policy version or calendar this process cannot resolve is left out and
    named in `unreadable` (the watchdog reports such a grievance to the supervisors)."""
    rows: list[BoardRow] = []
    unreadable: set[str] = set()
    policies: dict[str, Policy | None] = {}
    calendars = engine.calendars
    with engine.db.read() as session:
        running = open_work.running_timers(session)
        for number, unit, key, timer in running:
            if key not in policies:
                try:
                    policies[key] = engine.policy(key, session)
                except (InvalidInput, KeyError):
                    policies[key] = None
            policy = policies[key]
            try:
                if policy is None:
                    raise KeyError(key)
                target = policy.target(timer.target)
                rows.append(row_of(Running(number, unit, timer), target, calendars, at))
            except (InvalidInput, KeyError):
                unreadable.add(number)
        units = {code: unit.name for code, unit in outbox.load_units(session).items()}
    return Boards(at, boards(rows, at, units, limit=limit), units, tuple(sorted(unreadable)))


def render(
    built: Boards, *, links: Mapping[str, str] | None = None, language: str | None = None
) -> dict[str, tuple[Board, str]]:
    """Each board's artifact key with the board and its Markdown."""
    chosen = templates.language(language)
    return {
        board.key: (
            board,
            markdown(board, names=built.names, links=links or {}, language=chosen),
        )
        for board in built.boards.values()
    }


__all__ = ["Boards", "Links", "build", "render"]
