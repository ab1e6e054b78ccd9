"""The SLA board (时限看板) as the watchdog publishes it: every running timer read with one
indexed query (`models.open_work.running_timers`), each made a row at the instant
(`workflow.sla_board`: card, business time left or overdue, step reached), split per unit
and for the desk, rendered as Markdown in the configured language. No Prefect here: the
flow adds the case runs' addresses and publishes (`flows.sla_watchdog`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

import templates
from models import open_work
from service import outbox
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.policies import Policy, Target
from workflow.sla_board import ROWS, Board, Running, boards_of, markdown
from workflow.sla_calendars import Calendars


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
    entries: list[tuple[Running, Target]] = []
    unreadable: set[str] = set()
    policies: dict[str, Policy | None] = {}
    calendars = engine.calendars
    with engine.db.read() as session:
        running = open_work.running_timers(session)
        for number, unit, key, timer in running:
            if key not in policies:
                policies[key] = _policy(engine, key, session)
            target = _target(policies[key], timer.target)
            if target is None or not _known(calendars, timer.calendar):
                unreadable.add(number)
                continue
            entries.append((Running(number, unit, timer), target))
        units = {code: unit.name for code, unit in outbox.load_units(session).items()}
    made = boards_of(entries, calendars, at, units, limit=limit)
    return Boards(at, made, units, tuple(sorted(unreadable)))


def _policy(engine: Engine, key: str, session: Session) -> Policy | None:
    try:
        return engine.policy(key, session)
    except (InvalidInput, KeyError):
        return None


def _target(policy: Policy | None, name: str) -> Target | None:
    try:
        return None if policy is None else policy.target(name)
    except KeyError:
        return None


def _known(calendars: Calendars, calendar_id: str) -> bool:
    try:
        calendars.of(calendar_id)
    except KeyError:
        return False
    return True


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


__all__ = ["Boards", "build", "render"]
